//! Post-restore verification (CONTRACT.md section 12, step 6): compare the restored
//! target with the source snapshot on this host: the sets of paths, entry types and
//! symlink targets, and for regular files size and SHA-256 (all files in `full` mode, the
//! first `sample_max_files` in sorted order in `sample` mode). Like the Python tool it does
//! not compare modes, owners, times, xattrs or hardlinks. It reports the first mismatch
//! in sorted path order; it must not modify either tree.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::VerifyMode;

#[derive(Clone, Debug, PartialEq, Eq)]
enum EntryType {
    Dir,
    File,
    Symlink(PathBuf),
    Other(&'static str),
}

#[derive(Clone, Debug)]
struct Entry {
    kind: EntryType,
    size: u64,
}

/// A tree as relative path bytes -> entry, sorted.
type Tree = BTreeMap<Vec<u8>, Entry>;

/// Compares `target` with `source`; Err carries the first mismatch.
pub fn compare(source: &Path, target: &Path, mode: VerifyMode, sample_max: u64) -> Result<(), String> {
    let src = scan(source)?;
    let dst = scan(target)?;
    for (rel, s) in &src {
        let Some(d) = dst.get(rel) else {
            return Err(format!("missing file: {}", show(rel)));
        };
        if s.kind != d.kind {
            let what = if matches!((&s.kind, &d.kind), (EntryType::Symlink(_), EntryType::Symlink(_))) {
                "symlink target mismatch"
            } else {
                "type mismatch"
            };
            return Err(format!("{what} for {}", show(rel)));
        }
    }
    if let Some(rel) = dst.keys().find(|rel| !src.contains_key(*rel)) {
        return Err(format!("unexpected file: {}", show(rel)));
    }
    let files = src.iter().filter(|(_, e)| e.kind == EntryType::File);
    let limit = if mode == VerifyMode::Sample { sample_max as usize } else { usize::MAX };
    for (rel, s) in files.take(limit) {
        let rel_path = Path::new(std::ffi::OsStr::from_bytes(rel));
        if dst[rel].size != s.size {
            return Err(format!("size mismatch for {}", show(rel)));
        }
        if sha256_file(&source.join(rel_path))? != sha256_file(&target.join(rel_path))? {
            return Err(format!("hash mismatch for {}", show(rel)));
        }
    }
    Ok(())
}

/// Checks what can be checked without a source: the target is a directory.
pub fn check_metadata(target: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("restored target is not a directory: {}", target.display())),
        Err(e) => Err(format!("restored target is unreadable: {}: {e}", target.display())),
    }
}

fn show(rel: &[u8]) -> String {
    String::from_utf8_lossy(rel).into_owned()
}

/// Walks `root` without following symlinks; skips other filesystems and subvolumes.
fn scan(root: &Path) -> Result<Tree, String> {
    let mut tree = Tree::new();
    let root_dev = std::fs::symlink_metadata(root).map_err(|e| format!("cannot stat {}: {e}", root.display()))?.dev();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let child_rel = rel.join(entry.file_name());
            let path = root.join(&child_rel);
            let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
            let kind = entry_type(&path, &meta)?;
            if kind == EntryType::Dir && (meta.dev() != root_dev || is_subvolume_boundary(&meta)) {
                continue;
            }
            if kind == EntryType::Dir {
                pending.push(child_rel.clone());
            }
            tree.insert(child_rel.as_os_str().as_bytes().to_vec(), Entry { kind, size: meta.len() });
        }
    }
    Ok(tree)
}

/// Nested subvolumes (inode 256) and their empty stand-ins in snapshots (inode 2) are
/// skipped: `btrfs send` carries neither them nor their content.
fn is_subvolume_boundary(meta: &std::fs::Metadata) -> bool {
    meta.ino() == 256 || meta.ino() == 2
}

fn entry_type(path: &Path, meta: &std::fs::Metadata) -> Result<EntryType, String> {
    let t = meta.file_type();
    use std::os::unix::fs::FileTypeExt;
    Ok(if t.is_symlink() {
        EntryType::Symlink(std::fs::read_link(path).map_err(|e| format!("cannot read link {}: {e}", path.display()))?)
    } else if t.is_dir() {
        EntryType::Dir
    } else if t.is_file() {
        EntryType::File
    } else if t.is_fifo() {
        EntryType::Other("fifo")
    } else if t.is_socket() {
        EntryType::Other("socket")
    } else if t.is_char_device() {
        EntryType::Other("char device")
    } else {
        EntryType::Other("block device")
    })
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut block).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&block[..n]);
    }
}
