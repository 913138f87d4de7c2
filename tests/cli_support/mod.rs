//! Shared helpers for the `cli_*` integration tests, which drive the real
//! `b2s3-harness` binary as a maintainer would: a [`World`] is a temporary run dir with
//! its own harness config (the reference tool, an embedded moto server, 1 GiB images)
//! whose `Drop` runs `b2s3-harness teardown`, so no mount, loop device or moto process
//! outlives a test. Helpers reach the run's S3 store through the library's client to
//! corrupt it by hand.
//!
//! Needs root, btrfs-progs, a moto venv (`B2S3_VENV`, else `B2S3_MOTO_VENV`, else
//! `<repo>/run/venv` as `scripts/setup-machine.sh` makes it) and the reference tool
//! built next to the harness (`cargo build -p b2s3-ref`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use b2s3_harness::s3::{Endpoint, S3Client, S3Options};

pub const HARNESS: &str = env!("CARGO_BIN_EXE_b2s3-harness");

/// The moto venv the harness children use.
pub fn venv_dir() -> PathBuf {
    ["B2S3_VENV", "B2S3_MOTO_VENV"]
        .iter()
        .find_map(|v| {
            std::env::var_os(v)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("run")
                .join("venv")
        })
}

/// The reference tool, built into the same target dir as the harness.
pub fn reference_tool() -> PathBuf {
    let path = Path::new(HARNESS).with_file_name("b2s3-ref");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p b2s3-ref`",
        path.display()
    );
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
    /// Runs `command` to completion.
    pub fn of(mut command: Command) -> Run {
        Run::from(command.output().expect("the harness runs"))
    }

    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts that stdout or stderr contains every one of `needles`.
    pub fn assert_says(&self, needles: &[&str]) {
        for needle in needles {
            let found = self.stdout.contains(needle) || self.stderr.contains(needle);
            assert!(found, "{needle:?} not in the output:\n{}", self.text());
        }
    }

    /// Both streams, for assertion messages.
    pub fn text(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A temporary run dir with its own config; torn down on drop.
pub struct World {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub run_dir: PathBuf,
}

impl World {
    pub fn new(label: &str) -> World {
        World::with_config(label, "")
    }

    /// A world whose config gets `extra_tool` appended to its `[tool]` section.
    pub fn with_config(label: &str, extra_tool: &str) -> World {
        let dir = tempfile::Builder::new()
            .prefix(&format!("b2s3-cli-{label}-"))
            .tempdir()
            .unwrap()
            .keep();
        let run_dir = dir.join("run");
        let config = dir.join("harness.toml");
        std::fs::write(&config, config_text(&run_dir, extra_tool)).unwrap();
        World {
            dir,
            config,
            run_dir,
        }
    }

    /// The harness with `--config` and a clean, explicit environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(HARNESS);
        c.arg("--config").arg(&self.config).args(args);
        for var in [
            "B2S3_CONFIG",
            "B2S3_ENV_FILE",
            "SUDO_UID",
            "SUDO_GID",
            "BTRFS_TO_S3_CMD",
        ] {
            c.env_remove(var);
        }
        c.env("B2S3_VENV", venv_dir());
        c
    }

    pub fn harness(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("the harness runs"))
    }

    /// Runs the harness and asserts exit code 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.harness(args);
        assert_eq!(run.code, 0, "b2s3-harness {args:?}:\n{}", run.text());
        run
    }

    /// Runs the harness and asserts the exit code.
    pub fn expect(&self, code: i32, args: &[&str]) -> Run {
        let run = self.harness(args);
        assert_eq!(run.code, code, "b2s3-harness {args:?}:\n{}", run.text());
        run
    }

    pub fn subvolume(&self, name: &str) -> PathBuf {
        self.run_dir.join("mnt/source").join(name)
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.run_dir.join("mnt/source/snapshots")
    }

    pub fn restore_mount(&self) -> PathBuf {
        self.run_dir.join("mnt/restore")
    }

    /// A client for the run's embedded S3 server and the run's prefix.
    pub fn store(&self) -> (S3Client, String) {
        let server = b2s3_harness::s3::server::read_record(&self.run_dir)
            .unwrap()
            .expect("a running server");
        let session = b2s3_harness::session::read_record(&self.run_dir)
            .unwrap()
            .expect("a session");
        let client = S3Client::new(S3Options {
            endpoint: Endpoint::Url(format!("http://127.0.0.1:{}", server.port)),
            bucket: "b2s3-harness".into(),
            region: "us-east-1".into(),
            credentials: None,
        })
        .unwrap();
        (client, session.prefix)
    }

    /// Seeds every subvolume with `size` and runs one backup with the reference tool.
    pub fn seeded_and_backed_up(label: &str, size: &str) -> World {
        let world = World::new(label);
        world.ok(&["seed", "--size", size]);
        world.ok(&["run", "--", "backup"]);
        world
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let run = self.harness(&["teardown"]);
        let mounted = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(&*self.dir.to_string_lossy());
        if run.code == 0 && !mounted {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "teardown of {} incomplete; left in place:\n{}",
                self.dir.display(),
                run.text()
            );
        }
    }
}

fn config_text(run_dir: &Path, extra_tool: &str) -> String {
    format!(
        r#"[tool]
cmd = [{tool:?}]
config_flag = "--config"
{extra_tool}

[s3]
endpoint = "embedded"
bucket = "b2s3-harness"
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
