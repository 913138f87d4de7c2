//! Loading harness config files: the shipped files load, defaults apply, and every kind
//! of bad config is an error naming the file and the dotted key, never a panic.

use std::path::{Path, PathBuf};

use b2s3_harness::config::{
    CmdSource, Config, ConfigError, KeyProblem, RunId, S3Endpoint, StaticCredentials,
};
use b2s3_harness::gen::plan::VerifyMode;

const MINIMAL: &str = r#"
[tool]
cmd = ["python3", "-m", "btrfs_to_s3"]
[s3]
bucket = "b2s3-test"
[paths]
run_dir = "run"
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `text` as `<tmp>/conf/test.toml` and loads it with no environment.
fn load_text(text: &str) -> (tempfile::TempDir, PathBuf, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("conf")).expect("mkdir");
    let file = dir.path().join("conf/test.toml");
    std::fs::write(&file, text).expect("write config");
    let result = Config::load_with_env(&file, |_| None);
    (dir, file, result)
}

/// `MINIMAL` with `line` added at the end of `[section]` (the section added if absent).
fn with_line(section: &str, line: &str) -> String {
    let header = format!("[{section}]\n");
    let Some(at) = MINIMAL.find(&header) else {
        return format!("{MINIMAL}\n{header}{line}\n");
    };
    let body = at + header.len();
    let end = MINIMAL[body..]
        .find("\n[")
        .map_or(MINIMAL.len(), |i| body + i + 1);
    format!("{}{line}\n{}", &MINIMAL[..end], &MINIMAL[end..])
}

/// Loads `text`, expects an error about `key`, checks the message names file and key.
fn key_error(text: &str, key: &str) -> KeyProblem {
    let (_dir, file, result) = load_text(text);
    let err = result.expect_err("config should be rejected");
    assert_eq!(err.key(), Some(key), "wrong key in error: {err}");
    let message = err.to_string();
    assert!(
        message.contains(&file.display().to_string()),
        "file not named: {message}"
    );
    assert!(
        message.contains(&format!("`{key}`")),
        "key not named: {message}"
    );
    err.problem().cloned().expect("key problem")
}

#[test]
fn the_shipped_test_config_names_the_python_tool_and_a_run_dir_beside_config() {
    let config = Config::load_with_env(&repo().join("config/test.toml"), |_| None).expect("load");
    assert_eq!(config.tool.cmd, ["python3", "-m", "btrfs_to_s3"]);
    assert_eq!(config.tool.config_flag, "--config");
    assert_eq!(config.tool.cmd_source, CmdSource::ConfigFile);
    assert_eq!(config.paths.run_dir, repo().join("run"));
    assert_eq!(config.paths.logs_dir, repo().join("run/logs"));
    assert_eq!(config.s3.endpoint, S3Endpoint::Embedded);
    assert_eq!(config.btrfs.subvolumes, ["data", "root", "home"]);
}

#[test]
fn the_shipped_reference_config_resolves_the_binary_against_the_config_directory() {
    let config =
        Config::load_with_env(&repo().join("config/reference.toml"), |_| None).expect("load");
    let expected = repo().join("target/debug/b2s3-ref");
    assert_eq!(config.tool.cmd, [expected.to_str().unwrap()]);
}

