//! Shared helpers for the fixture integration tests (real btrfs, as root): a run dir
//! that is torn down on drop, snapshots of the machine's loop devices and mounts, and a
//! cross-process lock so that tests comparing those snapshots do not run while another
//! fixture test changes them.
//!
//! These helpers touch only what the tests themselves created.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use b2s3_harness::fixture::{self, mounts, Fixture, FixtureOptions};

/// Image size used by the tests (sparse).
pub const TEST_IMAGE_BYTES: u64 = 1 << 30;
const GLOBAL_LOCK: &str = "/tmp/b2s3-harness-fixture-tests.lock";

/// Fail loudly (never skip silently) when not root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "fixture tests need root (loop devices, mkfs, mount); run them as root");
}

/// A `flock` on a file shared by all fixture test processes: tests that compare the
/// machine's loop devices and mounts take it exclusively, all others shared.
pub struct GlobalLock(File);

impl GlobalLock {
    pub fn exclusive() -> GlobalLock {
        GlobalLock::take(libc::LOCK_EX)
    }

    pub fn shared() -> GlobalLock {
        GlobalLock::take(libc::LOCK_SH)
    }

    fn take(mode: libc::c_int) -> GlobalLock {
        require_root();
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(GLOBAL_LOCK).unwrap();
        // SAFETY: flock on a descriptor we own.
        assert_eq!(unsafe { libc::flock(file.as_raw_fd(), mode) }, 0, "locking {GLOBAL_LOCK}");
        GlobalLock(file)
    }
}

/// A fresh run dir under /tmp. On drop: teardown, and if that was clean and nothing is
/// mounted below, remove the directory.
pub struct TestRun {
    pub dir: PathBuf,
}

impl TestRun {
    pub fn new(label: &str) -> TestRun {
        let dir = tempfile::Builder::new().prefix(&format!("b2s3-fixture-{label}-")).tempdir().unwrap();
        TestRun { dir: dir.keep() }
    }

    pub fn options(&self) -> FixtureOptions {
        FixtureOptions {
            image_size_bytes: TEST_IMAGE_BYTES,
            restore_image_size_bytes: TEST_IMAGE_BYTES,
            ..FixtureOptions::new(&self.dir)
        }
    }

    pub fn setup(&self) -> Fixture {
        Fixture::setup(&self.options()).expect("fixture setup")
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        let report = match fixture::teardown(&self.dir) {
            Ok(report) => report,
            Err(e) => return eprintln!("teardown of {} failed: {e}; left in place", self.dir.display()),
        };
        let below = mounts::mounts_below(&self.dir).unwrap_or_default();
        if report.is_clean() && below.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("{} left in place: {report:?}, mounts below: {below:?}", self.dir.display());
        }
    }
}

/// What `losetup -l` and `findmnt` print about these tests' own run dirs (every run dir
/// here is a tempdir named `b2s3-fixture-*`; a loop device of ours always shows its image
/// path there, and a mount of ours its mount point). Lines of other processes on the
/// machine are left out, so a concurrent test or tool cannot fail these comparisons;
/// that foreign devices and mounts are left untouched is tested on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemState {
    pub loop_devices: String,
    pub mounts: String,
}

impl SystemState {
    pub fn capture() -> SystemState {
        let ours = |text: String| -> String {
            text.lines().filter(|l| l.contains("b2s3-fixture-")).map(|l| format!("{l}\n")).collect()
        };
        SystemState { loop_devices: ours(run("losetup", &["-l"])), mounts: ours(run("findmnt", &["-rn"])) }
    }

    /// Panic with a line diff unless `self` (after) equals `before`.
    pub fn assert_same_as(&self, before: &SystemState, context: &str) {
        if self == before {
            return;
        }
        let diff = |a: &str, b: &str| -> Vec<String> {
            let gone = a.lines().filter(|l| !b.lines().any(|x| x == *l)).map(|l| format!("- {l}"));
            let new = b.lines().filter(|l| !a.lines().any(|x| x == *l)).map(|l| format!("+ {l}"));
            gone.chain(new).collect()
        };
        panic!(
            "{context}: loop devices or mounts differ from before (another process on this machine \
             changing them also shows here)\nlosetup -l:\n{}\nfindmnt:\n{}",
            diff(&before.loop_devices, &self.loop_devices).join("\n"),
            diff(&before.mounts, &self.mounts).join("\n"),
        );
    }
}

/// Run a command, assert success, return stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).env("LC_ALL", "C").output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `btrfs send <snapshot> | btrfs receive <dir>`.
pub fn send_receive(snapshot: &Path, dir: &Path) {
    let mut send = Command::new("btrfs")
        .arg("send")
        .arg("-q")
        .arg(snapshot)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = Command::new("btrfs")
        .arg("receive")
        .arg("-q")
        .arg(dir)
        .stdin(send.stdout.take().unwrap())
        .status()
        .unwrap();
    assert!(send.wait().unwrap().success() && status.success(), "send/receive of {}", snapshot.display());
}

/// Loop devices backed by `image`, as `losetup -j` reports them.
pub fn devices_of(image: &Path) -> Vec<String> {
    fixture::loopdev::devices_backed_by(image).unwrap()
}
