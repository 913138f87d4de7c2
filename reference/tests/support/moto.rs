//! One moto S3 server per test binary, started on first use on a free port with its own
//! TMPDIR, and stopped when the test process exits (an `atexit` hook kills it by PID; a
//! parent-death signal covers crashes). The server binary is found through
//! `B2S3_MOTO_SERVER`, then `<repo>/run/venv/bin/moto_server` (what
//! `scripts/setup-machine.sh` creates). This module must not create buckets.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running server.
pub struct Moto {
    pub endpoint: String,
    pub pid: u32,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static CLEANUP: Mutex<Option<(u32, PathBuf)>> = Mutex::new(None);

/// The shared server of this test binary.
pub fn shared() -> &'static Moto {
    MOTO.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // Spawned from a thread that never ends, so the parent-death signal only fires
        // when the whole test process goes away.
        std::thread::spawn(move || {
            let _ = tx.send(start());
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("moto starter thread").unwrap_or_else(|e| panic!("{e}"))
    })
}

fn server_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("B2S3_MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidate = repo.join("run/venv/bin/moto_server");
    if candidate.exists() {
        return Ok(candidate);
    }
    Err(format!(
        "moto_server not found (looked at $B2S3_MOTO_SERVER and {}). Create it with: \
         bash scripts/setup-machine.sh (or python3 -m venv run/venv && run/venv/bin/pip install 'moto[server]' boto3)",
        candidate.display()
    ))
}

fn start() -> Result<Moto, String> {
    let binary = server_binary()?;
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let tmp = super::scratch_dir("moto");
    let log = std::fs::File::create(tmp.join("moto.log")).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&binary);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    *CLEANUP.lock().unwrap() = Some((child.id(), tmp.clone()));
    // SAFETY: registers a plain extern "C" function without captured state.
    unsafe { libc::atexit(stop_at_exit) };
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_ready(port).map_err(|e| format!("moto at {endpoint} did not come up: {e} (log in {})", tmp.display()))?;
    Ok(Moto { endpoint, pid: child.id() })
}

fn wait_ready(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut head = [0u8; 12];
            if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("no HTTP answer within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

extern "C" fn stop_at_exit() {
    if let Ok(mut guard) = CLEANUP.lock() {
        if let Some((pid, tmp)) = guard.take() {
            // SAFETY: signals only the moto process this module started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let mut status = 0;
            // SAFETY: reaps that same child.
            unsafe { libc::waitpid(pid as i32, &mut status, 0) };
            let _ = std::fs::remove_dir_all(tmp);
        }
    }
}
