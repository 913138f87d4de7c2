//! [`ModelTree`]: the in-memory model of one subvolume's live tree, with inode
//! semantics (hardlinks share content, mode, owner, xattrs and mtime). Every
//! [`Mutation`] is applied to it exactly as the executor applies it to a real
//! directory; an operation the kernel would refuse (or that the plan format forbids) is
//! a [`ModelError`] and leaves the model unchanged.
//!
//! Assumptions, matching `model::exec`: operations run as root (uid 0, gid 0); the
//! subvolume root is a plain `0755 root:root` directory; every created inode gets the
//! explicit mode of its operation (umask never applies). New inodes take gid 0, or the
//! parent directory's gid when that directory is set-group-ID (as the kernel does),
//! except nested subvolume roots, which are always `0755 root:root` (measured);
//! `chown` of a non-directory clears set-user-ID, and set-group-ID when group-execute
//! is set. A `Write` onto an existing file, and a `Retarget`, make a new inode (the
//! executor unlinks or renames over the old one): other hardlinks keep the old content.
//!
//! The model does no I/O.

use std::collections::BTreeMap;

use thiserror::Error;

use super::file::FileData;
use super::mtime::{self, Timestamp};
use crate::fixture::tree::EntryKind;
use crate::gen::plan::{Content, Mutation, Pattern};

/// Longest name component, in bytes.
pub const MAX_NAME: usize = 255;
/// Longest relative path the model accepts, in bytes (the absolute path must stay under
/// `PATH_MAX` wherever the tree is mounted or restored).
pub const MAX_PATH: usize = 3072;
/// Largest file length or offset the model accepts.
pub const MAX_FILE_LEN: u64 = 1 << 36;
/// Largest user xattr value, in bytes.
pub const MAX_XATTR_VALUE: usize = 4096;
/// Longest symlink target, in bytes.
pub const MAX_SYMLINK: usize = 4095;

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_IXGRP: u32 = 0o010;
/// Mode of a new nested subvolume's root (the executor sets it explicitly).
pub const SUBVOLUME_MODE: u32 = 0o755;

/// An operation the model (and the kernel) refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("{path:?} does not exist")]
    NotFound { path: String },
    #[error("{path:?} already exists")]
    Exists { path: String },
    #[error("{path:?} is a {found}, the operation needs a {expected}")]
    WrongKind { path: String, expected: &'static str, found: &'static str },
    #[error("directory {path:?} is not empty")]
    NotEmpty { path: String },
    #[error("{from:?} and {to:?} are in different subvolumes")]
    CrossSubvolume { from: String, to: String },
    #[error("cannot move directory {from:?} into itself at {to:?}")]
    IntoItself { from: String, to: String },
    #[error("invalid argument for {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path:?} has no xattr {name:?}")]
    NoXattr { path: String, name: String },
}

#[derive(Debug, Clone, PartialEq)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    xattrs: BTreeMap<String, String>,
    mtime: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    File(FileData),
    Dir { subvolume_root: bool },
    Symlink(String),
}

