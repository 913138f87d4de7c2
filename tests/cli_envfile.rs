//! `--env-file` through the real binary: variables of the file reach the harness process
//! (seen here through `run --dry-run`, which prints the tool's environment; the test
//! config passes the variable through with `tool.pass_env`), quoted values are taken
//! verbatim, `test.env` next to the config is the default, an exported variable wins,
//! on real AWS the credentials reach the tool, and a bad line is a usage error naming
//! the file and the line.

mod cli_support;

use std::path::PathBuf;
use std::process::Command;

use cli_support::{Run, World};

const VAR: &str = "B2S3_TEST_ENVFILE_GREETING";
const DRY_RUN: [&str; 4] = ["run", "--dry-run", "--", "backup"];

fn world(label: &str) -> World {
    World::with_config(label, &format!("pass_env = [{VAR:?}]"))
}

/// Writes `text` to `<world dir>/<name>` and returns its path.
fn env_file(w: &World, name: &str, text: &str) -> PathBuf {
    let path = w.dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `--env-file <file> run --dry-run -- backup`, not yet run.
fn dry_run_with(w: &World, file: &str) -> Command {
    let mut args = vec!["--env-file", file];
    args.extend(DRY_RUN);
    w.command(&args)
}

#[test]
fn a_quoted_env_file_value_reaches_the_harness_verbatim() {
    let w = world("env-quoted");
    let text = format!("# test\n\n{VAR}='hello $HOME `id` \"x\"'\nOTHER=1\n");
    let file = env_file(&w, "creds.env", &text);
    let out = Run::of(dry_run_with(&w, file.to_str().unwrap()));
    let expected = format!("{VAR}={}", shell_words::quote("hello $HOME `id` \"x\""));
    assert_eq!(out.code, 0, "{}", out.text());
    out.assert_says(&[&expected]);
}

#[test]
fn test_env_next_to_the_config_is_loaded_by_default_and_an_exported_variable_wins() {
    let w = world("env-default");
    env_file(&w, "test.env", &format!("export {VAR}=\"from the file\"\n"));
    w.ok(&DRY_RUN)
        .assert_says(&[&format!("{VAR}='from the file'")]);
    let mut exported = w.command(&DRY_RUN);
    exported.env(VAR, "exported");
    Run::of(exported).assert_says(&[&format!("{VAR}=exported")]);
}

#[test]
fn a_bad_env_file_line_is_a_usage_error_naming_the_file_and_the_line() {
    let w = world("env-bad");
    let text = format!("{VAR}=ok\n# fine\nexport PATH=$PATH:/x\nthis line is wrong\n");
    let file = env_file(&w, "bad.env", &text);
    let run = Run::of(dry_run_with(&w, file.to_str().unwrap()));
    assert_eq!(run.code, 2, "{}", run.text());
    run.assert_says(&[&format!("env file {}, line 4", file.display())]);
    assert!(
        !run.stdout.contains("command:"),
        "nothing ran: {}",
        run.text()
    );
    let missing = Run::of(dry_run_with(&w, "/nonexistent/test.env"));
    assert_eq!(missing.code, 2, "{}", missing.text());
    missing.assert_says(&["/nonexistent/test.env"]);
}

#[test]
fn on_real_aws_the_env_file_credentials_reach_the_tool_with_the_secret_redacted() {
    let w = world("env-aws");
    let config = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&w.config, config.replace("endpoint = \"embedded\"\n", "")).unwrap();
    let text = "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=\"s3cr3t/with+chars\"\n";
    let file = env_file(&w, "aws.env", text);
    let mut command = dry_run_with(&w, file.to_str().unwrap());
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(var);
    }
    let out = Run::of(command);
    assert_eq!(out.code, 0, "{}", out.text());
    out.assert_says(&[
        "AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY=<redacted>",
    ]);
    assert!(
        !out.stdout.contains("AWS_ENDPOINT_URL_S3"),
        "no local endpoint on real AWS: {}",
        out.text()
    );
}
