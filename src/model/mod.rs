//! The model: what every live subvolume and every published backup must contain.
//!
//! - [`ModelTree`] (in `tree`) is one subvolume's live tree with inode semantics; every
//!   plan [`Mutation`](crate::gen::plan::Mutation) is applied to it, and
//!   [`exec::apply`] applies the same mutation to a real directory. After any sequence,
//!   `fixture::scan::scan` of the directory, passed through [`mask_unpredicted`], equals
//!   [`ModelTree::to_tree`]. A mismatch is a harness error, never a finding.
//! - mtimes (see `mtime`): the executor stamps every content change with a time derived
//!   from the operation, so the model knows each regular file's mtime exactly at every
//!   snapshot. Directory and symlink mtimes are not predicted.
//! - btrfs's own limits are modelled, not reported ([`ModelTree::backup_view`]): a
//!   nested subvolume is absent from a restored backup (no entry at all where it was,
//!   measured on this project's machines: see `tests/model_nested_subvolume.rs`); holes
//!   may come back as zeros (the tree compares content hashes only); inode flags are not
//!   part of the tree.
//! - [`history`] keeps the expected tree of every published backup and the candidate
//!   outcomes of steps whose effect depends on timing ([`history::Pending`]).
//!
//! The model does no I/O except in `exec`.

pub mod exec;
pub mod file;
pub mod history;
pub mod mtime;
mod tree;

pub use tree::{check_path, join, name_of, parent_of, EntryView, ModelError, ModelTree};
pub use tree::{MAX_FILE_LEN, MAX_NAME, MAX_PATH, MAX_SYMLINK, MAX_XATTR_VALUE, SUBVOLUME_MODE};

use crate::fixture::tree::{EntryKind, Tree};

/// An observed tree with the fields the model does not predict cleared: the mtimes of
/// everything but regular files. Compare `mask_unpredicted(&scan)` with the model.
pub fn mask_unpredicted(seen: &Tree) -> Tree {
    let mut t = seen.clone();
    for e in t.entries.values_mut() {
        if e.kind != EntryKind::File {
            e.mtime_ns = 0;
        }
    }
    t
}
