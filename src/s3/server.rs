//! The embedded S3 server: a `moto_server` child process on a free 127.0.0.1 port, in its
//! own process group, with its TMPDIR and log file under the run directory and its
//! `{pid, port, started_at}` recorded in `<run_dir>/s3-server.json` so that a later
//! harness process can stop a server left behind by a killed one ([`stop_recorded`]).
//! It only ever signals a process it started itself, or a recorded PID whose
//! `/proc/<pid>/cmdline` still names `moto_server` with the recorded port; it never
//! kills by name. Objects and buckets are the client's business, not this module's.

use std::fs::OpenOptions;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::local_http;
use super::venv::{ensure_moto_venv, moto_server_path};

/// The record of a running server, in the run directory.
pub const RECORD_FILE: &str = "s3-server.json";
/// moto's stdout and stderr, in the run directory.
pub const LOG_FILE: &str = "s3-server.log";
/// Output of venv creation (python3 -m venv, pip), in the run directory.
pub const VENV_LOG_FILE: &str = "s3-venv.log";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(5);
const START_ATTEMPTS: u32 = 3;

/// What `<run_dir>/s3-server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRecord {
    pub pid: u32,
    pub port: u16,
    /// RFC 3339, UTC.
    pub started_at: String,
}

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("preparing the moto venv at {venv} failed while {step}: {detail}")]
    Venv {
        venv: PathBuf,
        step: String,
        detail: String,
    },
    #[error("preparing the run directory {path} for the S3 server failed: {source}")]
    RunDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("starting {program} failed: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "moto_server on port {port} exited during startup ({status}); log {log} ends with:\n{tail}"
    )]
    Exited {
        port: u16,
        status: ExitStatus,
        log: PathBuf,
        tail: String,
    },
    #[error("moto_server on port {port} did not answer ListBuckets within {waited:?}; log {log} ends with:\n{tail}")]
    NotReady {
        port: u16,
        waited: Duration,
        log: PathBuf,
        tail: String,
    },
    #[error("an S3 server recorded in {record} (pid {pid}) is still running; stop it with `stop_recorded` or use another run directory")]
    StillRunning { record: PathBuf, pid: u32 },
    #[error("the server record {path} is unusable: {detail}; delete it if no moto_server from this run is alive")]
    Record { path: PathBuf, detail: String },
    #[error("signalling moto_server pid {pid} failed: {detail}")]
    Signal { pid: u32, detail: String },
    #[error("resetting the moto server at {url} failed: {detail}")]
    Reset { url: String, detail: String },
}

/// A running moto server owned by this process; stopped on [`EmbeddedServer::stop`] or drop.
#[derive(Debug)]
pub struct EmbeddedServer {
    child: Option<Child>,
    pid: u32,
    port: u16,
    run_dir: PathBuf,
    startup: Duration,
}

impl EmbeddedServer {
    /// Starts moto from `<venv_dir>/bin/moto_server` (creating the venv first if it
    /// lacks it) and waits until it answers ListBuckets.
    pub fn start(run_dir: &Path, venv_dir: &Path) -> Result<EmbeddedServer, ServerError> {
        let run_dir_error = |source| ServerError::RunDir {
            path: run_dir.to_path_buf(),
            source,
        };
        let tmp_dir = run_dir.join("s3-server-tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(run_dir_error)?;
        refuse_live_record(run_dir)?;
        ensure_moto_venv(venv_dir, &run_dir.join(VENV_LOG_FILE))?;
        let started = Instant::now();
        let mut attempt = 1;
        let (child, port) = loop {
            let port = free_port().map_err(run_dir_error)?;
            let mut child = spawn_moto(venv_dir, run_dir, &tmp_dir, port)?;
            let record = ServerRecord {
                pid: child.id(),
                port,
                started_at: chrono::Utc::now().to_rfc3339(),
            };
            if let Err(e) = write_record(run_dir, &record) {
                stop_child(&mut child);
                return Err(e);
            }
            if let Err(source) = release(&mut child) {
                stop_child(&mut child);
                return Err(ServerError::Spawn { program: moto_server_path(venv_dir), source });
            }
            match wait_ready(&mut child, port, &run_dir.join(LOG_FILE)) {
                Ok(()) => break (child, port),
                // Another process may have taken the port between our probe and moto's bind.
                Err(ServerError::Exited { .. }) if attempt < START_ATTEMPTS => attempt += 1,
                Err(e) => {
                    stop_child(&mut child);
                    return Err(e);
                }
            }
        };
        let server = EmbeddedServer {
            pid: child.id(),
            child: Some(child),
            port,
            run_dir: run_dir.to_path_buf(),
            startup: started.elapsed(),
        };
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// From spawning moto to its first ListBuckets answer (venv creation excluded).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    pub fn log_path(&self) -> PathBuf {
        self.run_dir.join(LOG_FILE)
    }

    /// Wipes all buckets and objects (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<(), ServerError> {
        let reset_error = |detail: String| ServerError::Reset {
            url: self.url(),
            detail,
        };
        match local_http::request(
            loopback(self.port),
            "POST",
            "/moto-api/reset",
            Duration::from_secs(10),
        ) {
            Ok((200, _)) => Ok(()),
            Ok((status, body)) => Err(reset_error(format!("HTTP {status}: {body}"))),
            Err(e) => Err(reset_error(e.to_string())),
        }
    }

