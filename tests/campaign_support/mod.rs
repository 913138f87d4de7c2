//! Shared helpers of the `campaign_*` tests.
//!
//! Without btrfs: campaign specs over a temp directory, the synthetic failure "some
//! backup has a Kill fault and a file of at least 1 MiB exists", and a generator
//! profile that makes such plans common.
//!
//! With btrfs (root, loop devices, the moto venv, `cargo build -p b2s3-ref`): a
//! [`RealRun`] is a temp dir with a harness config over the reference tool (optionally
//! a named bug variant through `[tool.env]`), holding the fixture tests' machine lock
//! shared, and tearing down its run dir on drop; [`World`] adds an in-process session
//! and moto server for library-level runs.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use b2s3_harness::campaign::profile::{Base, CampaignProfile};
use b2s3_harness::campaign::{CampaignSpec, CommandLine, Shard};
use b2s3_harness::config::Config;
use b2s3_harness::engine::Engine;
use b2s3_harness::fixture::tree::EntryKind;
use b2s3_harness::gen::normalize::final_models;
use b2s3_harness::gen::plan::{BackupFault, Plan, Step};
use b2s3_harness::gen::GenProfile;
use b2s3_harness::s3::EmbeddedServer;
use b2s3_harness::session::{self, Session};

pub const BIN: &str = env!("CARGO_BIN_EXE_b2s3-harness");
pub const MIB: u64 = 1 << 20;
const FIXTURE_LOCK: &str = "/tmp/b2s3-harness-fixture-tests.lock";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- without btrfs ----

/// A PR profile with a small shrink budget and the regressions file in `dir`.
pub fn profile(dir: &Path, cases: u64) -> CampaignProfile {
    let mut p = CampaignProfile::builtin("pr", Base::Pr);
    p.cases = cases;
    p.time_budget = Duration::from_secs(600);
    p.regressions = dir.join("campaign.txt");
    p
}

/// A campaign spec whose bug folders and regressions live in `dir`.
pub fn spec(dir: &Path, profile: CampaignProfile, seed: u64) -> CampaignSpec {
    CampaignSpec {
        profile,
        seed,
        shard: Shard::ALL,
        bugs_dir: dir.join("bugs"),
        commands: CommandLine { exe: PathBuf::from("/bin/b2s3-harness"), config: dir.join("h.toml"), env: Default::default() },
        regressions: Vec::new(),
        record_regressions: true,
    }
}

/// True when some backup of `plan` is killed by its fault.
pub fn has_killed_backup(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| matches!(s, Step::Backup(b) if matches!(b.fault, Some(BackupFault::Kill { .. }))))
}

/// The largest regular file of the plan's final trees.
pub fn largest_file(plan: &Plan) -> u64 {
    final_models(plan)
        .iter()
        .flat_map(|(_, m)| m.entries().filter(|e| e.kind == EntryKind::File).map(|e| e.len).collect::<Vec<_>>())
        .max()
        .unwrap_or(0)
}

/// The synthetic failure of the shrink tests.
pub fn synthetic_failure(plan: &Plan) -> bool {
    has_killed_backup(plan) && largest_file(plan) >= MIB
}

/// A generator profile where killed backups and files of 1 to 4 MiB are common.
pub fn big_kill_profile() -> GenProfile {
    let mut g = GenProfile::pr();
    g.fault_rate = 0.9;
    g.faults.contender = 0;
    g.faults.stale_lock = 0;
    g.faults.s3_error = 0;
    g.medium_file_max = 4 * MIB;
    g.sizes.medium = 20;
    g
}

// ---- with btrfs ----

fn shared_fixture_lock() -> File {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(FIXTURE_LOCK).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) }, 0, "locking {FIXTURE_LOCK}");
    file
}

pub fn venv() -> PathBuf {
    for var in ["B2S3_VENV", "B2S3_MOTO_VENV"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
    }
    repo().join("run").join("venv")
}

