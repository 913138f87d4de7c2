//! Shared helpers for the `s3_*` integration tests: a moto server per test (stopped on
//! drop, so no process outlives a test), a bucket, and clients pointed at it or at a
//! proxy. The venv comes from `B2S3_MOTO_VENV`, else `target/moto-venv` (created on first
//! use, about 25 s).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use b2s3_harness::s3::{EmbeddedServer, Endpoint, S3Client, S3Options};

pub const BUCKET: &str = "harness-test";

pub fn venv_dir() -> PathBuf {
    std::env::var_os("B2S3_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("moto-venv")
        })
}

/// A running moto server with one bucket and a client for it.
pub struct Local {
    pub client: S3Client,
    pub server: EmbeddedServer,
    pub run_dir: tempfile::TempDir,
}

pub fn start_local() -> Local {
    let run_dir = tempfile::tempdir().expect("temp run dir");
    let server = EmbeddedServer::start(run_dir.path(), &venv_dir()).expect("moto server starts");
    let client = client_at(&server.url());
    client.create_bucket().expect("bucket created");
    Local {
        client,
        server,
        run_dir,
    }
}

pub fn client_at(url: &str) -> S3Client {
    S3Client::new(S3Options {
        endpoint: Endpoint::Url(url.to_string()),
        bucket: BUCKET.to_string(),
        region: "eu-central-1".to_string(),
        credentials: None,
    })
    .expect("client builds")
}

/// Whether `/proc/<pid>` is gone or a zombie (a killed process not yet reaped).
pub fn process_is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Polls `condition` every 20 ms for up to `limit`.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}
