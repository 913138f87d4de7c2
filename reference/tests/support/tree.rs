//! The tests' own view of a directory tree, independent of the tool's verification:
//! `scan` records per relative path the entry type, size, content SHA-256, permission
//! bits, owner, symlink target, user xattrs, regular-file mtime and hardlink group;
//! `populate` and `mutate` build deterministic trees with all of those features. It must
//! not call the tool.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// One entry as compared between a source and a restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub size: u64,
    pub sha256: Option<String>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub link: Option<String>,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    pub mtime: Option<(i64, i64)>,
    /// For files with several links: the first path (sorted) of the group.
    pub hardlink_group: Option<String>,
}

pub type Tree = BTreeMap<String, Node>;

/// Scans `root` (not following symlinks, skipping nested subvolumes).
pub fn scan(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let dir = if rel.is_empty() { root.to_path_buf() } else { root.join(&rel) };
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("scan {}: {e}", dir.display())) {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let path = root.join(&child);
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() && (meta.ino() == 2 || meta.ino() == 256) {
                continue;
            }
            if meta.is_dir() {
                pending.push(child.clone());
            }
            if meta.is_file() && meta.nlink() > 1 {
                inodes.entry(meta.ino()).or_default().push(child.clone());
            }
            tree.insert(child, node(&path, &meta));
        }
    }
    for mut paths in inodes.into_values() {
        paths.sort();
        for p in &paths {
            tree.get_mut(p).unwrap().hardlink_group = Some(paths[0].clone());
        }
    }
    tree
}

fn node(path: &Path, meta: &std::fs::Metadata) -> Node {
    let t = meta.file_type();
    let kind = if t.is_symlink() { "symlink" } else if t.is_dir() { "dir" } else if t.is_file() { "file" } else { "other" };
    Node {
        kind,
        size: if t.is_file() || t.is_symlink() { meta.len() } else { 0 },
        sha256: t.is_file().then(|| hex::encode(Sha256::digest(std::fs::read(path).unwrap()))),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        link: t.is_symlink().then(|| std::fs::read_link(path).unwrap().to_string_lossy().into_owned()),
        xattrs: if t.is_symlink() { BTreeMap::new() } else { user_xattrs(path) },
        mtime: t.is_file().then(|| (meta.mtime(), meta.mtime_nsec())),
        hardlink_group: None,
    }
}

fn user_xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 4096];
    // SAFETY: buffer and length match; path is NUL-terminated.
    let n = unsafe { libc::llistxattr(cpath.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(n >= 0, "llistxattr {}", path.display());
    let mut out = BTreeMap::new();
    for raw in names[..n as usize].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(raw).into_owned();
        if !name.starts_with("user.") {
            continue;
        }
        let cname = CString::new(raw).unwrap();
        let mut value = vec![0u8; 65536];
        // SAFETY: as above.
        let len = unsafe { libc::lgetxattr(cpath.as_ptr(), cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        assert!(len >= 0, "lgetxattr {name} on {}", path.display());
        value.truncate(len as usize);
        out.insert(name, value);
    }
    out
}

/// The first difference between two trees, or None.
pub fn first_difference(expected: &Tree, actual: &Tree) -> Option<String> {
    for (path, e) in expected {
        match actual.get(path) {
            None => return Some(format!("missing {path}")),
            Some(a) if a != e => return Some(format!("{path} differs: expected {e:?}, got {a:?}")),
            _ => {}
        }
    }
    actual.keys().find(|p| !expected.contains_key(*p)).map(|p| format!("unexpected {p}"))
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn cpath(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    let cname = CString::new(name).unwrap();
    // SAFETY: valid NUL-terminated strings and a matching buffer length.
    let rc = unsafe { libc::lsetxattr(cpath(path).as_ptr(), cname.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    assert_eq!(rc, 0, "setxattr {name} on {}", path.display());
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    // SAFETY: valid NUL-terminated path.
    let rc = unsafe { libc::lchown(cpath(path).as_ptr(), uid, gid) };
    assert_eq!(rc, 0, "chown {}", path.display());
}

pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn set_mtime(path: &Path, secs: i64, nsecs: i64) {
    let times = [
        libc::timespec { tv_sec: secs, tv_nsec: nsecs },
        libc::timespec { tv_sec: secs, tv_nsec: nsecs },
    ];
    // SAFETY: valid path and a two-element timespec array.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, cpath(path).as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// Fills `root` with a tree exercising every compared attribute; `big` adds one large file.
pub fn populate(root: &Path, seed: u64, big: usize) {
    let mut rng = Rng::new(seed);
    std::fs::create_dir_all(root.join("docs/deep/er")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for (i, size) in [0usize, 1, 4095, 70_000].iter().enumerate() {
        let p = root.join(format!("docs/file{i}.txt"));
        std::fs::write(&p, rng.bytes(*size)).unwrap();
        set_mtime(&p, 1_600_000_000 + i as i64 * 1000, 123_456_789);
    }
    std::fs::write(root.join("docs/deep/er/nested.bin"), rng.bytes(10_000)).unwrap();
    if big > 0 {
        std::fs::write(root.join("big.bin"), rng.bytes(big)).unwrap();
    }
    std::os::unix::fs::symlink("docs/file1.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/nowhere/dangling", root.join("dangling")).unwrap();
    std::fs::hard_link(root.join("docs/file2.txt"), root.join("hard")).unwrap();
    let secret = root.join("docs/secret");
    std::fs::write(&secret, b"top secret").unwrap();
    chmod(&secret, 0o600);
    chown(&secret, 1234, 5678);
    chmod(&root.join("docs/deep"), 0o750);
    set_xattr(&root.join("docs/file3.txt"), "user.color", b"blue");
    set_xattr(&root.join("docs"), "user.dir", b"yes");
}

/// Changes a populated tree in every way `populate` set up.
pub fn mutate(root: &Path, seed: u64) {
    let mut rng = Rng::new(seed);
    std::fs::write(root.join("docs/file1.txt"), rng.bytes(5000)).unwrap();
    std::fs::remove_file(root.join("docs/file0.txt")).unwrap_or(());
    std::fs::write(root.join(format!("new-{seed}.dat")), rng.bytes(30_000)).unwrap();
    let moved = root.join(format!("docs/deep/moved-{seed}.bin"));
    if root.join("docs/deep/er/nested.bin").exists() {
        std::fs::rename(root.join("docs/deep/er/nested.bin"), &moved).unwrap();
    }
    chmod(&root.join("docs/secret"), 0o640);
    chown(&root.join("docs/secret"), 4321, 8765);
    set_xattr(&root.join("docs/file3.txt"), "user.color", format!("red-{seed}").as_bytes());
    std::fs::create_dir_all(root.join(format!("dir-{seed}"))).unwrap();
    let _ = std::fs::hard_link(root.join("docs/file3.txt"), root.join(format!("hard-{seed}")));
    set_mtime(&root.join("docs/file2.txt"), 1_700_000_000 + seed as i64, 5);
}
