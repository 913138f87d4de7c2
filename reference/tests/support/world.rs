//! `World`: everything one test needs in one value: a source btrfs with subvolumes under
//! `vols/` and snapshots under `snaps/`, a separate restore btrfs, a bucket on the shared
//! moto server, a scratch directory with config, state and lock, and helpers to run
//! `backup` and `restore` against them. Dropping it tears all of that down (the bucket
//! dies with the moto server at exit).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::fixture::BtrfsImage;
use super::s3::TestS3;
use super::tool::{self, Outcome};

/// The config knobs tests vary.
#[derive(Clone, Debug)]
pub struct Settings {
    pub chunk_size: u64,
    pub storage_class_chunks: String,
    pub retain: u64,
    /// Some(size) turns spooling on with this `spool_size_bytes`.
    pub spool_size: Option<u64>,
    pub verify_mode: String,
    pub wait_for_restore: bool,
    pub restore_timeout: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            chunk_size: 100_000,
            storage_class_chunks: "STANDARD".into(),
            retain: 2,
            spool_size: None,
            verify_mode: "full".into(),
            wait_for_restore: true,
            restore_timeout: 60,
        }
    }
}

pub const PREFIX: &str = "backups/ref/";

pub struct World {
    pub settings: Settings,
    pub subvolumes: Vec<String>,
    pub scratch: PathBuf,
    pub s3: TestS3,
    // Declared last: dropped after the fields above, in this order.
    pub dst: BtrfsImage,
    pub src: BtrfsImage,
}

impl World {
    pub fn new(label: &str, subvolumes: &[&str], settings: Settings) -> World {
        super::require_root();
        let moto = super::moto::shared();
        let scratch = super::scratch_dir(label);
        let src = BtrfsImage::new(&format!("{label}-src"), 768);
        let dst = BtrfsImage::new(&format!("{label}-dst"), 768);
        let bucket = format!("b-{}", scratch.file_name().unwrap().to_string_lossy().to_lowercase().replace('_', "-"));
        let s3 = TestS3::new(&moto.endpoint, &bucket[..bucket.len().min(63)]);
        for name in subvolumes {
            src.create_subvolume(&format!("vols/{name}"));
        }
        std::fs::create_dir_all(src.mnt.join("snaps")).unwrap();
        let world = World { settings, subvolumes: subvolumes.iter().map(|s| s.to_string()).collect(), scratch, s3, dst, src };
        world.write_config();
        world
    }

    pub fn vol(&self, name: &str) -> PathBuf {
        self.src.mnt.join("vols").join(name)
    }

    pub fn snaps_dir(&self) -> PathBuf {
        self.src.mnt.join("snaps")
    }

    pub fn config_path(&self) -> PathBuf {
        self.scratch.join("config.toml")
    }

    pub fn state_path(&self) -> PathBuf {
        self.scratch.join("state/state.json")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.scratch.join("lock/b2s3.lock")
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.scratch.join("spool")
    }

    pub fn target(&self, name: &str) -> PathBuf {
        self.dst.mnt.join(name)
    }

    /// Writes the config for the current settings.
    pub fn write_config(&self) {
        let s = &self.settings;
        let paths: Vec<String> = self.subvolumes.iter().map(|n| format!("\"{}\"", self.vol(n).display())).collect();
        let spool = s.spool_size.map_or(String::new(), |size| format!("spool_size_bytes = {size}\n"));
        let text = format!(
            "[global]\nlog_level = \"debug\"\nstate_path = \"{}\"\nlock_path = \"{}\"\nspool_dir = \"{}\"\n{spool}\
             [schedule]\nfull_every_days = 30\nincremental_every_days = 7\n\
             [snapshots]\nbase_dir = \"{}\"\nretain = {}\n\
             [subvolumes]\npaths = [{}]\n\
             [s3]\nbucket = \"{}\"\nregion = \"us-east-1\"\nprefix = \"{}\"\nchunk_size_bytes = {}\n\
             storage_class_chunks = \"{}\"\nspool_enabled = {}\n\
             [restore]\nverify_mode = \"{}\"\nwait_for_restore = {}\nrestore_timeout_seconds = {}\n",
            self.state_path().display(),
            self.lock_path().display(),
            self.spool_dir().display(),
            self.snaps_dir().display(),
            s.retain,
            paths.join(", "),
            self.s3.bucket,
            PREFIX.trim_end_matches('/'),
            s.chunk_size,
            s.storage_class_chunks,
            s.spool_size.is_some(),
            s.verify_mode,
            s.wait_for_restore,
            s.restore_timeout,
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Credentials and endpoint for the shared server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_ENDPOINT_URL_S3", super::moto::shared().endpoint.clone()),
        ]
    }

    fn args<'a>(&'a self, sub: &'a str, extra: &[&'a str], config: &'a str) -> Vec<&'a str> {
        let mut args = vec![sub];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--config", config]);
        args
    }

    pub fn backup(&self, extra: &[&str]) -> Outcome {
        self.backup_env(extra, &[])
    }

    pub fn backup_env(&self, extra: &[&str], more_env: &[(&'static str, String)]) -> Outcome {
        let config = self.config_path().to_string_lossy().into_owned();
        let mut env = self.env();
        env.extend_from_slice(more_env);
        tool::run(&self.args("backup", extra, &config), &env)
    }

    /// Starts a backup without waiting (for kills and races); stderr goes to `log`.
    pub fn spawn_backup(&self, extra: &[&str], more_env: &[(&'static str, String)], log: &std::path::Path) -> Child {
        let config = self.config_path().to_string_lossy().into_owned();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_b2s3-ref"));
        cmd.args(self.args("backup", extra, &config)).stdin(Stdio::null()).stdout(Stdio::null());
        cmd.stderr(std::fs::File::create(log).unwrap()).env_remove("B2S3_REF_BUG");
        for (k, v) in self.env().into_iter().chain(more_env.iter().cloned()) {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    pub fn restore(&self, subvolume: &str, target: &std::path::Path, extra: &[&str]) -> Outcome {
        self.restore_env(subvolume, target, extra, &[])
    }

    pub fn restore_env(&self, subvolume: &str, target: &std::path::Path, extra: &[&str], more_env: &[(&'static str, String)]) -> Outcome {
        let config = self.config_path().to_string_lossy().into_owned();
        let target = target.to_string_lossy().into_owned();
        let mut flags = vec!["--subvolume", subvolume, "--target", &target];
        flags.extend_from_slice(extra);
        let mut env = self.env();
        env.extend_from_slice(more_env);
        tool::run(&self.args("restore", &flags, &config), &env)
    }

    /// The state file, or None if absent.
    pub fn state(&self) -> Option<serde_json::Value> {
        std::fs::read(self.state_path()).ok().map(|b| serde_json::from_slice(&b).unwrap())
    }

    /// Snapshot basenames of `subvolume`, sorted.
    pub fn snapshots(&self, subvolume: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.snaps_dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with(&format!("{subvolume}__")))
            .collect();
        names.sort();
        names
    }

    /// Keys of `subvolume` under the prefix.
    pub fn keys(&self, subvolume: &str) -> Vec<String> {
        self.s3.keys(&format!("{PREFIX}subvol/{subvolume}/"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Sets `B2S3_REF_BUG` for one invocation.
pub fn bug(name: &str) -> (&'static str, String) {
    ("B2S3_REF_BUG", name.to_string())
}