#[test]
fn a_minimal_config_gets_the_documented_defaults() {
    let (dir, _file, result) = load_text(MINIMAL);
    let c = result.expect("minimal config loads");
    assert_eq!(c.tool.config_flag, "--config");
    assert!(c.tool.env.is_empty() && c.tool.cwd.is_none() && c.tool.pythonpath.is_none());
    assert_eq!(c.s3.endpoint, S3Endpoint::Aws);
    assert_eq!(c.s3.credentials, None);
    assert_eq!(
        (c.s3.test_prefix.as_str(), c.s3.region.as_str()),
        ("b2s3-harness", "us-east-1")
    );
    assert_eq!(
        (c.s3.storage_class_chunks.as_str(), c.s3.sse.as_str()),
        ("STANDARD", "AES256")
    );
    assert_eq!(c.paths.run_dir, dir.path().join("conf/run"));
    assert_eq!(c.paths.logs_dir, dir.path().join("conf/run/logs"));
    assert_eq!(c.btrfs.image_size_bytes, 2 << 30);
    assert!(c.btrfs.mount_options.is_empty());
    let s = c.default_tool_settings();
    assert_eq!(
        (s.chunk_size_bytes, s.concurrency, s.retain),
        (1 << 20, 4, 2)
    );
    assert_eq!((s.full_every_days, s.incremental_every_days), (180, 7));
    assert_eq!((s.spool_enabled, s.spool_size_bytes), (false, 64 << 20));
    assert_eq!(
        (s.verify_mode, s.sample_max_files),
        (VerifyMode::Full, 1000)
    );
    assert_eq!((s.wait_for_restore, s.restore_timeout_seconds), (true, 600));
    assert_eq!(c.restore.restore_tier, "Standard");
    assert!(c.profiles.is_empty());
}

#[test]
fn a_url_endpoint_gets_test_credentials_unless_keys_are_given() {
    let (_d, _f, result) = load_text(&with_line("s3", "endpoint = \"http://127.0.0.1:9000/\""));
    let c = result.expect("load");
    assert_eq!(
        c.s3.endpoint,
        S3Endpoint::Url("http://127.0.0.1:9000".to_string())
    );
    let test = StaticCredentials {
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
    };
    assert_eq!(c.s3.credentials, Some(test));
    let keys =
        "endpoint = \"https://[::1]:9000\"\naccess_key_id = \"AK\"\nsecret_access_key = \"SK\"";
    let (_d, _f, result) = load_text(&with_line("s3", keys));
    let c = result.expect("load");
    assert_eq!(c.s3.credentials.unwrap().access_key_id, "AK");
}

#[test]
fn tool_env_and_profiles_accept_any_keys_and_keep_them() {
    let text = format!(
        "{}\n[tool.env]\nANY_NAME = \"x y\"\n[profile.nightly]\ncases = 500\nwhatever = {{ a = 1 }}\n",
        MINIMAL
    );
    let (_d, _f, result) = load_text(&text);
    let c = result.expect("load");
    assert_eq!(c.tool.env.get("ANY_NAME").map(String::as_str), Some("x y"));
    assert_eq!(c.profiles["nightly"]["cases"].as_integer(), Some(500));
}

#[test]
fn absolute_tool_paths_are_kept_and_relative_ones_are_rejected() {
    let (_d, _f, result) = load_text(&with_line(
        "tool",
        "pythonpath = \"/src/b2s3\"\ncwd = \"/tmp\"",
    ));
    let c = result.expect("load");
    assert_eq!(c.tool.pythonpath, Some(PathBuf::from("/src/b2s3")));
    assert_eq!(c.tool.cwd, Some(PathBuf::from("/tmp")));
    let problem = key_error(
        &with_line("tool", "pythonpath = \"src/b2s3\""),
        "tool.pythonpath",
    );
    assert!(
        matches!(problem, KeyProblem::Invalid { ref expected, .. } if expected.contains("absolute"))
    );
    key_error(&with_line("tool", "cwd = \"relative\""), "tool.cwd");
}

#[test]
fn a_missing_required_key_or_section_is_named() {
    let no_bucket = MINIMAL.replace("bucket = \"b2s3-test\"", "");
    assert!(matches!(
        key_error(&no_bucket, "s3.bucket"),
        KeyProblem::Missing { .. }
    ));
    let no_cmd = MINIMAL.replace("cmd = [\"python3\", \"-m\", \"btrfs_to_s3\"]", "");
    assert!(matches!(
        key_error(&no_cmd, "tool.cmd"),
        KeyProblem::Missing { .. }
    ));
    let no_paths = MINIMAL.replace("[paths]\nrun_dir = \"run\"", "");
    assert!(matches!(
        key_error(&no_paths, "paths"),
        KeyProblem::Missing { .. }
    ));
    let no_tool = MINIMAL.replace("[tool]\ncmd = [\"python3\", \"-m\", \"btrfs_to_s3\"]", "");
    assert!(matches!(
        key_error(&no_tool, "tool"),
        KeyProblem::Missing { .. }
    ));
}

