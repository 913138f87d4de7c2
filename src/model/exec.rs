//! The executor: applies a [`Mutation`] to a real directory exactly as
//! [`ModelTree::apply`](super::ModelTree::apply) applies it to the model, so that a scan
//! of the directory equals the model afterwards.
//!
//! It runs as root and never follows symlinks in the tree. Every created inode gets the
//! explicit mode of its operation (an explicit `chmod` after creation, so the umask
//! never matters). After every content-changing operation it sets the file's atime and
//! mtime to [`mtime::stamp`] of the operation (see `model::mtime` for the policy). A
//! `Write` onto an existing file unlinks it first and a `Retarget` renames a new symlink
//! over the old one: both make new inodes, as the model says. `Reflink` uses the
//! `FICLONE` ioctl; only where the directory is not on btrfs does it fall back to a copy.
//! Nested subvolumes need btrfs (`fixture::btrfs` runs `btrfs subvolume create/delete`);
//! elsewhere they are [`ExecError::Unsupported`].
//!
//! The executor does not check validity: apply a mutation to the model first and run it
//! here only if the model accepted it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::statfs::{statfs, BTRFS_SUPER_MAGIC};
use nix::sys::time::TimeSpec;
use thiserror::Error;

use super::mtime::{self, Timestamp};
use super::tree::SUBVOLUME_MODE;
use crate::fixture::{self, FixtureError};
use crate::gen::content;
use crate::gen::plan::{Content, Mutation};

/// Why a mutation could not be applied to the live directory.
#[derive(Debug, Error)]
pub enum ExecError {
    #[error("{op} of {path} failed: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{op} of {path} needs btrfs, and the directory is not on btrfs")]
    Unsupported { op: &'static str, path: PathBuf },
    #[error(transparent)]
    Btrfs(#[from] FixtureError),
}

fn io<T>(op: &'static str, path: &Path, r: io::Result<T>) -> Result<T, ExecError> {
    r.map_err(|source| ExecError::Io { op, path: path.to_owned(), source })
}

/// True if `path` is on a btrfs filesystem.
pub fn is_btrfs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == BTRFS_SUPER_MAGIC)
}

/// Applies `m` to the tree rooted at `root`.
pub fn apply(root: &Path, m: &Mutation) -> Result<(), ExecError> {
    if mtime::changes_content(m) {
        change_content(root, m)?;
        stamp_content_change(root, m)
    } else {
        change_entry(root, m)
    }
}

/// The operations that write, cut or clone file content.
fn change_content(root: &Path, m: &Mutation) -> Result<(), ExecError> {
    let at = |p: &str| root.join(p);
    use Mutation::*;
    match m {
        Write { path, content, mode } => {
            write_new(&at(path), *mode, |f, p| io("write", p, content::write_to(content, &mut &*f)))
        }
        WriteSparse { path, len, data, mode } => write_new(&at(path), *mode, |f, p| {
            io("truncate", p, f.set_len(*len))?;
            data.iter().try_for_each(|(offset, c)| write_at(f, p, *offset, c))
        }),
        Overwrite { path, offset, content } => {
            write_at(&open_rw(&at(path))?, &at(path), *offset, content)
        }
        Append { path, content } => {
            let p = at(path);
            let f = io("open for append", &p, OpenOptions::new().append(true).open(&p))?;
            io("append", &p, content::write_to(content, &mut &f))
        }
        Truncate { path, len } => io("truncate", &at(path), open_rw(&at(path))?.set_len(*len)),
        PunchHole { path, offset, len } => punch_hole(&at(path), *offset, *len),
        Reflink { from, to } => reflink(&at(from), &at(to)),
        _ => unreachable!("not a content change: {m:?}"),
    }
}

/// The operations on names, metadata and nested subvolumes.
fn change_entry(root: &Path, m: &Mutation) -> Result<(), ExecError> {
    let at = |p: &str| root.join(p);
    use std::os::unix::fs::{lchown, symlink};
    use Mutation::*;
    match m {
        Mkdir { path, mode } => mkdir(&at(path), *mode),
        Remove { path } => io("unlink", &at(path), fs::remove_file(at(path))),
        Rmdir { path } => io("rmdir", &at(path), fs::remove_dir(at(path))),
        Rename { from, to } => io("rename", &at(from), fs::rename(at(from), at(to))),
        Chmod { path, mode } => chmod(&at(path), *mode),
        Chown { path, uid, gid } => {
            io("lchown", &at(path), lchown(at(path), Some(*uid), Some(*gid)))
        }
        Symlink { path, target } => io("symlink", &at(path), symlink(target, at(path))),
        Retarget { path, target } => retarget(&at(path), target),
        Hardlink { existing, new } => io("link", &at(new), fs::hard_link(at(existing), at(new))),
        SetXattr { path, name, value } => set_xattr(&at(path), name, value),
        RemoveXattr { path, name } => io("removexattr", &at(path), xattr::remove(at(path), name)),
        Touch { path, mtime_sec: sec, mtime_nsec: nsec } => {
            set_times(&at(path), Timestamp { sec: *sec, nsec: *nsec })
        }
        CreateSubvolume { path } => create_subvolume(root, &at(path)),
        DeleteSubvolume { path } => {
            require_btrfs(root, "subvolume delete", &at(path))?;
            Ok(fixture::btrfs::delete_subvolume(&at(path))?)
        }
        _ => unreachable!("a content change: {m:?}"),
    }
}

