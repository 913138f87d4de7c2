//! `doctor`: checks that this machine can run the harness and the configured tool, and
//! says what is missing and how to install it. It changes nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::{Config, S3Endpoint};
use crate::exit;
use crate::s3::venv::moto_server_path;
use crate::session;

use super::{load_config, CommandError};

/// One check: its name, whether it passed, and what was seen or what to do.
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check { name, ok, detail: detail.into() }
}

/// Runs a command quietly; `Ok(first line of stdout)` when it exits 0.
fn probe(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string())
    } else {
        Err(format!("{program} exited with {}", out.status))
    }
}

fn machine_checks() -> Vec<Check> {
    let root = nix::unistd::geteuid().is_root();
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let btrfs = probe("btrfs", &["--version"]);
    let mkfs = probe("mkfs.btrfs", &["--version"]);
    let python = probe("python3", &["--version"]);
    vec![
        check("root", root, if root { "running as root" } else { "run as root (sudo): the harness mounts filesystems and attaches loop devices" }),
        check("kernel btrfs", fs.contains("btrfs"), "btrfs in /proc/filesystems (else: modprobe btrfs)"),
        check("loop devices", Path::new("/dev/loop-control").exists(), "/dev/loop-control (else: modprobe loop)"),
        check("btrfs-progs", btrfs.is_ok() && mkfs.is_ok(), btrfs.and(mkfs).unwrap_or_else(|e| format!("{e}; install with: apt-get update && apt-get install -y btrfs-progs"))),
        check("python3", python.is_ok(), python.unwrap_or_else(|e| format!("{e}; needed for the embedded S3 server (apt-get install -y python3 python3-venv)"))),
    ]
}

/// The configured tool answers `cmd` with no arguments by printing help and exiting 0
/// (CONTRACT.md section 1).
fn tool_check(config: &Config) -> Check {
    let cmd = &config.tool.cmd;
    let mut command = Command::new(&cmd[0]);
    command.args(&cmd[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(dir) = &config.tool.cwd {
        command.current_dir(dir);
    }
    if let Some(path) = &config.tool.pythonpath {
        command.env("PYTHONPATH", path);
    }
    let shown = shell_words::join(cmd);
    match command.status() {
        Ok(status) if status.success() => check("tool command", true, format!("{shown} (help, exit 0)")),
        Ok(status) => check("tool command", false, format!("{shown} exited with {status}; with no arguments it must print help and exit 0")),
        Err(e) => check("tool command", false, format!(
            "cannot run {shown}: {e}; for the reference tool run `cargo build -p b2s3-ref`; otherwise set tool.cmd or BTRFS_TO_S3_CMD"
        )),
    }
}

fn s3_check(config: &Config) -> Check {
    let endpoint = match &config.s3.endpoint {
        S3Endpoint::Embedded => {
            let venv = session::venv_dir(config);
            let server = moto_server_path(&venv);
            return check("S3", true, if server.exists() {
                format!("embedded moto server at {} (started on demand)", server.display())
            } else {
                format!("embedded: the moto venv {} is created at first use (about 30 s, needs PyPI); or run scripts/setup-machine.sh", venv.display())
            });
        }
        S3Endpoint::Url(url) => Some(url.as_str()),
        S3Endpoint::Aws => None,
    };
    let shown = endpoint.unwrap_or("AWS");
    match crate::s3::S3Client::new(session::s3_options(config, endpoint)).and_then(|c| c.reachable()) {
        Ok(()) => check("S3", true, format!("{shown} answers")),
        Err(e) => check("S3", false, format!("{shown}: {e}")),
    }
}

/// `doctor`: prints one line per check; exits 0 when all pass, else 3.
pub fn doctor(config_path: &Path) -> Result<i32, CommandError> {
    let mut checks = machine_checks();
    match load_config(config_path) {
        Ok(config) => {
            checks.push(check("config", true, config.file.display().to_string()));
            checks.push(tool_check(&config));
            checks.push(s3_check(&config));
        }
        Err(e) => checks.push(check("config", false, e.to_string())),
    }
    for c in &checks {
        println!("{:<8} {:<14} {}", if c.ok { "ok" } else { "MISSING" }, c.name, c.detail);
    }
    Ok(if checks.iter().all(|c| c.ok) { exit::OK } else { exit::HARNESS_ERROR })
}
