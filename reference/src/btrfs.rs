//! Thin wrappers over the `btrfs` command line (found on `PATH`): read-only snapshots,
//! subvolume deletion, `btrfs send [-p]` and `btrfs receive` as child processes with their
//! stderr collected on a side thread, and clearing the read-only property. This module
//! runs commands and reports their failures with the command line and stderr; it must not
//! decide names, order or retention.

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;

/// Runs `btrfs <args>` to completion; on failure the error carries the command and stderr.
pub fn run(args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let shown = show(args);
    let out = Command::new("btrfs")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(format!("{shown} failed with {}: {stderr}", describe_status(out.status)))
}

fn show(args: &[&std::ffi::OsStr]) -> String {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    format!("`btrfs {}`", words.join(" "))
}

/// "exit code N" or "signal N".
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown status".to_string(),
    }
}

/// `btrfs subvolume snapshot -r <source> <dest>`.
pub fn snapshot_readonly(source: &Path, dest: &Path) -> Result<(), String> {
    run(&["subvolume".as_ref(), "snapshot".as_ref(), "-r".as_ref(), source.as_os_str(), dest.as_os_str()])
        .map(drop)
}

/// `btrfs subvolume delete <path>`.
pub fn delete_subvolume(path: &Path) -> Result<(), String> {
    run(&["subvolume".as_ref(), "delete".as_ref(), path.as_os_str()]).map(drop)
}

/// `btrfs property set -f -ts <path> ro false`: makes a received subvolume writable.
pub fn set_writable(path: &Path) -> Result<(), String> {
    let args: [&std::ffi::OsStr; 7] =
        ["property".as_ref(), "set".as_ref(), "-f".as_ref(), "-ts".as_ref(), path.as_os_str(), "ro".as_ref(), "false".as_ref()];
    run(&args).map(drop)
}

/// True if `path` is the root of a btrfs subvolume (inode 256 on btrfs).
pub fn is_subvolume(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).map(|m| m.is_dir() && m.ino() == 256).unwrap_or(false)
}

/// Collects a child's stderr on a side thread so the child never blocks on it.
pub struct StderrCollector(Option<JoinHandle<String>>);

impl StderrCollector {
    fn start(child: &mut Child) -> StderrCollector {
        let handle = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                String::from_utf8_lossy(&bytes).trim().to_string()
            })
        });
        StderrCollector(handle)
    }

    /// Everything the child wrote to stderr (waits for the pipe to close).
    pub fn finish(&mut self) -> String {
        self.0.take().and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

/// A running `btrfs send`.
pub struct Send {
    child: Child,
    pub stdout: ChildStdout,
    stderr: StderrCollector,
}

impl Send {
    /// Starts `btrfs send [-p <parent>] <snapshot>` with the stream on a pipe.
    pub fn spawn(snapshot: &Path, parent: Option<&Path>) -> Result<Send, String> {
        let mut cmd = Command::new("btrfs");
        cmd.arg("send");
        if let Some(p) = parent {
            cmd.arg("-p").arg(p);
        }
        cmd.arg(snapshot).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot start btrfs send of {}: {e}", snapshot.display()))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = StderrCollector::start(&mut child);
        Ok(Send { child, stdout, stderr })
    }

    /// Waits for a send whose stream was read to the end: Ok, or Err(stderr).
    pub fn finish(mut self) -> Result<(), String> {
        let status = self.child.wait().map_err(|e| format!("cannot wait for btrfs send: {e}"))?;
        let stderr = self.stderr.finish();
        if status.success() {
            Ok(())
        } else if stderr.is_empty() {
            Err(format!("btrfs send failed with {}", describe_status(status)))
        } else {
            Err(stderr)
        }
    }

    /// Stops a send whose stream is abandoned; returns what it wrote to stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.finish()
    }
}

/// A running `btrfs receive <dir>` fed through its stdin.
pub struct Receive {
    child: Child,
    pub stdin: Option<ChildStdin>,
    stderr: StderrCollector,
}

impl Receive {
    /// Starts `btrfs receive <dir>`.
    pub fn spawn(dir: &Path) -> Result<Receive, String> {
        let mut child = Command::new("btrfs")
            .arg("receive")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start btrfs receive into {}: {e}", dir.display()))?;
        let stdin = child.stdin.take();
        let stderr = StderrCollector::start(&mut child);
        Ok(Receive { child, stdin, stderr })
    }

    /// Closes the stream and waits: Ok, or Err(`btrfs receive failed with exit code N: ...`).
    pub fn finish(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| format!("cannot wait for btrfs receive: {e}"))?;
        let stderr = self.stderr.finish();
        if status.success() {
            return Ok(());
        }
        let mut message = format!("btrfs receive failed with {}", describe_status(status));
        if !stderr.is_empty() {
            message.push_str(": ");
            message.push_str(&stderr);
        }
        Err(message)
    }

    /// Kills a receive whose stream is abandoned.
    pub fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.stderr.finish();
    }
}
