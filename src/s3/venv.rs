//! The Python virtual environment that provides `moto_server` (and boto3): created on
//! first use with `python3 -m venv` and `pip install 'moto[server]' boto3`, which takes
//! about 25 s, so progress lines go to stderr and pip's output to a log file. Creation is
//! serialised by an advisory lock file next to the venv, so parallel test binaries do not
//! race. It must not touch an existing venv that already has `moto_server`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::fcntl::{Flock, FlockArg};

use super::server::{log_tail, ServerError};

/// The `moto_server` launcher inside a venv.
pub fn moto_server_path(venv_dir: &Path) -> PathBuf {
    venv_dir.join("bin").join("moto_server")
}

/// Makes sure `<venv_dir>/bin/moto_server` exists, creating the venv if needed.
/// `log_path` receives the output of `python3 -m venv` and `pip`.
pub fn ensure_moto_venv(venv_dir: &Path, log_path: &Path) -> Result<(), ServerError> {
    if moto_server_path(venv_dir).exists() {
        return Ok(());
    }
    let _lock = lock_venv(venv_dir)?;
    if moto_server_path(venv_dir).exists() {
        return Ok(()); // another process created it while we waited for the lock
    }
    let started = Instant::now();
    eprintln!(
        "b2s3-harness: creating the moto venv at {} (one time, about 25 s)",
        venv_dir.display()
    );
    let venv_arg = venv_dir.as_os_str().to_owned();
    run_logged(
        venv_dir,
        Command::new("python3").args(["-m", "venv"]).arg(&venv_arg),
        log_path,
        "python3 -m venv",
    )?;
    eprintln!(
        "b2s3-harness: installing moto[server] and boto3 with pip (log: {})",
        log_path.display()
    );
    let pip = venv_dir.join("bin").join("pip");
    run_logged(
        venv_dir,
        Command::new(&pip).args([
            "install",
            "--disable-pip-version-check",
            "moto[server]",
            "boto3",
        ]),
        log_path,
        "pip install 'moto[server]' boto3",
    )?;
    if !moto_server_path(venv_dir).exists() {
        return Err(ServerError::Venv {
            venv: venv_dir.to_path_buf(),
            step: "checking for bin/moto_server after pip install".into(),
            detail: log_tail(log_path),
        });
    }
    eprintln!(
        "b2s3-harness: moto venv ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn lock_venv(venv_dir: &Path) -> Result<Flock<File>, ServerError> {
    let venv_error = |step: &str, detail: String| ServerError::Venv {
        venv: venv_dir.to_path_buf(),
        step: step.to_string(),
        detail,
    };
    if let Some(parent) = venv_dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| venv_error("creating the venv's parent directory", e.to_string()))?;
    }
    let mut lock_name = venv_dir.as_os_str().to_owned();
    lock_name.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(lock_name))
        .map_err(|e| venv_error("opening the venv lock file", e.to_string()))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| venv_error("locking the venv lock file", errno.to_string()))
}

fn run_logged(
    venv_dir: &Path,
    command: &mut Command,
    log_path: &Path,
    step: &str,
) -> Result<(), ServerError> {
    let venv_error = |detail: String| ServerError::Venv {
        venv: venv_dir.to_path_buf(),
        step: step.to_string(),
        detail,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| venv_error(format!("cannot open log {}: {e}", log_path.display())))?;
    let log_err = log.try_clone().map_err(|e| venv_error(e.to_string()))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .status()
        .map_err(|e| {
            venv_error(format!(
                "cannot run it: {e} (is python3 installed, with the venv module?)"
            ))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(venv_error(format!(
            "it exited with {status}; log tail:\n{}",
            log_tail(log_path)
        )))
    }
}
