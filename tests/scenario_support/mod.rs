//! Shared by the `scenario_*` integration tests that drive the real `b2s3-harness`
//! binary with the reference tool. A [`ScenarioWorld`] is a `cli_support` world (temp
//! run dir, reference tool, embedded moto, torn down on drop) whose tool also gets
//! `B2S3_REF_BUG` (`tool.pass_env`), with the repository's three scenario settings
//! files copied next to its config, and optionally a moto server owned by the test
//! instead of the embedded one (so that S3 objects outlive the harness's teardown). A
//! shared machine lock keeps the fixture tests that compare loop devices and mounts
//! from seeing ours.
//!
//! Needs root, btrfs-progs, a moto venv (see `cli_support`) and `cargo build -p b2s3-ref`.
#![allow(dead_code)]

use std::path::Path;

use b2s3_harness::s3::server::EmbeddedServer;

#[path = "../cli_support/mod.rs"]
mod cli_support;
#[path = "../fixture_support/mod.rs"]
mod fixture_support;

pub use cli_support::{venv_dir, Run, World};

/// Where the world's S3 objects live.
pub enum Store {
    /// The harness's embedded server (stopped by its teardown).
    Embedded,
    /// A moto server this test owns, given to the harness as an endpoint URL.
    Own,
}

/// Fields drop in order: the test's server stops first, then the world tears down.
pub struct ScenarioWorld {
    pub server: Option<EmbeddedServer>,
    pub world: World,
    _lock: fixture_support::GlobalLock,
}

impl ScenarioWorld {
    pub fn new(label: &str, store: Store) -> ScenarioWorld {
        let _lock = fixture_support::GlobalLock::shared();
        let world = World::with_config(&format!("scenario-{label}"), "pass_env = [\"B2S3_REF_BUG\"]");
        let server = match store {
            Store::Embedded => None,
            Store::Own => Some(EmbeddedServer::start(&world.dir.join("moto"), &venv_dir()).expect("a moto server")),
        };
        if let Some(url) = server.as_ref().map(EmbeddedServer::url) {
            let text = std::fs::read_to_string(&world.config).unwrap();
            let endpoint = format!("endpoint = {url:?}");
            std::fs::write(&world.config, text.replace("endpoint = \"embedded\"", &endpoint)).unwrap();
        }
        let repo_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        for file in ["test_large.toml", "test_archive.toml", "test_spool.toml"] {
            std::fs::copy(repo_config.join(file), world.dir.join(file)).unwrap();
        }
        ScenarioWorld { server, world, _lock }
    }

    /// Runs the harness with `env` added (and no `B2S3_REF_BUG` unless given there).
    pub fn harness(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.world.command(args);
        command.env_remove("B2S3_REF_BUG").envs(env.iter().copied());
        Run::of(command)
    }

    /// The run's prefix, from its session record.
    pub fn prefix(&self) -> String {
        b2s3_harness::session::read_record(&self.world.run_dir).unwrap().expect("a session record").prefix
    }
}

/// Property ids of the finding lines a run printed (`[P7 layout-and-metadata ...`).
pub fn finding_ids(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix('['))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.len() > 1 && id.starts_with('P') && id[1..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}
