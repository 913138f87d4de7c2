//! The state changes behind [`ModelTree::apply`], one method per operation. Each method
//! checks everything first and changes the model only once the operation is known to
//! succeed.

use std::collections::BTreeMap;

use super::{
    check_content, check_mode, invalid, Body, Inode, InodeId, Meta, ModelError, ModelTree,
    MAX_NAME, MAX_SYMLINK, MAX_XATTR_VALUE, SUBVOLUME_MODE, S_ISGID, S_ISUID, S_IXGRP,
};
use crate::fixture::tree::EntryKind;
use crate::gen::plan::{Content, Pattern};
use crate::model::file::FileData;
use crate::model::mtime::Timestamp;

const FILE: &[EntryKind] = &[EntryKind::File];
const DIR: &[EntryKind] = &[EntryKind::Dir];
const SYMLINK: &[EntryKind] = &[EntryKind::Symlink];
const NOT_DIR: &[EntryKind] = &[EntryKind::File, EntryKind::Symlink];
const FILE_OR_DIR: &[EntryKind] = &[EntryKind::File, EntryKind::Dir];
const ANY: &[EntryKind] = &[EntryKind::File, EntryKind::Dir, EntryKind::Symlink];

impl ModelTree {
    fn link(&mut self, path: &str, id: InodeId) {
        self.inodes.get_mut(&id).expect("live inode").links += 1;
        self.paths.insert(path.to_owned(), id);
    }

    fn unlink(&mut self, path: &str) {
        let id = self.paths.remove(path).expect("unlink of a live path");
        let inode = self.inodes.get_mut(&id).expect("live inode");
        inode.links -= 1;
        if inode.links == 0 {
            self.inodes.remove(&id);
        }
    }

    /// Adds a new inode at `path` (which must be absent, in an existing directory).
    fn create_inode(
        &mut self,
        path: &str,
        mode: u32,
        body: Body,
        mtime: Timestamp,
    ) -> Result<(), ModelError> {
        check_mode(path, mode)?;
        self.require_absent(path)?;
        let gid = self.new_gid(path)?;
        let id = self.next_inode;
        self.next_inode += 1;
        let meta = Meta { mode, uid: 0, gid, xattrs: BTreeMap::new(), mtime };
        self.inodes.insert(id, Inode { meta, body, links: 0 });
        self.link(path, id);
        Ok(())
    }

    pub(super) fn create(&mut self, path: &str, mode: u32, body: Body) -> Result<(), ModelError> {
        self.create_inode(path, mode, body, Timestamp::ZERO)
    }

    /// A nested subvolume's root: `0755 root:root` even in a set-group-ID directory
    /// (measured: `btrfs subvolume create` does not inherit the group, unlike mkdir).
    pub(super) fn create_subvolume(&mut self, path: &str) -> Result<(), ModelError> {
        self.create(path, SUBVOLUME_MODE, Body::Dir { subvolume_root: true })?;
        self.inode_mut(path)?.meta.gid = 0;
        Ok(())
    }

    /// `Write` and `WriteSparse`: a new inode, replacing an existing regular file.
    pub(super) fn write_new(
        &mut self,
        path: &str,
        data: FileData,
        mode: u32,
        stamp: Timestamp,
    ) -> Result<(), ModelError> {
        check_mode(path, mode)?;
        self.new_gid(path)?;
        if self.exists(path) {
            self.require(path, FILE, "regular file")?;
            self.unlink(path);
        }
        self.create_inode(path, mode, Body::File(data), stamp)
    }

    pub(super) fn write_sparse(
        &mut self,
        path: &str,
        len: u64,
        data: &[(u64, Content)],
        mode: u32,
        stamp: Timestamp,
    ) -> Result<(), ModelError> {
        check_content(path, len, &Content { len: 0, pattern: Pattern::Zeros })?;
        let mut file = FileData::default();
        file.truncate(len);
        for (offset, c) in data {
            check_content(path, *offset, c)?;
            if offset + c.len > len {
                return Err(invalid(
                    path,
                    format!("sparse data at {offset}+{} ends past length {len}", c.len),
                ));
            }
            file.write(*offset, c);
        }
        self.write_new(path, file, mode, stamp)
    }