fn set_xattr(path: &Path, name: &str, value: &str) -> Result<(), ExecError> {
    let bytes = hex::decode(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
    io("setxattr", path, bytes.and_then(|b| xattr::set(path, name, &b)))
}

/// Sets the deterministic mtime after a content-changing operation.
fn stamp_content_change(root: &Path, m: &Mutation) -> Result<(), ExecError> {
    if !mtime::changes_content(m) {
        return Ok(());
    }
    let target = match m {
        Mutation::Reflink { to, .. } => to,
        other => other.paths()[0],
    };
    set_times(&root.join(target), mtime::stamp(m).expect("content changes have a stamp"))
}

fn set_times(path: &Path, t: Timestamp) -> Result<(), ExecError> {
    let ts = TimeSpec::new(t.sec, i64::from(t.nsec));
    let r = utimensat(None, path, &ts, &ts, UtimensatFlags::NoFollowSymlink);
    io("utimensat", path, r.map_err(io::Error::from))
}

fn chmod(path: &Path, mode: u32) -> Result<(), ExecError> {
    io("chmod", path, fs::set_permissions(path, fs::Permissions::from_mode(mode)))
}

fn mkdir(path: &Path, mode: u32) -> Result<(), ExecError> {
    io("mkdir", path, fs::create_dir(path))?;
    chmod(path, mode)
}

fn open_rw(path: &Path) -> Result<File, ExecError> {
    io("open for writing", path, OpenOptions::new().write(true).open(path))
}

/// Creates a new inode at `path` (unlinking a file already there), fills it through
/// `fill` and gives it `mode`.
fn write_new(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&File, &Path) -> Result<(), ExecError>,
) -> Result<(), ExecError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return io("unlink", path, Err(e)),
        _ => {}
    }
    let opts = OpenOptions::new().write(true).create_new(true).mode(0o600).clone();
    let f = io("create", path, opts.open(path))?;
    fill(&f, path)?;
    io("fchmod", path, f.set_permissions(fs::Permissions::from_mode(mode)))
}

fn write_at(f: &File, path: &Path, offset: u64, c: &Content) -> Result<(), ExecError> {
    let mut at = offset;
    let r = content::stream(&c.pattern, 0, c.len, |b| {
        f.write_all_at(b, at)?;
        at += b.len() as u64;
        Ok(())
    });
    io("pwrite", path, r)
}

fn punch_hole(path: &Path, offset: u64, len: u64) -> Result<(), ExecError> {
    let f = open_rw(path)?;
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: plain syscall on a descriptor we own; no memory is passed.
    let rc =
        unsafe { libc::fallocate(f.as_raw_fd(), mode, offset as libc::off_t, len as libc::off_t) };
    io(
        "fallocate(PUNCH_HOLE)",
        path,
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) },
    )
}

/// Points the symlink at `path` elsewhere atomically: a new symlink renamed over it.
fn retarget(path: &Path, target: &str) -> Result<(), ExecError> {
    let tmp = path.with_file_name(".b2s3-retarget.tmp");
    io("symlink", &tmp, std::os::unix::fs::symlink(target, &tmp))?;
    io("rename", path, fs::rename(&tmp, path))
}

fn reflink(from: &Path, to: &Path) -> Result<(), ExecError> {
    let src = io("open", from, File::open(from))?;
    let mode = io("stat", from, src.metadata())?.permissions().mode() & 0o7777;
    let opts = OpenOptions::new().write(true).create_new(true).mode(0o600).clone();
    let dst = io("create", to, opts.open(to))?;
    // SAFETY: FICLONE takes the source descriptor as its argument; both are open.
    let rc = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if is_btrfs(to) {
            return io("ioctl(FICLONE)", to, Err(err));
        }
        io("copy", to, io::copy(&mut &src, &mut &dst))?;
    }
    io("fchmod", to, dst.set_permissions(fs::Permissions::from_mode(mode)))
}

fn require_btrfs(root: &Path, op: &'static str, path: &Path) -> Result<(), ExecError> {
    match is_btrfs(root) {
        true => Ok(()),
        false => Err(ExecError::Unsupported { op, path: path.to_owned() }),
    }
}

fn create_subvolume(root: &Path, path: &Path) -> Result<(), ExecError> {
    require_btrfs(root, "subvolume create", path)?;
    fixture::btrfs::create_subvolume(path)?;
    chmod(path, SUBVOLUME_MODE)
}
