//! Test support for the reference's integration tests: a moto S3 server shared by one
//! test binary, btrfs filesystems on loop images, a tree scanner and builder, an S3
//! inspector and a runner for the `b2s3-ref` binary, tied together by `World`. Everything
//! here touches only what it created (its own image files, loop devices, mounts, bucket
//! and scratch directory) and tears it down in `Drop`, even when a test fails. It must not
//! use code of the tester crate nor of the tool (the tool is driven as a black box).
#![allow(dead_code)]

pub mod contract;
pub mod fixture;
pub mod moto;
pub mod s3;
pub mod tool;
pub mod tree;
pub mod world;

#[allow(unused_imports)]
pub use tool::{Event, Outcome};
#[allow(unused_imports)]
pub use world::{Settings, World};

/// Fails early, with a clear message, when the tests cannot work on this machine.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "these tests need root: they create loop devices and btrfs filesystems");
}

/// A scratch directory unique to this process and `label`.
pub fn scratch_dir(label: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join("b2s3-ref-tests").join(format!("{}-{n}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create scratch dir {}: {e}", dir.display()));
    dir
}
