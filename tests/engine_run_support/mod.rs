//! Shared helpers for the `engine_run_*` integration tests: a [`World`] per test (a run
//! dir with its own btrfs fixture, its own moto server and a harness session over the
//! reference tool), torn down on drop so that no mount, loop device or process
//! outlives the test; and builders for hand-written plans.
//!
//! Needs root, btrfs-progs, the moto venv (`B2S3_VENV`, `B2S3_MOTO_VENV` or
//! `<repo>/run/venv`) and the reference tool (`cargo build -p b2s3-ref`).
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use b2s3_harness::config::Config;
use b2s3_harness::engine::history::{Role, StepRecord, TimingDecision};
use b2s3_harness::engine::killpoint::Phase;
use b2s3_harness::engine::{CaseOptions, CaseReport, Engine};
use b2s3_harness::gen::plan::*;
use b2s3_harness::oracle::finding::{Property, Severity};
use b2s3_harness::s3::EmbeddedServer;
use b2s3_harness::session::{self, Session};

const FIXTURE_LOCK: &str = "/tmp/b2s3-harness-fixture-tests.lock";
const IMAGE_BYTES: u64 = 1 << 30;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv() -> PathBuf {
    for var in ["B2S3_VENV", "B2S3_MOTO_VENV"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
    }
    repo().join("run").join("venv")
}

/// A run of its own: fixture, moto server, session. Torn down on drop.
pub struct World {
    pub dir: PathBuf,
    session: Option<Session>,
    server: Option<EmbeddedServer>,
    _lock: File,
}

impl World {
    /// A world running the reference tool.
    pub fn new(label: &str) -> World {
        let tool = repo().join("target").join("debug").join("b2s3-ref");
        assert!(
            tool.exists(),
            "build the reference tool first: cargo build -p b2s3-ref ({} missing)",
            tool.display()
        );
        World::with_tool(label, &[tool.display().to_string()])
    }

    /// A world running `cmd` as the tool (e.g. a stand-in that hangs).
    pub fn with_tool(label: &str, cmd: &[String]) -> World {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "engine run tests need root (loop devices, btrfs)"
        );
        let lock = shared_fixture_lock();
        let dir = tempfile::Builder::new()
            .prefix(&format!("b2s3-engine-{label}-"))
            .tempdir()
            .unwrap()
            .keep();
        let server = EmbeddedServer::start(&dir.join("moto"), &venv()).expect("moto server starts");
        let config_path = dir.join("harness.toml");
        std::fs::write(&config_path, config_text(&dir, cmd, &server.url())).unwrap();
        let config = Config::load_with_env(&config_path, |_| None).expect("test config loads");
        let session = Session::open(config).expect("session opens");
        World {
            dir,
            session: Some(session),
            server: Some(server),
            _lock: lock,
        }
    }

    pub fn session(&self) -> &Session {
        self.session.as_ref().expect("session open")
    }

    pub fn engine(&self) -> Engine<'_> {
        Engine::new(self.session()).expect("engine starts")
    }

    /// Whether any directory of case `id` is still on disk.
    pub fn case_area_exists(&self, id: &str) -> bool {
        let fx = &self.session().fixture;
        [
            fx.source_mount().join("cases").join(id),
            fx.restore_mount().join("cases").join(id),
            fx.run_dir().join("cases").join(id),
        ]
        .iter()
        .any(|p| p.exists())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        drop(self.session.take());
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        for attempt in 1..=3 {
            match self.tear_down() {
                Ok(()) => return,
                Err(why) if attempt == 3 => {
                    eprintln!("{} left in place: {why}", self.dir.display())
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_secs(1)),
            }
        }
    }
}

impl World {
    /// Undoes the fixture and removes the run dir, unless something is still mounted.
    fn tear_down(&self) -> Result<(), String> {
        let summary = session::teardown(&self.dir.join("run")).map_err(|e| e.to_string())?;
        if !summary.fixture.is_clean() {
            return Err(format!("{:?}", summary.fixture));
        }
        let below = b2s3_harness::fixture::mounts::mounts_below(&self.dir).unwrap_or_default();
        if !below.is_empty() {
            return Err(format!("still mounted below it: {below:?}"));
        }
        std::fs::remove_dir_all(&self.dir).map_err(|e| e.to_string())
    }
}

/// The fixture tests' machine-wide lock, taken shared: tests that compare the machine's
/// loop devices and mounts (exclusive holders) do not run while this world exists.
fn shared_fixture_lock() -> File {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(FIXTURE_LOCK)
        .unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) },
        0,
        "locking {FIXTURE_LOCK}"
    );
    file
}

fn config_text(dir: &Path, cmd: &[String], endpoint: &str) -> String {
    format!(
        r#"[tool]
cmd = {cmd:?}
config_flag = "--config"
pass_env = ["B2S3_REF_BUG"]

[s3]
endpoint = {endpoint:?}
bucket = "b2s3-engine-test"
test_prefix = "engine-test"
region = "us-east-1"

[btrfs]
image_size_bytes = {IMAGE_BYTES}
restore_image_size_bytes = {IMAGE_BYTES}
subvolumes = ["data"]

[paths]
run_dir = {run:?}
"#,
        run = dir.join("run").display().to_string(),
    )
}

// ---- plan builders ----

pub const KIB: u64 = 1024;

