//! The command line, config and log-line contract (CONTRACT.md sections 1-5) checked on
//! the binary without btrfs: help, argparse-like usage errors, config errors, exit codes,
//! the credentials gate, `--dry-run`, `--no-s3`, the subvolume filter, the bug switch, the
//! log-line shape, and restore's pointer and chain errors (against moto).

mod support;

use std::path::PathBuf;

use support::tool::{self, Outcome};

/// A config in a scratch directory whose paths exist nowhere else; no btrfs needed.
struct Bare {
    dir: PathBuf,
    bucket: String,
}

impl Bare {
    fn new(label: &str, with_bucket: bool) -> Bare {
        let dir = support::scratch_dir(label);
        let bucket = format!("c-{}", dir.file_name().unwrap().to_string_lossy().to_lowercase().replace('_', "-"));
        if with_bucket {
            support::s3::TestS3::new(&support::moto::shared().endpoint, &bucket);
        }
        let text = format!(
            "[global]\nstate_path = \"{0}/state.json\"\nlock_path = \"{0}/lock\"\n\
             [snapshots]\nbase_dir = \"{0}/snaps\"\n[subvolumes]\npaths = [\"{0}/vols/data\", \"{0}/vols/home\"]\n\
             [s3]\nbucket = \"{bucket}\"\nregion = \"us-east-1\"\nprefix = \"p\"\n[unknown]\nwhatever = 1\n",
            dir.display()
        );
        std::fs::write(dir.join("config.toml"), text).unwrap();
        Bare { dir, bucket }
    }

    fn config(&self) -> String {
        self.dir.join("config.toml").to_string_lossy().into_owned()
    }

