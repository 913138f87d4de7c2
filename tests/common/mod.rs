//! Test helpers shared by the generator, model and scanner tests: a throw-away btrfs
//! filesystem on a loop file, and a tree equality assertion that reports differences
//! through the oracle's diff.
//!
//! [`Btrfs`] records the loop device it attached and the mount it made, and undoes
//! exactly those in `Drop`; it never touches loop devices or mounts it did not create.
//! Tests that need it fail when btrfs is unavailable, unless `B2S3_SKIP_BTRFS_TESTS=1`
//! is set (then they say so and return).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use b2s3_harness::fixture::{self, tree::Tree};
use b2s3_harness::model::mask_unpredicted;
use b2s3_harness::oracle::diff::diff;

/// Runs a command, returning its stdout, or panicking with its stderr.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "`{cmd} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[path = "../fixture_support/mod.rs"]
mod fixture_support;

/// A btrfs filesystem on a sparse loop file, mounted in a temp dir.
pub struct Btrfs {
    dir: tempfile::TempDir,
    loop_dev: Option<String>,
    mounted: bool,
    /// Held shared while our loop device exists, so that the fixture tests that compare
    /// the machine's loop devices and mounts (holding it exclusively) never see ours.
    _lock: fixture_support::GlobalLock,
}

impl Btrfs {
    /// A fresh filesystem of `size_mib` MiB, or `None` when skipping is allowed and btrfs
    /// cannot be set up here (not root, no loop devices, no btrfs-progs).
    pub fn new(size_mib: u64) -> Option<Btrfs> {
        if std::env::var("B2S3_SKIP_BTRFS_TESTS").is_ok_and(|v| v == "1") {
            eprintln!("B2S3_SKIP_BTRFS_TESTS=1: skipping a test that needs btrfs on a loop device");
            return None;
        }
        assert!(
            nix::unistd::geteuid().is_root(),
            "btrfs tests need root (or set B2S3_SKIP_BTRFS_TESTS=1)"
        );
        let dir = tempfile::Builder::new().prefix("b2s3-genmodel-").tempdir().expect("temp dir");
        let _lock = fixture_support::GlobalLock::shared();
        let mut fs = Btrfs { dir, loop_dev: None, mounted: false, _lock };
        let image = fs.dir.path().join("fs.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(size_mib << 20))
            .expect("sparse image");
        let dev = run("losetup", &["--find", "--show", image.to_str().unwrap()]);
        fs.loop_dev = Some(dev.clone());
        run("mkfs.btrfs", &["-q", &dev]);
        std::fs::create_dir(fs.mount()).expect("mount point");
        run("mount", &[&dev, fs.mount().to_str().unwrap()]);
        fs.mounted = true;
        Some(fs)
    }

    pub fn mount(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// Creates a subvolume at `mount/rel` and returns its path.
    pub fn subvolume(&self, rel: &str) -> PathBuf {
        let path = self.mount().join(rel);
        fixture::btrfs::create_subvolume(&path).expect("subvolume create");
        path
    }

    /// A read-only snapshot of `source` at `mount/rel`.
    pub fn snapshot(&self, source: &Path, rel: &str) -> PathBuf {
        let path = self.mount().join(rel);
        fixture::btrfs::snapshot(source, &path, true).expect("read-only snapshot");
        path
    }

    /// `btrfs send [-p parent] snapshot | btrfs receive into`; returns the received path.
    pub fn send_receive(&self, snapshot: &Path, parent: Option<&Path>, into: &Path) -> PathBuf {
        std::fs::create_dir_all(into).expect("receive dir");
        let mut send = Command::new("btrfs");
        send.args(["send", "-q"]);
        if let Some(p) = parent {
            send.arg("-p").arg(p);
        }
        let stream = send.arg(snapshot).output().expect("btrfs send");
        assert!(
            stream.status.success(),
            "send failed: {}",
            String::from_utf8_lossy(&stream.stderr)
        );
        let mut recv = Command::new("btrfs")
            .args(["receive", "-q"])
            .arg(into)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("btrfs receive");
        use std::io::Write;
        recv.stdin.take().unwrap().write_all(&stream.stdout).expect("feed receive");
        let out = recv.wait_with_output().expect("receive");
        assert!(out.status.success(), "receive failed: {}", String::from_utf8_lossy(&out.stderr));
        into.join(snapshot.file_name().unwrap())
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        if self.mounted {
            let mnt = self.mount();
            let ok = Command::new("umount").arg(&mnt).status().is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&mnt).status();
            }
        }
        if let Some(dev) = &self.loop_dev {
            let _ = Command::new("losetup").args(["-d", dev]).status();
        }
    }
}

/// Panics with `what` and the oracle's report of the differences unless `seen`, with
/// the fields the model does not predict cleared, equals `expected` exactly (the
/// oracle's diff names the differences; full equality also covers `subvolume_root`).
pub fn assert_tree_eq(expected: &Tree, seen: &Tree, what: &str) {
    let d = diff(expected, seen);
    assert!(d.is_empty(), "{what}: {}", d.render(5));
    let seen = mask_unpredicted(seen);
    assert!(*expected == seen, "{what}: trees differ outside the diff: {expected:?} vs {seen:?}");
}