fn require_machine() -> PathBuf {
    assert!(nix::unistd::geteuid().is_root(), "campaign tests against the reference need root (loop devices, btrfs)");
    let tool = repo().join("target").join("debug").join("b2s3-ref");
    assert!(tool.exists(), "build the reference tool first: cargo build -p b2s3-ref ({} missing)", tool.display());
    tool
}

/// A temp dir with a harness config over the reference tool; its run dir is torn
/// down on drop.
pub struct RealRun {
    pub dir: PathBuf,
    pub config: PathBuf,
    _lock: File,
}

impl RealRun {
    /// `endpoint`: `"embedded"` or a URL; `bug`: a reference bug variant for every
    /// invocation; `profiles`: extra TOML appended to the config.
    pub fn new(label: &str, endpoint: &str, bug: Option<&str>, profiles: &str) -> RealRun {
        let tool = require_machine();
        let lock = shared_fixture_lock();
        let dir = tempfile::Builder::new().prefix(&format!("b2s3-campaign-{label}-")).tempdir().unwrap().keep();
        let env = bug.map_or(String::new(), |b| format!("B2S3_REF_BUG = {b:?}\n"));
        let text = format!(
            "[tool]\ncmd = [{tool:?}]\nconfig_flag = \"--config\"\npass_env = [\"B2S3_REF_BUG\"]\n\n[tool.env]\n{env}\n\
             [s3]\nendpoint = {endpoint:?}\nbucket = \"b2s3-campaign-test\"\ntest_prefix = \"campaign-test\"\nregion = \"us-east-1\"\n\n\
             [btrfs]\nimage_size_bytes = 1073741824\nrestore_image_size_bytes = 1073741824\nsubvolumes = [\"data\"]\n\n\
             [paths]\nrun_dir = {run:?}\n\n{profiles}\n",
            tool = tool.display().to_string(),
            run = dir.join("run").display().to_string(),
        );
        let config = dir.join("harness.toml");
        std::fs::write(&config, text).unwrap();
        RealRun { dir, config, _lock: lock }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    pub fn load(&self) -> Config {
        Config::load_with_env(&self.config, |_| None).expect("test config loads")
    }

    /// The harness binary with this config and the moto venv.
    pub fn harness(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&self.config).args(args).env("B2S3_VENV", venv()).env_remove("B2S3_REF_BUG");
        c
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.harness(args).output().expect("the harness runs")
    }
}

impl Drop for RealRun {
    fn drop(&mut self) {
        match session::teardown(&self.run_dir()) {
            Ok(s) if s.fixture.is_clean() => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
            Ok(s) => eprintln!("{} left in place: {:?}", self.dir.display(), s.fixture),
            Err(e) => eprintln!("teardown of {} failed: {e}", self.dir.display()),
        }
    }
}

/// A [`RealRun`] with its own moto server and an open session, for library-level runs.
pub struct World {
    session: Option<Session>,
    server: Option<EmbeddedServer>,
    moto_dir: PathBuf,
    pub run: RealRun,
}

impl World {
    pub fn new(label: &str, bug: Option<&str>, profiles: &str) -> World {
        require_machine();
        let moto = tempfile::Builder::new().prefix("b2s3-campaign-moto-").tempdir().unwrap().keep();
        let server = EmbeddedServer::start(&moto, &venv()).expect("moto server starts");
        let run = RealRun::new(label, &server.url(), bug, profiles);
        let session = Session::open(run.load()).expect("session opens");
        World { session: Some(session), server: Some(server), moto_dir: moto, run }
    }

    pub fn session(&self) -> &Session {
        self.session.as_ref().expect("session open")
    }

    pub fn engine(&self) -> Engine<'_> {
        Engine::new(self.session()).expect("engine starts")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        drop(self.session.take());
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        let _ = std::fs::remove_dir_all(&self.moto_dir);
    }
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The last non-empty line of stdout.
pub fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string()
}
