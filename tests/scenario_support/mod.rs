//! Shared by the `scenario_*` integration tests that drive the real `b2s3-harness`
//! binary with the reference tool: a [`ScenarioWorld`] is a temp dir with a harness
//! config (reference tool, `B2S3_REF_BUG` passed through, 1 GiB images), the three
//! scenario settings files of the repository copied next to it, and either the
//! embedded moto server or a moto server owned by the test (so that S3 objects outlive
//! the harness's own teardown). `Drop` runs `b2s3-harness teardown` and stops the
//! test's server; a shared machine lock keeps the fixture tests that compare loop
//! devices and mounts from seeing ours.
//!
//! Needs root, btrfs-progs, a moto venv (`B2S3_VENV`, else `<repo>/run/venv`, else
//! `/work/venv-moto`) and `cargo build -p b2s3-ref`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use b2s3_harness::s3::server::EmbeddedServer;

#[path = "../fixture_support/mod.rs"]
mod fixture_support;

pub const HARNESS: &str = env!("CARGO_BIN_EXE_b2s3-harness");

/// The moto venv the harness children use.
pub fn venv_dir() -> PathBuf {
    if let Some(v) = std::env::var_os("B2S3_VENV").filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("run/venv");
    if repo.join("bin/moto_server").exists() {
        return repo;
    }
    PathBuf::from("/work/venv-moto")
}

fn reference_tool() -> PathBuf {
    let path = Path::new(HARNESS).with_file_name("b2s3-ref");
    assert!(path.is_file(), "{} is missing: build it with `cargo build -p b2s3-ref`", path.display());
    path
}

/// What one harness invocation did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }

    /// Property ids of the finding lines printed (`[P7 layout-and-metadata violation] ...`).
    pub fn finding_ids(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix('['))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|id| id.starts_with('P') && id[1..].chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    }
}

/// Where the world's S3 objects live.
pub enum Store {
    /// The harness's embedded server (stopped by its teardown).
    Embedded,
    /// A moto server this test owns, given to the harness as an endpoint URL.
    Own,
}

pub struct ScenarioWorld {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub run_dir: PathBuf,
    pub server: Option<EmbeddedServer>,
    _lock: fixture_support::GlobalLock,
}

impl ScenarioWorld {
    pub fn new(label: &str, store: Store) -> ScenarioWorld {
        let _lock = fixture_support::GlobalLock::shared();
        let dir = tempfile::Builder::new().prefix(&format!("b2s3-scenario-{label}-")).tempdir().unwrap().keep();
        let server = match store {
            Store::Embedded => None,
            Store::Own => Some(EmbeddedServer::start(&dir.join("moto"), &venv_dir()).expect("a moto server")),
        };
        let endpoint = server.as_ref().map_or("embedded".to_string(), EmbeddedServer::url);
        let run_dir = dir.join("run");
        let config = dir.join("harness.toml");
        std::fs::write(&config, config_text(&run_dir, &endpoint)).unwrap();
        let repo_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        for file in ["test_large.toml", "test_archive.toml", "test_spool.toml"] {
            std::fs::copy(repo_config.join(file), dir.join(file)).unwrap();
        }
        ScenarioWorld { dir, config, run_dir, server, _lock }
    }

    /// Runs the harness with `--config`, a clean environment and `env` added.
    pub fn harness(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(HARNESS);
        c.arg("--config").arg(&self.config).args(args);
        for var in ["B2S3_CONFIG", "B2S3_ENV_FILE", "SUDO_UID", "SUDO_GID", "BTRFS_TO_S3_CMD", "B2S3_REF_BUG"] {
            c.env_remove(var);
        }
        c.env("B2S3_VENV", venv_dir()).envs(env.iter().copied());
        let out = c.output().expect("the harness runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The run's prefix, from its session record.
    pub fn prefix(&self) -> String {
        b2s3_harness::session::read_record(&self.run_dir).unwrap().expect("a session record").prefix
    }
}

impl Drop for ScenarioWorld {
    fn drop(&mut self) {
        let run = self.harness(&["teardown"], &[]);
        drop(self.server.take());
        let mounted = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(&*self.dir.to_string_lossy());
        if run.code == 0 && !mounted {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("teardown of {} incomplete; left in place:\n{}", self.dir.display(), run.text());
        }
    }
}

fn config_text(run_dir: &Path, endpoint: &str) -> String {
    format!(
        r#"[tool]
cmd = [{tool:?}]
config_flag = "--config"
pass_env = ["B2S3_REF_BUG"]

[s3]
endpoint = {endpoint:?}
bucket = "b2s3-scenario"
test_prefix = "b2s3-harness"
region = "us-east-1"

[btrfs]
image_size_bytes = 1073741824
restore_image_size_bytes = 1073741824
subvolumes = ["data", "root", "home"]

[paths]
run_dir = {run_dir:?}

[backup]
chunk_size_bytes = 1048576
retain = 2
"#,
        tool = reference_tool().to_string_lossy(),
        run_dir = run_dir.to_string_lossy(),
    )
}