    /// SIGTERM to the server's process group, SIGKILL after a grace period, then reaps it
    /// and removes the record. Calling it again does nothing.
    /// Leaves the server running after this value is dropped, for a later harness
    /// process to find through the record (`read_record`) and stop with
    /// [`stop_recorded`] (`b2s3-harness teardown`).
    pub fn detach(mut self) -> ServerRecord {
        // Dropping the `Child` handle neither kills nor waits for the process.
        drop(self.child.take());
        ServerRecord {
            pid: self.pid,
            port: self.port,
            started_at: String::new(),
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
            let _ = std::fs::remove_file(self.run_dir.join(RECORD_FILE));
        }
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What [`stop_recorded`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedStop {
    /// No `s3-server.json` in the run directory.
    NoRecord,
    /// The recorded PID is gone or is no longer our moto_server; the record was removed.
    NotRunning { pid: u32 },
    /// The recorded server was running and has been stopped; the record was removed.
    Stopped { pid: u32 },
}

/// Stops a server recorded in `<run_dir>/s3-server.json` by an earlier (killed) harness
/// process, after checking that the PID still runs `moto_server` on the recorded port.
pub fn stop_recorded(run_dir: &Path) -> Result<RecordedStop, ServerError> {
    let Some(record) = read_record(run_dir)? else {
        return Ok(RecordedStop::NoRecord);
    };
    let path = run_dir.join(RECORD_FILE);
    let pid = record.pid;
    if !is_recorded_moto(pid, record.port) {
        let _ = std::fs::remove_file(&path);
        return Ok(RecordedStop::NotRunning { pid });
    }
    signal_recorded(pid, Signal::SIGTERM)?;
    if !wait_until(STOP_GRACE, || !is_recorded_moto(pid, record.port)) {
        if is_recorded_moto(pid, record.port) {
            signal_recorded(pid, Signal::SIGKILL)?;
        }
        wait_until(STOP_GRACE, || !is_recorded_moto(pid, record.port));
    }
    let _ = std::fs::remove_file(&path);
    Ok(RecordedStop::Stopped { pid })
}

/// Reads `<run_dir>/s3-server.json`; `None` when there is none.
pub fn read_record(run_dir: &Path) -> Result<Option<ServerRecord>, ServerError> {
    let path = run_dir.join(RECORD_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ServerError::Record {
                path,
                detail: e.to_string(),
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ServerError::Record {
            path,
            detail: e.to_string(),
        })
}

/// Whether `pid` is alive and its command line is `... moto_server ... -p <port>`.
/// A zombie has an empty command line and so does not count.
pub fn is_recorded_moto(pid: u32, port: u16) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let names_moto = args.iter().any(|a| a.ends_with("moto_server"));
    let port_arg = port.to_string();
    let has_port = args.windows(2).any(|w| w[0] == "-p" && w[1] == port_arg);
    names_moto && has_port
}

/// The last 20 lines of a log file (or why it could not be read).
pub(crate) fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(raw) => {
            let text = String::from_utf8_lossy(&raw);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

fn refuse_live_record(run_dir: &Path) -> Result<(), ServerError> {
    match read_record(run_dir) {
        Ok(Some(record)) if is_recorded_moto(record.pid, record.port) => {
            Err(ServerError::StillRunning {
                record: run_dir.join(RECORD_FILE),
                pid: record.pid,
            })
        }
        // A stale or unreadable record of a dead server: it is replaced after startup.
        _ => Ok(()),
    }
}

fn write_record(run_dir: &Path, record: &ServerRecord) -> Result<(), ServerError> {
    let path = run_dir.join(RECORD_FILE);
    let record_error = |detail: String| ServerError::Record {
        path: path.clone(),
        detail,
    };
    let tmp = run_dir.join(format!("{RECORD_FILE}.tmp"));
    let text = serde_json::to_string_pretty(record).map_err(|e| record_error(e.to_string()))?;
    std::fs::write(&tmp, text + "\n").map_err(|e| record_error(e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| record_error(e.to_string()))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(loopback(0))?.local_addr()?.port())
}

fn spawn_moto(
    venv_dir: &Path,
    run_dir: &Path,
    tmp_dir: &Path,
    port: u16,
) -> Result<Child, ServerError> {
    let program = moto_server_path(venv_dir);
    let spawn_error = |source| ServerError::Spawn {
        program: program.clone(),
        source,
    };
    let log_path = run_dir.join(LOG_FILE);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(spawn_error)?;
    let log_err = log.try_clone().map_err(spawn_error)?;
    // The shell waits for a go line on stdin before it becomes moto_server (same PID),
    // so the server never runs unrecorded: if the harness dies before `release`, the
    // shell reads EOF and exits without starting anything.
    Command::new("sh")
        .args(["-c", "read -r go && exec \"$0\" \"$@\""])
        .arg(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("TMPDIR", tmp_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .spawn()
        .map_err(spawn_error)
}

/// Lets a server spawned by [`spawn_moto`] start, once its PID is recorded.
fn release(child: &mut Child) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdin = child.stdin.take().expect("spawn_moto pipes stdin");
    stdin.write_all(b"go\n")
}

/// Polls an unsigned ListBuckets until moto answers, the child exits, or the timeout.
fn wait_ready(child: &mut Child, port: u16, log: &Path) -> Result<(), ServerError> {
    let started = Instant::now();
    loop {
        let exited = |status| ServerError::Exited {
            port,
            status,
            log: log.to_path_buf(),
            tail: log_tail(log),
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Err(exited(status));
        }
        // Another server may have won the port race: only our child's socket counts.
        if listens_on(child.id(), port) {
            let answer = local_http::request(loopback(port), "GET", "/", Duration::from_secs(2));
            if matches!(&answer, Ok((200, body)) if body.contains("ListAllMyBucketsResult")) {
                return Ok(());
            }
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(ServerError::NotReady {
                port,
                waited: READY_TIMEOUT,
                log: log.to_path_buf(),
                tail: log_tail(log),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` holds a TCP socket listening on `port` (from its fd table and
/// `/proc/<pid>/net/tcp{,6}`).
fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let inodes: Vec<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let port_hex = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|table| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        text.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is fields[1], state fields[3] (0A = LISTEN), inode fields[9].
            fields.len() > 9
                && fields[1].ends_with(&port_hex)
                && fields[3] == "0A"
                && inodes.iter().any(|i| i == fields[9])
        })
    })
}

/// Stops a child we spawned (its PID cannot be reused before we reap it).
fn stop_child(child: &mut Child) {
    let group = Pid::from_raw(child.id() as i32);
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = killpg(group, Signal::SIGTERM);
    if !wait_until(STOP_GRACE, || matches!(child.try_wait(), Ok(Some(_)))) {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = child.wait();
}

/// Signals a recorded (not our child) PID: its whole group when it leads one.
fn signal_recorded(pid: u32, signal: Signal) -> Result<(), ServerError> {
    let target = Pid::from_raw(pid as i32);
    let result = if process_group_of(pid) == Some(pid) {
        killpg(target, signal)
    } else {
        kill(target, signal)
    };
    match result {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(ServerError::Signal {
            pid,
            detail: format!("{signal}: {e}"),
        }),
    }
}

/// The process group of `pid`, from `/proc/<pid>/stat` (field 5).
fn process_group_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(2)?.parse().ok()
}

/// Polls `done` every 50 ms until it holds (true) or `limit` passes (false).
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if done() {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_process_is_not_mistaken_for_a_moto_server() {
        assert!(!is_recorded_moto(std::process::id(), 5000));
    }

    #[test]
    fn the_process_group_of_this_process_is_read_from_proc() {
        let expected = nix::unistd::getpgrp().as_raw() as u32;
        assert_eq!(process_group_of(std::process::id()), Some(expected));
    }

    #[test]
    fn a_listening_socket_is_attributed_to_its_owner_only() {
        let listener = TcpListener::bind(loopback(0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listens_on(std::process::id(), port));
        assert!(!listens_on(std::process::id(), free_port().unwrap()));
        assert!(!listens_on(1, port));
    }

    #[test]
    fn a_missing_record_means_there_is_nothing_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(stop_recorded(dir.path()).unwrap(), RecordedStop::NoRecord);
    }

    #[test]
    fn a_record_of_a_dead_pid_is_removed_without_signalling_anyone() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        write_record(
            dir.path(),
            &ServerRecord {
                pid,
                port: 1,
                started_at: "x".into(),
            },
        )
        .unwrap();
        assert_eq!(
            stop_recorded(dir.path()).unwrap(),
            RecordedStop::NotRunning { pid }
        );
        assert!(!dir.path().join(RECORD_FILE).exists());
    }
}
