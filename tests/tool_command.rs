//! Building tool invocations: argv order (config flag last), the complete environment
//! and its precedence, the harness run-dir variable, and the `--dry-run` rendering.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use b2s3_harness::config::{CmdSource, ToolSection};
use b2s3_harness::gen::plan::{BackupMode, BackupStep, VerifyMode};
use b2s3_harness::tool::{BackupArgs, InvocationBuilder, RestoreArgs, ToolArgs};

fn tool() -> ToolSection {
    ToolSection {
        cmd: vec!["python3".into(), "-m".into(), "btrfs_to_s3".into()],
        cmd_source: CmdSource::ConfigFile,
        config_flag: "--config".into(),
        env: BTreeMap::from([
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("AWS_MAX_ATTEMPTS".into(), "2".into()),
        ]),
        cwd: Some(PathBuf::from("/src/b2s3")),
        pythonpath: Some(PathBuf::from("/src/b2s3 checkout")),
        pass_env: Vec::new(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn s3_env() -> BTreeMap<String, String> {
    map(&[
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000"),
        ("AWS_MAX_ATTEMPTS", "9"),
        ("BTRFS_TO_S3_HARNESS_RUN_DIR", "/leaked"),
    ])
}

fn backup_once() -> ToolArgs {
    ToolArgs::Backup(BackupArgs {
        once: true,
        subvolumes: vec!["data".into()],
        ..BackupArgs::default()
    })
}

#[test]
fn the_command_is_cmd_then_subcommand_flags_then_the_config_flag_last() {
    let tool = tool();
    let inv = InvocationBuilder::new(&tool, Path::new("/run/case 1/tool.toml"))
        .args(&backup_once())
        .build();
    assert_eq!(
        inv.argv(),
        [
            "python3",
            "-m",
            "btrfs_to_s3",
            "backup",
            "--subvolume",
            "data",
            "--once",
            "--config",
            "/run/case 1/tool.toml"
        ]
    );
    assert_eq!(inv.cwd, Some(PathBuf::from("/src/b2s3")));
}

#[test]
fn the_environment_is_inherited_vars_then_s3_then_tool_env_then_pythonpath() {
    let tool = tool();
    let inv = InvocationBuilder::new(&tool, Path::new("/c.toml"))
        .inherited_env(map(&[("PATH", "/usr/bin"), ("AWS_MAX_ATTEMPTS", "1")]))
        .s3_env(s3_env())
        .build();
    let expected = map(&[
        ("PATH", "/usr/bin"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000"),
        ("AWS_MAX_ATTEMPTS", "2"),
        ("PYTHONUNBUFFERED", "1"),
        ("PYTHONPATH", "/src/b2s3 checkout"),
    ]);
    assert_eq!(
        inv.env, expected,
        "BTRFS_TO_S3_HARNESS_RUN_DIR must be dropped"
    );
}

#[test]
fn the_process_path_is_kept_and_other_harness_variables_are_not() {
    let tool = tool();
    let inv = InvocationBuilder::new(&tool, Path::new("/c.toml")).build();
    assert_eq!(inv.env.get("PATH"), std::env::var("PATH").ok().as_ref());
    assert!(
        !inv.env.keys().any(|k| k.starts_with("CARGO")),
        "{:?}",
        inv.env.keys()
    );
}

#[test]
fn the_harness_run_dir_variable_is_set_only_when_requested() {
    let tool = tool();
    let inv = InvocationBuilder::new(&tool, Path::new("/c.toml"))
        .s3_env(s3_env())
        .harness_run_dir(Some(PathBuf::from("/run/h")))
        .build();
    assert_eq!(
        inv.env
            .get("BTRFS_TO_S3_HARNESS_RUN_DIR")
            .map(String::as_str),
        Some("/run/h")
    );
}

#[test]
fn the_dry_run_rendering_quotes_the_command_and_redacts_secrets() {
    let tool = tool();
    let inv = InvocationBuilder::new(&tool, Path::new("/run/case 1/tool.toml"))
        .inherited_env(BTreeMap::new())
        .s3_env(s3_env())
        .args(&backup_once())
        .build();
    let rendered = inv.render();
    assert_eq!(
        rendered.command_line,
        "python3 -m btrfs_to_s3 backup --subvolume data --once --config '/run/case 1/tool.toml'"
    );
    let text = rendered.to_string();
    assert!(
        text.contains("  AWS_SECRET_ACCESS_KEY=<redacted>\n"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"));
    assert!(
        text.contains("  PYTHONPATH='/src/b2s3 checkout'\n"),
        "{text}"
    );
    assert!(
        text.contains("cwd: /src/b2s3\n") && text.ends_with(&rendered.command_line),
        "{text}"
    );
    let words = shell_words::split(&rendered.command_line).unwrap();
    assert_eq!(
        words,
        inv.argv(),
        "the rendered line parses back to the argv"
    );
}

#[test]
fn a_backup_step_becomes_its_flags() {
    let step = BackupStep {
        gap_ms: 0,
        subvolumes: vec!["a".into(), "b".into()],
        once: false,
        mode: BackupMode::NoS3,
        fault: None,
    };
    let args = BackupArgs::from_step(&step).to_args();
    assert_eq!(
        args,
        ["backup", "--subvolume", "a", "--subvolume", "b", "--no-s3"]
    );
    let step = BackupStep {
        mode: BackupMode::DryRun,
        once: true,
        subvolumes: vec![],
        ..step
    };
    assert_eq!(
        BackupArgs::from_step(&step).to_args(),
        ["backup", "--once", "--dry-run"]
    );
}

#[test]
fn restore_flags_are_written_only_when_set() {
    let mut r = RestoreArgs {
        subvolume: "data".into(),
        target: PathBuf::from("/mnt/restore/data r"),
        manifest_key: Some("p/subvol/data/full/manifest-20260101T000000Z.json".into()),
        restore_timeout_seconds: Some(30),
        wait: Some(false),
        verify: Some(VerifyMode::None),
        log_level: Some("debug".into()),
    };
    assert_eq!(
        r.to_args(),
        [
            "restore",
            "--subvolume",
            "data",
            "--target",
            "/mnt/restore/data r",
            "--manifest-key",
            "p/subvol/data/full/manifest-20260101T000000Z.json",
            "--restore-timeout",
            "30",
            "--verify",
            "none",
            "--log-level",
            "debug",
            "--no-wait-restore",
        ]
    );
    (
        r.manifest_key,
        r.restore_timeout_seconds,
        r.verify,
        r.log_level,
    ) = (None, None, None, None);
    r.wait = Some(true);
    assert_eq!(
        r.to_args(),
        [
            "restore",
            "--subvolume",
            "data",
            "--target",
            "/mnt/restore/data r",
            "--wait-restore"
        ]
    );
}

#[test]
fn pass_env_names_reach_the_tool_only_when_set_in_the_harness() {
    // A name no other test or tool uses, so setting it cannot disturb parallel tests.
    std::env::set_var("B2S3_TEST_PASS_ENV_SET", "variant-a");
    let mut tool = tool();
    tool.pass_env = vec!["B2S3_TEST_PASS_ENV_SET".into(), "B2S3_TEST_PASS_ENV_UNSET".into()];
    let inv = InvocationBuilder::new(&tool, Path::new("/run/tool.toml")).build();
    assert_eq!(inv.env.get("B2S3_TEST_PASS_ENV_SET").map(String::as_str), Some("variant-a"));
    assert!(!inv.env.contains_key("B2S3_TEST_PASS_ENV_UNSET"));
}
