//! `--env-file` through the real binary: variables of the file reach the harness process
//! (seen here through `run --dry-run`, which prints the tool's environment; the test
//! config passes the variable through with `tool.pass_env`), quoted values are taken
//! verbatim, `test.env` next to the config is the default, an exported variable wins,
//! and a bad line is a usage error naming the file and the line.

mod cli_support;

use cli_support::World;

const VAR: &str = "B2S3_TEST_ENVFILE_GREETING";

fn world(label: &str) -> World {
    World::with_config(label, &format!("pass_env = [{VAR:?}]"))
}

fn dry_run(w: &World, env_file: Option<&std::path::Path>) -> cli_support::Run {
    let mut args = vec!["run", "--dry-run", "--", "backup"];
    let path;
    if let Some(p) = env_file {
        path = p.to_string_lossy().into_owned();
        args.splice(0..0, ["--env-file", path.as_str()]);
    }
    w.expect(0, &args)
}

#[test]
fn a_quoted_env_file_value_reaches_the_harness_verbatim() {
    let w = world("env-quoted");
    let file = w.dir.join("creds.env");
    std::fs::write(
        &file,
        format!("# test\n\n{VAR}='hello $HOME `id` \"x\"'\nOTHER=1\n"),
    )
    .unwrap();
    let out = dry_run(&w, Some(&file));
    let expected = format!("{VAR}={}", shell_words::quote("hello $HOME `id` \"x\""));
    assert!(out.stdout.contains(&expected), "{expected}\n{}", out.text());
}

#[test]
fn test_env_next_to_the_config_is_loaded_by_default_and_an_exported_variable_wins() {
    let w = world("env-default");
    std::fs::write(
        w.dir.join("test.env"),
        format!("export {VAR}=\"from the file\"\n"),
    )
    .unwrap();
    let out = dry_run(&w, None);
    assert!(
        out.stdout.contains(&format!("{VAR}='from the file'")),
        "{}",
        out.text()
    );
    let exported = w
        .command(&["run", "--dry-run", "--", "backup"])
        .env(VAR, "exported")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&exported.stdout);
    assert!(stdout.contains(&format!("{VAR}=exported")), "{stdout}");
}

#[test]
fn a_bad_env_file_line_is_a_usage_error_naming_the_file_and_the_line() {
    let w = world("env-bad");
    let file = w.dir.join("bad.env");
    std::fs::write(
        &file,
        format!("{VAR}=ok\n# fine\nexport PATH=$PATH:/x\nthis line is wrong\n"),
    )
    .unwrap();
    let run = w.expect(
        2,
        &[
            "--env-file",
            file.to_str().unwrap(),
            "run",
            "--dry-run",
            "--",
            "backup",
        ],
    );
    assert!(
        run.stderr
            .contains(&format!("env file {}, line 4", file.display())),
        "{}",
        run.text()
    );
    assert!(
        !run.stdout.contains("command:"),
        "nothing ran: {}",
        run.text()
    );
    let missing = w.expect(
        2,
        &[
            "--env-file",
            "/nonexistent/test.env",
            "run",
            "--dry-run",
            "--",
            "backup",
        ],
    );
    assert!(
        missing.stderr.contains("/nonexistent/test.env"),
        "{}",
        missing.text()
    );
}

#[test]
fn on_real_aws_the_env_file_credentials_reach_the_tool_with_the_secret_redacted() {
    let w = world("env-aws");
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&w.config, text.replace("endpoint = \"embedded\"\n", "")).unwrap();
    let file = w.dir.join("aws.env");
    std::fs::write(
        &file,
        "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=\"s3cr3t/with+chars\"\n",
    )
    .unwrap();
    let mut command = w.command(&[
        "--env-file",
        file.to_str().unwrap(),
        "run",
        "--dry-run",
        "--",
        "backup",
    ]);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(var);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("AWS_ACCESS_KEY_ID=AKIAEXAMPLE"), "{stdout}");
    assert!(
        stdout.contains("AWS_SECRET_ACCESS_KEY=<redacted>"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("AWS_ENDPOINT_URL_S3"),
        "no local endpoint on real AWS: {stdout}"
    );
}