    /// Changes a regular file's bytes through `change` and stamps its mtime.
    pub(super) fn modify_file(
        &mut self,
        path: &str,
        stamp: Timestamp,
        change: impl FnOnce(&mut FileData),
    ) -> Result<(), ModelError> {
        self.require(path, FILE, "regular file")?;
        let inode = self.inode_mut(path)?;
        if let Body::File(f) = &mut inode.body {
            change(f);
        }
        inode.meta.mtime = stamp;
        Ok(())
    }

    pub(super) fn append(
        &mut self,
        path: &str,
        c: &Content,
        stamp: Timestamp,
    ) -> Result<(), ModelError> {
        let len = self.view(path).map_or(0, |v| v.len);
        check_content(path, len, c)?;
        self.modify_file(path, stamp, |f| f.write(f.len(), c))
    }

    pub(super) fn punch(
        &mut self,
        path: &str,
        offset: u64,
        len: u64,
        stamp: Timestamp,
    ) -> Result<(), ModelError> {
        if len == 0 {
            return Err(invalid(path, "hole of length 0".into()));
        }
        check_content(path, offset, &Content { len, pattern: Pattern::Zeros })?;
        self.modify_file(path, stamp, |f| f.punch(offset, len))
    }

    pub(super) fn remove(&mut self, path: &str) -> Result<(), ModelError> {
        self.require(path, NOT_DIR, "regular file or symlink")?;
        self.unlink(path);
        Ok(())
    }

    pub(super) fn rmdir(&mut self, path: &str) -> Result<(), ModelError> {
        self.require(path, DIR, "directory")?;
        if self.is_subvolume_root(path) {
            return Err(invalid(path, "a subvolume root is removed with DeleteSubvolume".into()));
        }
        if self.has_descendants(path) {
            return Err(ModelError::NotEmpty { path: path.to_owned() });
        }
        self.unlink(path);
        Ok(())
    }

    pub(super) fn rename(&mut self, from: &str, to: &str) -> Result<(), ModelError> {
        let src_id =
            *self.paths.get(from).ok_or_else(|| ModelError::NotFound { path: from.to_owned() })?;
        let src_is_dir = self.inodes[&src_id].body.kind() == EntryKind::Dir;
        if self.is_subvolume_root(from) || self.is_subvolume_root(to) {
            return Err(invalid(from, "renaming a subvolume root is not modelled".into()));
        }
        self.new_gid(to)?;
        if from == to || self.paths.get(to) == Some(&src_id) {
            return Ok(()); // rename(2) between links of one inode does nothing
        }
        if src_is_dir && to.starts_with(&format!("{from}/")) {
            return Err(ModelError::IntoItself { from: from.to_owned(), to: to.to_owned() });
        }
        if self.subvolume_of(from) != self.subvolume_of(to) {
            return Err(ModelError::CrossSubvolume { from: from.to_owned(), to: to.to_owned() });
        }
        if self.exists(to) {
            self.check_rename_target(to, src_is_dir)?;
            self.unlink(to);
        }
        let mut moved = self.descendants(from);
        moved.push(from.to_owned());
        for old in moved {
            let id = self.paths.remove(&old).expect("listed path");
            self.paths.insert(format!("{to}{}", &old[from.len()..]), id);
        }
        Ok(())
    }

    /// An existing rename target must match the source's type; a directory must be empty.
    fn check_rename_target(&self, to: &str, src_is_dir: bool) -> Result<(), ModelError> {
        if src_is_dir {
            self.require(to, DIR, "directory")?;
            if self.has_descendants(to) {
                return Err(ModelError::NotEmpty { path: to.to_owned() });
            }
        } else {
            self.require(to, NOT_DIR, "regular file or symlink")?;
        }
        Ok(())
    }

    pub(super) fn chmod(&mut self, path: &str, mode: u32) -> Result<(), ModelError> {
        check_mode(path, mode)?;
        self.require(path, FILE_OR_DIR, "regular file or directory")?;
        self.inode_mut(path)?.meta.mode = mode;
        Ok(())
    }