impl Body {
    fn kind(&self) -> EntryKind {
        match self {
            Body::File(_) => EntryKind::File,
            Body::Dir { .. } => EntryKind::Dir,
            Body::Symlink(_) => EntryKind::Symlink,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Inode {
    meta: Meta,
    body: Body,
    links: u32,
}

type InodeId = u64;

/// What the generator may ask about one live path.
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    pub path: &'a str,
    pub kind: EntryKind,
    pub subvolume_root: bool,
    /// Number of paths sharing this inode.
    pub links: u32,
    /// Regular files: length. Others: 0.
    pub len: u64,
    pub mode: u32,
    pub xattr_count: usize,
}

/// The model of one subvolume's live tree.
#[derive(Debug, Clone, Default)]
pub struct ModelTree {
    paths: BTreeMap<String, InodeId>,
    inodes: BTreeMap<InodeId, Inode>,
    next_inode: InodeId,
}

fn kind_name(k: EntryKind) -> &'static str {
    match k {
        EntryKind::File => "regular file",
        EntryKind::Dir => "directory",
        EntryKind::Symlink => "symlink",
        EntryKind::Other => "special file",
    }
}

/// The parent of a relative path (`""` for a top-level entry).
pub fn parent_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last component of a relative path.
pub fn name_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// Joins a directory (`""` for the root) and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Checks the plan's path rules: relative, `/`-separated, no empty, `.` or `..`
/// components, no NUL, names of at most [`MAX_NAME`] bytes, at most [`MAX_PATH`] bytes.
pub fn check_path(path: &str) -> Result<(), ModelError> {
    let bad = |reason| Err(ModelError::InvalidPath { path: path.to_owned(), reason });
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > MAX_PATH {
        return bad("longer than MAX_PATH");
    }
    if path.contains('\0') {
        return bad("contains NUL");
    }
    for c in path.split('/') {
        match c {
            "" => return bad("empty component or leading/trailing slash"),
            "." | ".." => return bad("`.` or `..` component"),
            c if c.len() > MAX_NAME => return bad("component longer than 255 bytes"),
            _ => {}
        }
    }
    Ok(())
}

fn check_mode(path: &str, mode: u32) -> Result<(), ModelError> {
    if mode & !0o7777 != 0 {
        return Err(invalid(path, format!("mode {mode:o} has bits beyond 0o7777")));
    }
    Ok(())
}

fn check_content(path: &str, offset: u64, c: &Content) -> Result<(), ModelError> {
    if let Pattern::Repeat { block: 0, .. } = c.pattern {
        return Err(invalid(path, "repeat pattern with a block of 0".into()));
    }
    if offset.checked_add(c.len).is_none_or(|end| end > MAX_FILE_LEN) {
        return Err(invalid(path, format!("data ends beyond {MAX_FILE_LEN} bytes")));
    }
    Ok(())
}

fn invalid(path: &str, reason: String) -> ModelError {
    ModelError::Invalid { path: path.to_owned(), reason }
}

impl ModelTree {
    /// An empty subvolume.
    pub fn new() -> ModelTree {
        ModelTree::default()
    }

    /// Applies one mutation; on error the model is unchanged.
    pub fn apply(&mut self, m: &Mutation) -> Result<(), ModelError> {
        for p in m.paths() {
            check_path(p)?;
        }
        let stamp = mtime::stamp(m).unwrap_or(Timestamp::ZERO);
        use Mutation::*;
        match m {
            Mkdir { path, mode } => self.create(path, *mode, Body::Dir { subvolume_root: false }),
            Write { path, content, mode } => {
                check_content(path, 0, content)?;
                self.write_new(path, FileData::from_content(content), *mode, stamp)
            }
            WriteSparse { path, len, data, mode } => {
                self.write_sparse(path, *len, data, *mode, stamp)
            }
            Overwrite { path, offset, content } => {
                check_content(path, *offset, content)?;
                self.modify_file(path, stamp, |f| f.write(*offset, content))
            }
            Append { path, content } => self.append(path, content, stamp),
            Truncate { path, len } => {
                check_content(path, *len, &Content { len: 0, pattern: Pattern::Zeros })?;
                self.modify_file(path, stamp, |f| f.truncate(*len))
            }
            PunchHole { path, offset, len } => self.punch(path, *offset, *len, stamp),
            Remove { path } => self.remove(path),
            Rmdir { path } => self.rmdir(path),
            Rename { from, to } => self.rename(from, to),
            Chmod { path, mode } => self.chmod(path, *mode),
            Chown { path, uid, gid } => self.chown(path, *uid, *gid),
            Symlink { path, target } => self.symlink(path, target),
            Retarget { path, target } => self.retarget(path, target),
            Hardlink { existing, new } => self.hardlink(existing, new),
            SetXattr { path, name, value } => self.set_xattr(path, name, value),
            RemoveXattr { path, name } => self.remove_xattr(path, name),
            Touch { path, mtime_nsec, .. } => self.touch(path, *mtime_nsec, stamp),
            Reflink { from, to } => self.reflink(from, to, stamp),
            CreateSubvolume { path } => self.create_subvolume(path),
            DeleteSubvolume { path } => self.delete_subvolume(path),
        }
    }

    // ---- queries ----

