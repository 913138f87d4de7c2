//! From the model to [`Tree`] values: what a scan of the live subvolume must show
//! ([`ModelTree::to_tree`]) and what a restore of a backup taken now must contain
//! ([`ModelTree::backup_view`]).

use std::collections::BTreeMap;

use super::{Body, Inode, InodeId, ModelTree};
use crate::fixture::tree::{Entry, Tree};

impl ModelTree {
    /// The expected scan of the live subvolume. Directory and symlink mtimes are not
    /// predicted and are 0 (see [`crate::model::mask_unpredicted`]).
    pub fn to_tree(&self) -> Tree {
        self.tree_of(|_| true)
    }

    /// What a restore of a backup of this subvolume taken now must contain: the live
    /// tree without nested subvolumes. `btrfs send` leaves a nested subvolume out
    /// entirely: the received tree has no entry at all where it was (measured on
    /// btrfs-progs 6.2, kernel 6.18; the local read-only snapshot itself shows an empty
    /// `0755 root:root` directory with inode 2 there, the restore does not). Hardlink
    /// groups are computed over what remains. Holes may come back as zeros, which the
    /// tree cannot tell apart anyway (it holds the content hash).
    pub fn backup_view(&self) -> Tree {
        let roots: Vec<String> =
            self.entries().filter(|e| e.subvolume_root).map(|e| format!("{}/", e.path)).collect();
        self.tree_of(|p| !roots.iter().any(|r| p.starts_with(r.as_str()) || r[..r.len() - 1] == *p))
    }

    fn tree_of(&self, keep: impl Fn(&str) -> bool) -> Tree {
        let kept: Vec<(&String, &InodeId)> = self.paths.iter().filter(|(p, _)| keep(p)).collect();
        // Paths come in byte order, so the first path seen for an inode is the smallest.
        let mut groups: BTreeMap<InodeId, (&str, usize)> = BTreeMap::new();
        for (path, id) in &kept {
            groups.entry(**id).or_insert((path.as_str(), 0)).1 += 1;
        }
        let entries = kept
            .into_iter()
            .map(|(path, id)| {
                let (first, count) = groups[id];
                let group = (count > 1).then(|| first.to_owned());
                (path.clone(), entry_of(&self.inodes[id], group))
            })
            .collect();
        Tree { entries }
    }
}

fn entry_of(inode: &Inode, link_group: Option<String>) -> Entry {
    let m = &inode.meta;
    let mut e = Entry {
        kind: inode.body.kind(),
        size: 0,
        sha256: None,
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        symlink_target: None,
        link_group: None,
        xattrs: m.xattrs.clone(),
        mtime_ns: 0,
        subvolume_root: false,
    };
    match &inode.body {
        Body::File(f) => {
            e.size = f.len();
            e.sha256 = Some(f.sha256().to_owned());
            e.link_group = link_group;
            e.mtime_ns = m.mtime.as_ns();
        }
        Body::Dir { subvolume_root } => e.subvolume_root = *subvolume_root,
        Body::Symlink(target) => {
            e.size = target.len() as u64;
            e.mode = 0;
            e.symlink_target = Some(target.clone());
        }
    }
    e
}
