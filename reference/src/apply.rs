//! Applying a manifest chain to the filesystem (CONTRACT.md section 12, steps 4-5): each
//! manifest's chunks are fetched in order, checked against their SHA-256 and only then
//! fed to `btrfs receive`; each step's subvolume replaces the previous one; the last is
//! made writable and renamed to `--target` with RENAME_NOREPLACE. All of this happens in
//! a private staging directory next to the target (`.b2s3-restore-<pid>-<target name>`),
//! so a failed or killed restore never leaves anything at the target and a retry to the
//! same target works; staging directories of dead restores are removed on the next run.
//! This module must not resolve chains or verify the restored tree.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::archive::{self, ArchivePolicy};
use crate::bugs::{self, Bug};
use crate::btrfs::{self, Receive};
use crate::manifest::{ChunkRecord, Manifest};
use crate::s3::{GetError, Store};

/// Chunks up to this size are fully buffered and checked before btrfs sees a byte.
const VERIFY_BEFORE_WRITE_MAX: u64 = 256 * 1024 * 1024;
const STAGING_PREFIX: &str = ".b2s3-restore-";

/// Receives `chain` (oldest first) into `target`, leaving nothing behind on failure.
pub fn apply(store: &Store, chain: &[Manifest], target: &Path, policy: &ArchivePolicy) -> Result<(), String> {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if bugs::on(Bug::RestoreLeavePartial) {
        return apply_in_place(store, chain, parent, target, policy);
    }
    let target_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    remove_dead_staging(parent, &target_name);
    let staging = parent.join(format!("{STAGING_PREFIX}{}-{target_name}", std::process::id()));
    std::fs::create_dir(&staging).map_err(|e| format!("cannot create staging directory {}: {e}", staging.display()))?;
    let result = apply_in(store, chain, &staging, target, policy);
    remove_staging(&staging);
    result
}

fn apply_in(store: &Store, chain: &[Manifest], staging: &Path, target: &Path, policy: &ArchivePolicy) -> Result<(), String> {
    let mut previous: Option<PathBuf> = None;
    for manifest in chain {
        archive::make_readable(store, manifest, policy)?;
        let received = receive_one(store, manifest, staging)?;
        if let Some(old) = previous.replace(received) {
            btrfs::delete_subvolume(&old)?;
        }
    }
    let last = previous.ok_or("the manifest chain is empty")?;
    btrfs::set_writable(&last)?;
    rename_noreplace(&last, target)
}

/// The restore as the contract's prose describes it, without a staging directory:
/// received into the target's parent and renamed step by step. Used by the
/// `restore-leave-partial` defect, which also never cleans up after a failure.
fn apply_in_place(store: &Store, chain: &[Manifest], parent: &Path, target: &Path, policy: &ArchivePolicy) -> Result<(), String> {
    for manifest in chain {
        archive::make_readable(store, manifest, policy)?;
        let received = receive_one(store, manifest, parent)?;
        if btrfs::is_subvolume(target) {
            btrfs::delete_subvolume(target)?;
        }
        rename_noreplace(&received, target)?;
    }
    btrfs::set_writable(target)
}

/// Runs one `btrfs receive` over a manifest's chunks; returns the received subvolume.
fn receive_one(store: &Store, manifest: &Manifest, dir: &Path) -> Result<PathBuf, String> {
    let mut receive = Receive::spawn(dir)?;
    for chunk in &manifest.chunks {
        match feed_chunk(store, chunk, &mut receive) {
            Ok(()) => {}
            Err(Feed::Stream(e)) => {
                receive.stop();
                return Err(format!("restore stream failed: {e}"));
            }
            Err(Feed::ReceiverGone) => {
                return Err(receive.finish().err().unwrap_or_else(|| "btrfs receive stopped reading its input".into()));
            }
        }
    }
    receive.finish()?;
    let received = dir.join(&manifest.snapshot_name);
    if btrfs::is_subvolume(&received) {
        Ok(received)
    } else {
        Err(format!("btrfs receive did not create {}", received.display()))
    }
}

enum Feed {
    /// Fetching or checking the chunk failed.
    Stream(String),
    /// Writing to `btrfs receive` failed: it exited.
    ReceiverGone,
}

/// Fetches one chunk, checks its SHA-256 and writes it to `btrfs receive`.
fn feed_chunk(store: &Store, chunk: &ChunkRecord, receive: &mut Receive) -> Result<(), Feed> {
    let stdin = receive.stdin.as_mut().ok_or(Feed::ReceiverGone)?;
    let mut hasher = Sha256::new();
    let get_error = |e: GetError| match e {
        GetError::Missing => Feed::Stream(format!("missing object {}", chunk.key)),
        GetError::Other(message) if message == RECEIVER_GONE => Feed::ReceiverGone,
        GetError::Other(message) => Feed::Stream(message),
    };
    let buffered = chunk.size <= VERIFY_BEFORE_WRITE_MAX;
    let mut data = Vec::with_capacity(if buffered { chunk.size as usize } else { 0 });
    store
        .get_with(&chunk.key, &mut |piece| {
            hasher.update(piece);
            if buffered {
                data.extend_from_slice(piece);
                Ok(())
            } else {
                stdin.write_all(piece).map_err(|_| RECEIVER_GONE.to_string())
            }
        })
        .map_err(get_error)?;
    let actual = hex::encode(hasher.finalize());
    if actual != chunk.sha256 && !bugs::on(Bug::RestoreSkipHash) {
        return Err(Feed::Stream(format!("hash mismatch for {}", chunk.key)));
    }
    if buffered {
        stdin.write_all(&data).map_err(|_| Feed::ReceiverGone)?;
    }
    Ok(())
}

const RECEIVER_GONE: &str = "btrfs receive closed its input";

/// rename(2) that refuses to replace an existing entry.
fn rename_noreplace(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("path {} contains NUL", p.display()));
    let (cfrom, cto) = (c(from)?, c(to)?);
    // SAFETY: both arguments are valid NUL-terminated paths relative to the CWD.
    let rc = unsafe {
        libc::renameat2(libc::AT_FDCWD, cfrom.as_ptr(), libc::AT_FDCWD, cto.as_ptr(), libc::RENAME_NOREPLACE)
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EEXIST) {
        return Err(format!("target path already exists: {}", to.display()));
    }
    Err(format!("cannot rename {} to {}: {e}", from.display(), to.display()))
}

/// Deletes a staging directory and every subvolume or file left in it.
fn remove_staging(staging: &Path) {
    if let Ok(entries) = std::fs::read_dir(staging) {
        for entry in entries.flatten() {
            let path = entry.path();
            if btrfs::is_subvolume(&path) {
                let _ = btrfs::delete_subvolume(&path);
            } else if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let _ = std::fs::remove_dir(staging);
}

/// Removes staging directories for `target_name` whose restore process is gone.
fn remove_dead_staging(parent: &Path, target_name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(STAGING_PREFIX) else { continue };
        let Some((pid, target)) = rest.split_once('-') else { continue };
        let dead = pid.parse::<u32>().is_ok_and(|p| p != std::process::id() && !crate::lock::pid_alive(p));
        if dead && target == target_name {
            remove_staging(&entry.path());
        }
    }
}