#[test]
fn a_wrong_type_names_the_key_the_expected_and_the_found_type() {
    let problem = key_error(
        &with_line("backup", "chunk_size_bytes = \"1MiB\""),
        "backup.chunk_size_bytes",
    );
    assert_eq!(
        problem,
        KeyProblem::WrongType {
            expected: "an integer".into(),
            found: "string".into()
        }
    );
    key_error(
        &with_line("restore", "wait_for_restore = \"yes\""),
        "restore.wait_for_restore",
    );
    key_error(
        &with_line("btrfs", "subvolumes = \"data\""),
        "btrfs.subvolumes",
    );
    key_error(&MINIMAL.replace("\"-m\"", "1"), "tool.cmd[1]");
    key_error(&format!("backup = 3\n{MINIMAL}"), "backup");
    key_error(&format!("{MINIMAL}\n[tool.env]\nX = 1\n"), "tool.env.X");
    key_error(&format!("profile = {{ pr = 1 }}\n{MINIMAL}"), "profile.pr");
}

#[test]
fn an_unknown_key_in_a_strict_section_is_rejected_with_the_known_keys() {
    let problem = key_error(&with_line("s3", "buckett = \"x\""), "s3.buckett");
    let KeyProblem::Unknown { known } = problem else {
        panic!("not Unknown: {problem:?}")
    };
    assert!(
        known.contains("bucket") && known.contains("test_prefix"),
        "{known}"
    );
    for section in ["tool", "btrfs", "paths", "backup", "restore"] {
        key_error(&with_line(section, "typo = 1"), &format!("{section}.typo"));
    }
    key_error(&format!("{MINIMAL}\n[extra]\na = 1\n"), "extra");
}

#[test]
fn bad_values_are_rejected_with_what_is_expected() {
    let cases = [
        ("backup", "chunk_size_bytes = 0", "backup.chunk_size_bytes"),
        ("backup", "concurrency = -1", "backup.concurrency"),
        ("backup", "retain = 4294967296", "backup.retain"),
        ("backup", "spool_size_bytes = 0", "backup.spool_size_bytes"),
        ("restore", "verify_mode = \"quick\"", "restore.verify_mode"),
        (
            "restore",
            "restore_timeout_seconds = 0",
            "restore.restore_timeout_seconds",
        ),
        ("restore", "restore_tier = \"\"", "restore.restore_tier"),
        ("s3", "endpoint = \"localhost:9000\"", "s3.endpoint"),
        ("s3", "endpoint = \"http://\"", "s3.endpoint"),
        ("s3", "endpoint = \"http://host:99999\"", "s3.endpoint"),
        ("s3", "endpoint = \"http://host:9000/path\"", "s3.endpoint"),
        ("s3", "test_prefix = \"/lead\"", "s3.test_prefix"),
        ("s3", "region = \"US East\"", "s3.region"),
        ("s3", "sse = \" \"", "s3.sse"),
        (
            "s3",
            "access_key_id = \"AK\"\nsecret_access_key = \"SK\"",
            "s3.access_key_id",
        ),
        (
            "s3",
            "endpoint = \"embedded\"\naccess_key_id = \"AK\"",
            "s3.secret_access_key",
        ),
        ("btrfs", "image_size_bytes = 1024", "btrfs.image_size_bytes"),
        ("btrfs", "subvolumes = []", "btrfs.subvolumes"),
        (
            "btrfs",
            "subvolumes = [\"data\", \"data\"]",
            "btrfs.subvolumes",
        ),
        ("btrfs", "subvolumes = [\"a b\"]", "btrfs.subvolumes"),
        ("btrfs", "mount_options = [\"a,b\"]", "btrfs.mount_options"),
        ("tool", "config_flag = \"\"", "tool.config_flag"),
        (
            "tool",
            "pythonpath = \"/p\"\n[tool.env]\nPYTHONPATH = \"/q\"",
            "tool.env.PYTHONPATH",
        ),
    ];
    for (section, line, key) in cases {
        let problem = key_error(&with_line(section, line), key);
        assert!(
            matches!(problem, KeyProblem::Invalid { .. }),
            "{line}: {problem:?}"
        );
    }
}