    fn inode(&self, path: &str) -> Result<&Inode, ModelError> {
        self.paths
            .get(path)
            .map(|id| &self.inodes[id])
            .ok_or_else(|| ModelError::NotFound { path: path.to_owned() })
    }

    fn inode_mut(&mut self, path: &str) -> Result<&mut Inode, ModelError> {
        let id =
            *self.paths.get(path).ok_or_else(|| ModelError::NotFound { path: path.to_owned() })?;
        Ok(self.inodes.get_mut(&id).expect("every path names a live inode"))
    }

    fn require(
        &self,
        path: &str,
        kinds: &[EntryKind],
        expected: &'static str,
    ) -> Result<&Inode, ModelError> {
        let inode = self.inode(path)?;
        let found = inode.body.kind();
        if !kinds.contains(&found) {
            return Err(ModelError::WrongKind {
                path: path.to_owned(),
                expected,
                found: kind_name(found),
            });
        }
        Ok(inode)
    }

    fn require_absent(&self, path: &str) -> Result<(), ModelError> {
        match self.paths.contains_key(path) {
            true => Err(ModelError::Exists { path: path.to_owned() }),
            false => Ok(()),
        }
    }

    /// The gid a new inode under `path`'s parent gets; errors if the parent is not a
    /// directory.
    fn new_gid(&self, path: &str) -> Result<u32, ModelError> {
        let parent = parent_of(path);
        if parent.is_empty() {
            return Ok(0);
        }
        let dir = self.require(parent, &[EntryKind::Dir], "directory")?;
        Ok(if dir.meta.mode & S_ISGID != 0 { dir.meta.gid } else { 0 })
    }

    /// True if `path` is the root of a nested subvolume.
    pub fn is_subvolume_root(&self, path: &str) -> bool {
        matches!(self.inode(path), Ok(Inode { body: Body::Dir { subvolume_root: true }, .. }))
    }

    /// The nested subvolume root that contains `path`'s directory entry (`""` for the
    /// subvolume this model describes).
    pub fn subvolume_of<'a>(&self, path: &'a str) -> &'a str {
        let mut p = parent_of(path);
        while !p.is_empty() && !self.is_subvolume_root(p) {
            p = parent_of(p);
        }
        p
    }

    /// Paths strictly below `dir`, in byte order.
    fn descendants(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        self.paths
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn has_descendants(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.paths.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    /// True if `path` exists.
    pub fn exists(&self, path: &str) -> bool {
        self.paths.contains_key(path)
    }

    /// A summary of one live path.
    pub fn view(&self, path: &str) -> Option<EntryView<'_>> {
        let (path, id) = self.paths.get_key_value(path)?;
        Some(self.view_of(path, &self.inodes[id]))
    }

    fn view_of<'a>(&'a self, path: &'a str, inode: &'a Inode) -> EntryView<'a> {
        EntryView {
            path,
            kind: inode.body.kind(),
            subvolume_root: matches!(inode.body, Body::Dir { subvolume_root: true }),
            links: inode.links,
            len: match &inode.body {
                Body::File(f) => f.len(),
                _ => 0,
            },
            mode: inode.meta.mode,
            xattr_count: inode.meta.xattrs.len(),
        }
    }

    /// Every live path, in byte order.
    pub fn entries(&self) -> impl Iterator<Item = EntryView<'_>> + '_ {
        self.paths.iter().map(|(p, id)| self.view_of(p, &self.inodes[id]))
    }

    /// Names of the entries directly inside `dir` (`""` for the root).
    pub fn child_names(&self, dir: &str) -> Vec<&str> {
        let iter: Box<dyn Iterator<Item = &String>> = if dir.is_empty() {
            Box::new(self.paths.keys())
        } else {
            let prefix = format!("{dir}/");
            Box::new(
                self.paths
                    .range(prefix.clone()..)
                    .take_while(move |(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k),
            )
        };
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        iter.map(|k| &k[skip..]).filter(|rest| !rest.contains('/')).collect()
    }

    /// Names of the user xattrs of `path`.
    pub fn xattr_names(&self, path: &str) -> Vec<&str> {
        self.inode(path)
            .map(|i| i.meta.xattrs.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Number of live paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

mod ops;
mod view;