    pub(super) fn chown(&mut self, path: &str, uid: u32, gid: u32) -> Result<(), ModelError> {
        let inode = self.inode_mut(path)?;
        inode.meta.uid = uid;
        inode.meta.gid = gid;
        if let Body::File(_) = inode.body {
            inode.meta.mode &= !S_ISUID;
            if inode.meta.mode & S_IXGRP != 0 {
                inode.meta.mode &= !S_ISGID;
            }
        }
        Ok(())
    }

    fn check_target(path: &str, target: &str) -> Result<(), ModelError> {
        if target.is_empty() || target.len() > MAX_SYMLINK || target.contains('\0') {
            return Err(invalid(
                path,
                format!("symlink target of {} bytes (1..=4095, no NUL)", target.len()),
            ));
        }
        Ok(())
    }

    pub(super) fn symlink(&mut self, path: &str, target: &str) -> Result<(), ModelError> {
        Self::check_target(path, target)?;
        self.create(path, 0, Body::Symlink(target.to_owned()))
    }

    /// A new symlink inode replaces the old one (the executor renames over it).
    pub(super) fn retarget(&mut self, path: &str, target: &str) -> Result<(), ModelError> {
        Self::check_target(path, target)?;
        self.require(path, SYMLINK, "symlink")?;
        self.unlink(path);
        self.create(path, 0, Body::Symlink(target.to_owned()))
    }

    pub(super) fn hardlink(&mut self, existing: &str, new: &str) -> Result<(), ModelError> {
        self.require(existing, FILE, "regular file")?;
        self.require_absent(new)?;
        self.new_gid(new)?;
        if self.subvolume_of(existing) != self.subvolume_of(new) {
            return Err(ModelError::CrossSubvolume {
                from: existing.to_owned(),
                to: new.to_owned(),
            });
        }
        let id = self.paths[existing];
        self.link(new, id);
        Ok(())
    }

    pub(super) fn set_xattr(
        &mut self,
        path: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ModelError> {
        let rest = name.strip_prefix("user.").unwrap_or("");
        if rest.is_empty() || name.len() > MAX_NAME || name.contains('\0') {
            return Err(invalid(path, format!("xattr name {name:?} is not user.<1..250 bytes>")));
        }
        let bytes = hex::decode(value)
            .map_err(|e| invalid(path, format!("xattr value is not hex: {e}")))?;
        if bytes.len() > MAX_XATTR_VALUE || value.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(
                path,
                "xattr value longer than 4096 bytes or not lowercase hex".into(),
            ));
        }
        self.require(path, FILE_OR_DIR, "regular file or directory")?;
        self.inode_mut(path)?.meta.xattrs.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    pub(super) fn remove_xattr(&mut self, path: &str, name: &str) -> Result<(), ModelError> {
        let inode = self.inode_mut(path)?;
        match inode.meta.xattrs.remove(name) {
            Some(_) => Ok(()),
            None => Err(ModelError::NoXattr { path: path.to_owned(), name: name.to_owned() }),
        }
    }

    pub(super) fn touch(
        &mut self,
        path: &str,
        nsec: u32,
        stamp: Timestamp,
    ) -> Result<(), ModelError> {
        if nsec >= 1_000_000_000 {
            return Err(invalid(path, format!("mtime_nsec {nsec} is not below 1e9")));
        }
        self.require(path, ANY, "path")?;
        self.inode_mut(path)?.meta.mtime = stamp;
        Ok(())
    }

    /// A new inode with the source's content and mode, like `cp --reflink=always`.
    pub(super) fn reflink(
        &mut self,
        from: &str,
        to: &str,
        stamp: Timestamp,
    ) -> Result<(), ModelError> {
        let src = self.require(from, FILE, "regular file")?;
        let (body, mode) = (src.body.clone(), src.meta.mode);
        self.create_inode(to, mode, body, stamp)
    }

    pub(super) fn delete_subvolume(&mut self, path: &str) -> Result<(), ModelError> {
        if !self.is_subvolume_root(path) {
            return Err(ModelError::WrongKind {
                path: path.to_owned(),
                expected: "subvolume root",
                found: "plain path",
            });
        }
        let inside = self.descendants(path);
        if inside.iter().any(|p| self.is_subvolume_root(p)) {
            return Err(ModelError::NotEmpty { path: path.to_owned() });
        }
        for p in inside.iter().rev() {
            self.unlink(p);
        }
        self.unlink(path);
        Ok(())
    }
}
