//! `BTRFS_TO_S3_CMD` overrides `tool.cmd`: a JSON array when it starts with `[`, else a
//! shell-quoted command line; anything malformed is an error naming the variable.

use std::path::PathBuf;

use b2s3_harness::config::{CmdSource, Config, ConfigError, CMD_ENV_VAR};

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/test.toml")
}

fn load_with_cmd(value: &str) -> Result<Config, ConfigError> {
    Config::load_with_env(&shipped(), |name| {
        (name == CMD_ENV_VAR).then(|| value.to_string())
    })
}

fn rejected(value: &str) -> String {
    let err = load_with_cmd(value).expect_err("override should be rejected");
    assert_eq!(err.env_var(), Some(CMD_ENV_VAR), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(CMD_ENV_VAR),
        "variable not named: {message}"
    );
    message
}

#[test]
fn a_json_array_replaces_the_configured_command() {
    let config =
        load_with_cmd(r#"  ["/usr/bin/python3.11", "-m", "btrfs_to_s3", "a b"] "#).expect("load");
    assert_eq!(
        config.tool.cmd,
        ["/usr/bin/python3.11", "-m", "btrfs_to_s3", "a b"]
    );
    assert_eq!(config.tool.cmd_source, CmdSource::EnvVar);
}

#[test]
fn a_shell_like_string_is_split_by_quoting_rules() {
    let config = load_with_cmd(r#"'/opt/my tool/b2s3' --mode "x y" plain\ word"#).expect("load");
    assert_eq!(
        config.tool.cmd,
        ["/opt/my tool/b2s3", "--mode", "x y", "plain word"]
    );
    assert_eq!(config.tool.cmd_source, CmdSource::EnvVar);
}

#[test]
fn a_relative_program_with_a_slash_is_resolved_against_the_current_directory() {
    let config = load_with_cmd("target/debug/b2s3-ref").expect("load");
    let expected = std::env::current_dir()
        .unwrap()
        .join("target/debug/b2s3-ref");
    assert_eq!(config.tool.cmd, [expected.to_str().unwrap()]);
    let config = load_with_cmd("python3 -m btrfs_to_s3").expect("load");
    assert_eq!(
        config.tool.cmd[0], "python3",
        "a bare name is left for PATH lookup"
    );
}

#[test]
fn an_unset_variable_keeps_the_configured_command() {
    let config = Config::load_with_env(&shipped(), |_| None).expect("load");
    assert_eq!(config.tool.cmd, ["python3", "-m", "btrfs_to_s3"]);
    assert_eq!(config.tool.cmd_source, CmdSource::ConfigFile);
}

#[test]
fn malformed_json_is_rejected_naming_the_variable() {
    assert!(rejected(r#"["python3", "-m""#).contains("JSON"));
    rejected(r#"["python3", 1]"#);
    rejected("[]");
    rejected(r#"[""]"#);
}

#[test]
fn an_unbalanced_quote_is_rejected_naming_the_variable() {
    assert!(rejected(r#"python3 -m 'btrfs_to_s3"#).contains("shell quoting"));
}

#[test]
fn an_empty_or_blank_value_is_rejected_naming_the_variable() {
    assert!(rejected("").contains("empty"));
    assert!(rejected("   \t").contains("empty"));
    rejected("''");
}
