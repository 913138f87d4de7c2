//! The `b2s3-harness` binary as a user runs it: setup and teardown leave the machine as
//! it was (also when setup is SIGKILLed at random moments), `run --dry-run` shows the
//! exact command, and bad input exits 2 naming what is wrong. Real btrfs, real moto.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_b2s3-harness");

/// A harness config in its own temp dir (run dir inside it), for the reference tool.
struct TempConfig {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempConfig {
    fn new(extra: &str) -> TempConfig {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::Builder::new().prefix("b2s3-cli-").tempdir().unwrap();
        let reference = repo.join("target/debug/b2s3-ref");
        let text = format!(
            "[tool]\ncmd = [{reference:?}]\n{extra}\n[s3]\nendpoint = \"embedded\"\nbucket = \"b2s3-cli\"\n\
             [btrfs]\nimage_size_bytes = 268435456\nrestore_image_size_bytes = 268435456\n\
             [paths]\nrun_dir = \"run\"\n"
        );
        let path = dir.path().join("harness.toml");
        std::fs::write(&path, text).unwrap();
        TempConfig { dir, path }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn harness(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(&self.path).args(args);
        cmd.env_remove("BTRFS_TO_S3_CMD").stdin(Stdio::null());
        if let Some(venv) = moto_venv() {
            cmd.env("B2S3_VENV", venv);
        }
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.harness(args).output().unwrap()
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = self.harness(&["teardown"]).stdout(Stdio::null()).status();
    }
}

/// The venv holding moto_server, from `B2S3_MOTO_SERVER` (`<venv>/bin/moto_server`),
/// `B2S3_VENV`, or the repo's `run/venv` that `scripts/setup-machine.sh` creates.
fn moto_venv() -> Option<PathBuf> {
    if let Some(server) = std::env::var_os("B2S3_MOTO_SERVER") {
        return PathBuf::from(server).parent()?.parent().map(Path::to_path_buf);
    }
    if let Some(venv) = std::env::var_os("B2S3_VENV") {
        return Some(PathBuf::from(venv));
    }
    let repo_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("run/venv");
    repo_venv.join("bin/moto_server").exists().then_some(repo_venv)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Loop devices and mounts that involve `run_dir` (other tests run in parallel, so the
/// comparison is restricted to what this test's harness could have made).
fn machine_state(run_dir: &Path) -> (Vec<String>, Vec<String>) {
    let needle = run_dir.to_string_lossy().into_owned();
    let loops = text(&Command::new("losetup").arg("-l").arg("-n").output().unwrap().stdout);
    let mounts = text(&Command::new("findmnt").arg("-rn").output().unwrap().stdout);
    let pick = |s: &str| s.lines().filter(|l| l.contains(&needle)).map(String::from).collect();
    (pick(&loops), pick(&mounts))
}

/// Live (not zombie) moto_server processes whose command line names `port`.
fn live_moto(run_dir: &Path) -> Vec<String> {
    let record = std::fs::read_to_string(run_dir.join("s3-server.json")).unwrap_or_default();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = text(&cmdline).replace('\0', " ");
        let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
        let tmp = run_dir.join("s3-server-tmp");
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if !zombie && cmdline.contains("moto_server") && text(&environ).contains(&*tmp.to_string_lossy()) {
            found.push(format!("{cmdline} (record: {record})"));
        }
    }
    found
}

#[test]
fn setup_then_teardown_leaves_loop_devices_mounts_and_processes_as_before() {
    let cfg = TempConfig::new("");
    let before = machine_state(&cfg.run_dir());
    let setup = cfg.output(&["setup"]);
    assert!(setup.status.success(), "setup failed: {}", text(&setup.stderr));
    let during = machine_state(&cfg.run_dir());
    assert_eq!(during.0.len(), 2, "setup attaches two loop devices: {during:?}");
    assert_eq!(during.1.len(), 2, "setup mounts two filesystems: {during:?}");
    assert_eq!(live_moto(&cfg.run_dir()).len(), 1, "setup leaves the S3 server running");
    let teardown = cfg.output(&["teardown"]);
    assert!(teardown.status.success(), "teardown failed: {}", text(&teardown.stdout));
    assert_eq!(machine_state(&cfg.run_dir()), before);
    assert!(live_moto(&cfg.run_dir()).is_empty(), "the S3 server survived teardown");
    let again = cfg.output(&["teardown"]);
    assert!(again.status.success(), "a second teardown must be harmless");
}

#[test]
fn setup_killed_at_random_moments_is_undone_by_teardown_twenty_times() {
    let cfg = TempConfig::new("");
    let before = machine_state(&cfg.run_dir());
    // Measure one uninterrupted setup, then kill inside that window.
    let start = Instant::now();
    assert!(cfg.output(&["setup"]).status.success());
    let full = start.elapsed().max(Duration::from_millis(50));
    assert!(cfg.output(&["teardown"]).status.success());
    let seed = std::process::id() as u64;
    for i in 0..20u64 {
        let mixed = seed.wrapping_add(i).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = full.mul_f64((mixed >> 11) as f64 / (1u64 << 53) as f64);
        let mut child = cfg.harness(&["setup"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let teardown = cfg.output(&["teardown"]);
        assert!(teardown.status.success(), "iteration {i} (kill after {delay:?}): teardown failed: {}{}", text(&teardown.stdout), text(&teardown.stderr));
        assert_eq!(machine_state(&cfg.run_dir()), before, "iteration {i}: kill after {delay:?} (seed {seed})");
        assert!(live_moto(&cfg.run_dir()).is_empty(), "iteration {i}: S3 server left running");
    }
}

#[test]
fn dry_run_prints_the_full_command_with_the_config_flag_last() {
    let cfg = TempConfig::new("");
    let out = cfg.output(&["run", "--dry-run", "--", "backup", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let command = stdout.lines().find(|l| l.starts_with("command: ")).expect("a command line");
    let tool_config = cfg.run_dir().join("tool/config.toml");
    assert!(command.ends_with(&format!("backup --once --config {}", tool_config.display())), "{command}");
    assert!(stdout.contains("AWS_ACCESS_KEY_ID=test"), "credentials are shown: {stdout}");
    assert!(machine_state(&cfg.run_dir()).0.is_empty(), "a dry run sets nothing up");
}

#[test]
fn btrfs_to_s3_cmd_overrides_the_tool_as_json_or_shell_words() {
    let cfg = TempConfig::new("");
    let cases = [
        (r#"["/usr/bin/python3", "-m", "btrfs_to_s3"]"#, "command: /usr/bin/python3 -m btrfs_to_s3 backup --once --config "),
        ("'/opt/my tools/python3' -m btrfs_to_s3", "command: '/opt/my tools/python3' -m btrfs_to_s3 backup --once --config "),
    ];
    for (value, expected) in cases {
        let out = cfg.harness(&["run", "--dry-run", "--", "backup", "--once"]).env("BTRFS_TO_S3_CMD", value).output().unwrap();
        assert!(out.status.success(), "{value}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(expected), "{value}: {}", text(&out.stdout));
    }
    for bad in [r#"["unterminated"#, "'unbalanced", "   ", r#"[1, 2]"#] {
        let out = cfg.harness(&["run", "--dry-run", "--", "backup"]).env("BTRFS_TO_S3_CMD", bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?} must be a usage error");
        assert!(text(&out.stderr).contains("BTRFS_TO_S3_CMD"), "{bad:?}: {}", text(&out.stderr));
    }
}

#[test]
fn bad_configs_exit_2_naming_the_key() {
    let cases = [
        ("[tool]\ncmd = [\"x\"]\n[paths]\nrun_dir = \"/tmp/r\"\n", "s3"),
        ("[tool]\ncmd = [\"x\"]\n[s3]\nbucket = 7\n[paths]\nrun_dir = \"/tmp/r\"\n", "s3.bucket"),
        ("[tool]\ncmd = [\"x\"]\nbogus = 1\n[s3]\nbucket = \"bkt\"\n[paths]\nrun_dir = \"/tmp/r\"\n", "tool.bogus"),
        ("[tool]\ncmd = [\"x\"]\ncwd = \"relative/dir\"\n[s3]\nbucket = \"bkt\"\n[paths]\nrun_dir = \"/tmp/r\"\n", "tool.cwd"),
        ("[tool]\ncmd = [\"x\"]\n[s3]\nbucket = \"bkt\"\n[paths]\nrun_dir = \"/tmp/r\"\n[backup]\nchunk_size_bytes = 0\n", "backup.chunk_size_bytes"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (body, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, body).unwrap();
        let out = Command::new(BIN).arg("--config").arg(&path).args(["run", "--dry-run", "--", "backup"]).env_remove("BTRFS_TO_S3_CMD").output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        assert!(stderr.contains(key), "case {i}: the message must name {key}: {stderr}");
        assert!(stderr.contains(&*path.to_string_lossy()), "case {i}: the message must name the file: {stderr}");
    }
}

#[test]
fn cleanup_refuses_without_yes_and_empties_the_run_prefix_with_it() {
    let cfg = TempConfig::new("");
    assert!(cfg.output(&["setup"]).status.success());
    let backup = cfg.output(&["run", "--", "backup"]);
    assert_eq!(backup.status.code(), Some(0), "{}", text(&backup.stdout));
    assert!(text(&backup.stdout).contains("backup_uploaded"), "{}", text(&backup.stdout));
    let refused = cfg.output(&["cleanup"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--yes"), "{}", text(&refused.stderr));
    let done = cfg.output(&["cleanup", "--yes"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let said = text(&done.stdout);
    let deleted: usize = said.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect(&said);
    assert!(deleted >= 9, "three subvolumes publish at least 3 chunks, 3 manifests, 3 pointers: {said}");
    let again = cfg.output(&["cleanup", "--yes"]);
    assert!(text(&again.stdout).starts_with("deleted 0 objects"), "{}", text(&again.stdout));
}