#[test]
fn an_empty_bucket_and_an_empty_command_are_rejected() {
    key_error(&MINIMAL.replace("\"b2s3-test\"", "\"\""), "s3.bucket");
    key_error(
        &MINIMAL.replace("\"b2s3-test\"", "\"Upper_Case\""),
        "s3.bucket",
    );
    key_error(
        &MINIMAL.replace("[\"python3\", \"-m\", \"btrfs_to_s3\"]", "[]"),
        "tool.cmd",
    );
    key_error(
        &MINIMAL.replace("[\"python3\", \"-m\", \"btrfs_to_s3\"]", "[\"\"]"),
        "tool.cmd",
    );
}

#[test]
fn the_harness_run_dir_variable_cannot_be_set_for_every_invocation() {
    let text = format!("{MINIMAL}\n[tool.env]\nBTRFS_TO_S3_HARNESS_RUN_DIR = \"/x\"\n");
    key_error(&text, "tool.env.BTRFS_TO_S3_HARNESS_RUN_DIR");
}

#[test]
fn a_toml_syntax_error_and_a_missing_file_name_the_file() {
    let (_d, file, result) = load_text("[tool\ncmd = 1");
    let err = result.expect_err("syntax error");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(err.to_string().contains(&file.display().to_string()));
    let missing = Path::new("/nonexistent/b2s3/test.toml");
    let err = Config::load_with_env(missing, |_| None).expect_err("missing file");
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/b2s3/test.toml"));
}

#[test]
fn replacing_any_value_with_any_type_gives_a_result_and_never_a_panic() {
    let shipped = std::fs::read_to_string(repo().join("config/test.toml")).expect("read");
    let replacements = [
        "\"\"",
        "\"x\"",
        "0",
        "-1",
        "true",
        "1.5",
        "[]",
        "[1]",
        "{}",
        "1979-05-27",
    ];
    let value_lines: Vec<usize> = shipped
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && l.contains(" = "))
        .map(|(i, _)| i)
        .collect();
    assert!(value_lines.len() >= 28, "too few keys found in test.toml");
    for &index in &value_lines {
        for replacement in replacements {
            let text: Vec<String> = shipped
                .lines()
                .enumerate()
                .map(|(i, l)| match (i == index, l.split_once(" = ")) {
                    (true, Some((key, _))) => format!("{key} = {replacement}"),
                    _ => l.to_string(),
                })
                .collect();
            let (_d, _f, result) = load_text(&text.join("\n"));
            if let Err(err) = result {
                assert!(err.key().is_some(), "error without a key: {err}");
            }
        }
    }
}

#[test]
fn the_run_prefix_is_the_test_prefix_then_a_timestamped_unique_run_id() {
    let (_d, _f, result) = load_text(&with_line("s3", "test_prefix = \"ci/b2s3\""));
    let c = result.expect("load");
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .unwrap()
        .to_utc();
    let id = RunId::from_parts(at, 0xab);
    assert_eq!(c.run_prefix(&id), "ci/b2s3/20260102T030405Z-000000ab/");
    let (a, b) = (RunId::generate(), RunId::generate());
    assert_ne!(a, b, "two ids generated at once must differ");
    assert!(
        regex::Regex::new(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
            .unwrap()
            .is_match(a.as_str()),
        "{a}"
    );
}