    fn creds(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_ENDPOINT_URL_S3", support::moto::shared().endpoint.clone()),
        ]
    }

    fn run(&self, args: &[&str], env: &[(&'static str, String)]) -> Outcome {
        let config = self.config();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", &config]);
        tool::run(&all, env)
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn usage_error(args: &[&str], message: &str) {
    let out = tool::run(args, &[]);
    assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    assert!(out.stderr.starts_with("usage: btrfs_to_s3"), "{args:?}: {}", out.stderr);
    assert!(out.stderr.contains(message), "{args:?} should say {message:?}: {}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn no_arguments_prints_help_on_stdout_and_exits_0() {
    let out = tool::run(&[], &[]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("usage: btrfs_to_s3 [-h] {backup,restore} ..."), "{}", out.stdout);
    assert!(out.stderr.is_empty());
    let sub = tool::run(&["restore", "--help"], &[]);
    assert_eq!(sub.code, 0);
    assert!(sub.stdout.contains("--manifest-key") && sub.stdout.contains("--no-wait-restore"));
}

#[test]
fn usage_errors_exit_2_with_an_argparse_message_on_stderr() {
    usage_error(&["backup"], "btrfs_to_s3 backup: error: the following arguments are required: --config");
    usage_error(&["restore", "--config", "/x"], "the following arguments are required: --subvolume, --target");
    usage_error(&["backup", "--config", "/x", "--full"], "btrfs_to_s3: error: unrecognized arguments: --full");
    usage_error(&["backup", "--log-level", "loud", "--config", "/x"], "argument --log-level: invalid choice: 'loud'");
    usage_error(&["restore", "--config=/x", "--subvolume", "d", "--target", "/t", "--verify", "most"], "invalid choice: 'most'");
    usage_error(&["restore", "--config=/x", "--subvolume", "d", "--target", "/t", "--restore-timeout", "soon"], "invalid int value: 'soon'");
    usage_error(&["--config", "/x", "backup"], "invalid choice");
    usage_error(&["prune"], "argument command: invalid choice: 'prune'");
}

#[test]
fn config_errors_are_one_plain_line_and_exit_2() {
    let cases: [(&str, &str); 6] = [
        ("", "subvolumes.paths is required"),
        ("[subvolumes]\npaths = [\"/a\"]\n[s3]\nregion = \"r\"\nprefix = \"p\"\n", "s3.bucket is required"),
        ("[subvolumes]\npaths = [\"rel\"]\n[s3]\nbucket = \"b\"\nregion = \"r\"\nprefix = \"p\"\n", "subvolumes.paths must"),
        ("[subvolumes]\npaths = [\"/a\"]\n[s3]\nbucket = \"b\"\nregion = \"r\"\nprefix = \"p\"\nchunk_size_bytes = 0\n", "s3.chunk_size_bytes must be"),
        ("[global]\nlog_level = \"loud\"\n[subvolumes]\npaths = [\"/a\"]\n[s3]\nbucket = \"b\"\nregion = \"r\"\nprefix = \"p\"\n", "global.log_level must be"),
        ("[restore]\nverify_mode = \"most\"\n[subvolumes]\npaths = [\"/a\"]\n[s3]\nbucket = \"b\"\nregion = \"r\"\nprefix = \"p\"\n", "restore.verify_mode must be"),
    ];
    let dir = support::scratch_dir("configerr");
    for (text, message) in cases {
        let path = dir.join("c.toml");
        std::fs::write(&path, text).unwrap();
        let out = tool::run(&["backup", "--config", path.to_str().unwrap()], &[]);
        assert_eq!(out.code, 2, "{message}: {}", out.stderr);
        assert!(out.stderr.starts_with(&format!("config error: {message}")), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
    let relative = tool::run(&["backup", "--config", "rel/c.toml"], &[]);
    assert_eq!((relative.code, relative.stderr.trim()), (2, "config error: config path must be absolute: rel/c.toml"));
    let missing = dir.join("missing.toml");
    let out = tool::run(&["restore", "--subvolume", "d", "--target", "/t", "--config", missing.to_str().unwrap()], &[]);
    assert_eq!((out.code, out.stderr.trim().to_string()), (2, format!("config error: config file not found: {}", missing.display())));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn log_lines_have_the_python_logging_shape_and_respect_the_level() {
    let bare = Bare::new("logshape", false);
    let out = bare.run(&["backup", "--dry-run"], &[]);
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    let shape = |line: &str, rest: &str| {
        let (stamp, tail) = line.split_at(23);
        let b = stamp.as_bytes();
        assert!(b[4] == b'-' && b[10] == b' ' && b[13] == b':' && b[19] == b',', "timestamp {stamp}");
        assert_eq!(tail, rest);
    };
    shape(lines[0], " INFO btrfs_to_s3.cli event=command_start command=backup subvolume_filter=None");
    shape(lines[1], " INFO btrfs_to_s3.cli event=backup_dry_run status=skipped");
    let quiet = bare.run(&["backup", "--dry-run", "--log-level", "error"], &[]);
    assert_eq!((quiet.code, quiet.stderr.as_str()), (0, ""));
}

#[test]
fn dry_run_takes_no_lock_and_writes_nothing() {
    let bare = Bare::new("dryrun", false);
    std::fs::write(bare.dir.join("lock"), format!("{}\n", std::process::id())).unwrap();
    let out = bare.run(&["backup", "--dry-run"], &bare.creds());
    assert_eq!(out.code, 0, "a held lock does not matter to --dry-run: {}", out.stderr);
    assert_eq!(out.names(), ["command_start", "backup_dry_run"]);
    assert!(!bare.dir.join("state.json").exists() && !bare.dir.join("snaps").exists());
}

#[test]
fn without_credentials_backup_skips_with_exit_0_and_restore_fails_with_exit_1() {
    let bare = Bare::new("nocreds", false);
    let out = bare.run(&["backup"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.event("backup_no_s3").get("status"), "skipped");
    assert!(!bare.dir.join("snaps").exists() && !bare.dir.join("state.json").exists(), "no snapshot, no state");
    assert!(!bare.dir.join("lock").exists(), "the lock is released");
    let only_key = [("AWS_ACCESS_KEY_ID", "x".to_string())];
    assert!(bare.run(&["backup"], &only_key).has("backup_no_s3"), "one key alone is not credentials");
    let out = bare.run(&["restore", "--subvolume", "data", "--target", "/nonexistent/t"], &[]);
    assert_eq!(out.code, 1);
    assert_eq!(out.event("restore_no_credentials").get("status"), "failed");
}

#[test]
fn no_s3_and_the_subvolume_filter_behave_as_documented() {
    let bare = Bare::new("nos3", false);
    let out = bare.run(&["backup", "--no-s3", "--subvolume", "home"], &bare.creds());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.event("command_start").get("subvolume_filter"), "home");
    assert_eq!(out.event("backup_no_s3").get("status"), "skipped");
    assert!(!bare.dir.join("snaps").exists() && !bare.dir.join("lock").exists());
    let none = bare.run(&["backup", "--subvolume", "nope"], &bare.creds());
    assert_eq!(none.code, 2);
    assert_eq!(none.event("backup_no_subvolumes").get("status"), "failed");
    assert_eq!(none.event("backup_no_subvolumes").level, "ERROR");
}

#[test]
fn bug_variants_are_listed_and_an_unknown_one_is_refused() {
    let out = tool::run(&["--list-bugs"], &[]);
    assert_eq!(out.code, 0);
    let names: Vec<&str> = out.stdout.lines().collect();
    assert!(names.len() >= 12 && names.contains(&"pointer-before-manifest") && names.contains(&"no-lock"), "{names:?}");
    let bad = tool::run(&["backup", "--dry-run", "--config", "/x"], &[("B2S3_REF_BUG", "pointer-after-lunch".into())]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown B2S3_REF_BUG variant 'pointer-after-lunch'"), "{}", bad.stderr);
}

#[test]
fn restore_reports_a_missing_pointer_a_chain_loop_and_a_chain_without_full() {
    let bare = Bare::new("chains", true);
    let s3 = support::s3::TestS3::attach(&support::moto::shared().endpoint, &bare.bucket);
    let target = bare.dir.join("t");
    let target = target.to_str().unwrap();
    let out = bare.run(&["restore", "--subvolume", "data", "--target", target], &bare.creds());
    assert_eq!(out.code, 1);
    assert_eq!(out.event("restore_current_failed").get("error"), "missing object p/subvol/data/current.json");
    let manifest = |kind: &str, parent: &str| {
        format!(
            "{{\"version\": 1, \"subvolume\": \"data\", \"kind\": \"{kind}\", \"created_at\": \"20260101T000000Z\", \
             \"snapshot\": {{\"name\": \"n\", \"path\": \"/nowhere/n\", \"uuid\": null, \"parent_uuid\": null}}, \
             \"parent_manifest\": {parent}, \"chunks\": [], \"total_bytes\": 0, \"chunk_size\": 1, \
             \"s3\": {{\"storage_class\": \"STANDARD\"}}}}"
        )
    };
    s3.put("p/a.json", manifest("incremental", "\"p/b.json\"").into_bytes());
    s3.put("p/b.json", manifest("incremental", "\"p/a.json\"").into_bytes());
    s3.put("p/c.json", manifest("incremental", "null").into_bytes());
    let run = |key: &str| bare.run(&["restore", "--subvolume", "data", "--target", target, "--manifest-key", key], &bare.creds());
    let looped = run("p/a.json");
    assert_eq!((looped.code, looped.event("restore_manifest_failed").get("error")), (1, "manifest chain loop detected at p/a.json"));
    let no_full = run("p/c.json");
    assert_eq!(no_full.event("restore_manifest_failed").get("error"), "manifest chain does not end in full backup");
    let missing = run("p/none.json");
    assert_eq!(missing.event("restore_manifest_failed").get("error"), "missing object p/none.json");
    assert!(!std::path::Path::new(target).exists());
}