pub fn settings() -> ToolSettings {
    ToolSettings {
        chunk_size_bytes: 64 * KIB,
        retain: 2,
        storage_class_chunks: "STANDARD".into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
        concurrency: 2,
        spool_enabled: false,
        spool_size_bytes: 64 << 20,
        full_every_days: 180,
        incremental_every_days: 7,
        verify_mode: VerifyMode::Full,
        sample_max_files: 1000,
        wait_for_restore: true,
        restore_timeout_seconds: 120,
    }
}

pub fn plan(name: &str, subvolumes: Vec<SubvolumePlan>, steps: Vec<Step>) -> Plan {
    Plan {
        format: PLAN_FORMAT,
        seed: None,
        case: None,
        name: name.into(),
        tool: settings(),
        subvolumes,
        steps,
    }
}

pub fn random(len: u64, seed: u64) -> Content {
    Content {
        len,
        pattern: Pattern::Random { seed },
    }
}

pub fn write(path: &str, len: u64, seed: u64) -> Mutation {
    Mutation::Write {
        path: path.into(),
        content: random(len, seed),
        mode: 0o644,
    }
}

/// A subvolume with a directory, files (about 300 KiB: several 64 KiB chunks), a
/// symlink, a hardlink and an xattr.
pub fn subvolume(name: &str) -> SubvolumePlan {
    SubvolumePlan {
        name: name.into(),
        initial: vec![
            Mutation::Mkdir {
                path: "docs".into(),
                mode: 0o755,
            },
            write("docs/a.bin", 200 * KIB, 1),
            write("b.txt", 100 * KIB + 17, 2),
            Mutation::Symlink {
                path: "link".into(),
                target: "docs/a.bin".into(),
            },
            Mutation::Hardlink {
                existing: "b.txt".into(),
                new: "docs/b-again.txt".into(),
            },
            Mutation::SetXattr {
                path: "b.txt".into(),
                name: "user.note".into(),
                value: "6869".into(),
            },
        ],
    }
}

pub fn mutate(subvolume: &str, seed: u64) -> Step {
    Step::Mutate {
        subvolume: subvolume.into(),
        ops: vec![
            write(&format!("new-{seed}.bin"), 90 * KIB + seed, seed),
            Mutation::Append {
                path: "b.txt".into(),
                content: random(3000, seed + 100),
            },
            Mutation::Chmod {
                path: "docs/a.bin".into(),
                mode: 0o600,
            },
        ],
    }
}

pub fn backup(once: bool, fault: Option<BackupFault>) -> Step {
    Step::Backup(BackupStep {
        gap_ms: 1100,
        subvolumes: Vec::new(),
        once,
        mode: BackupMode::Normal,
        fault,
    })
}

pub fn restore(subvolume: &str, source: RestoreSource) -> Step {
    Step::Restore(RestoreStep {
        subvolume: subvolume.into(),
        source,
        verify: VerifyMode::Full,
        wait: None,
        existing_target: false,
        kill: None,
        fault: None,
        retry: false,
    })
}

/// A restore of `current.json` whose first attempt is served a corrupted chunk of the
/// `from_end`-th manifest of the chain, then retried.
pub fn corrupt_restore(subvolume: &str, from_end: u32, verify: VerifyMode) -> Step {
    Step::Restore(RestoreStep {
        subvolume: subvolume.into(),
        source: RestoreSource::Current,
        verify,
        wait: None,
        existing_target: false,
        kill: None,
        fault: Some(RestoreFault::CorruptChunk { from_end, pick: 11 }),
        retry: true,
    })
}

pub fn kill_on_request(object: ObjectClass, nth: u32, before: bool) -> Option<BackupFault> {
    Some(BackupFault::Kill {
        at: KillPoint::OnRequest {
            at: RequestPoint { object, nth },
            before,
        },
    })
}

// ---- report helpers ----

pub fn run(engine: &Engine, plan: &Plan) -> CaseReport {
    engine.run_case(plan, &CaseOptions::default())
}

/// Panics with the whole report unless the case ran to its end with no failing finding.
pub fn assert_clean(report: &CaseReport) {
    let failing: Vec<String> = report.failing().map(|f| f.to_string()).collect();
    assert!(
        report.harness_error.is_none()
            && !report.interrupted
            && report.stopped.is_none()
            && failing.is_empty(),
        "case {} ({}) is not clean:\n{}\nnotes: {:#?}",
        report.case_id,
        report.plan.name,
        report.render(),
        report
            .history
            .steps
            .iter()
            .map(|s| (s.index, s.notes.clone()))
            .collect::<Vec<_>>()
    );
}

/// The properties of the failing findings.
pub fn failing_properties(report: &CaseReport) -> Vec<Property> {
    report.failing().map(|f| f.property).collect()
}

pub fn violations(report: &CaseReport) -> usize {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Violation)
        .count()
}

/// The summary phase of every kill that landed, in step order.
pub fn landed_phases(report: &CaseReport) -> Vec<Phase> {
    report
        .history
        .steps
        .iter()
        .flat_map(|s| s.timing.iter())
        .filter_map(|t| match t {
            TimingDecision::KillLanded { landed, .. } => landed.summary.value().copied(),
            _ => None,
        })
        .collect()
}

pub fn step(report: &CaseReport, index: usize) -> &StepRecord {
    report
        .history
        .steps
        .iter()
        .find(|s| s.index == index)
        .expect("step recorded")
}

pub fn roles(rec: &StepRecord) -> Vec<Role> {
    rec.invocations.iter().map(|i| i.role).collect()
}
