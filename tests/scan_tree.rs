//! The tree scanner on hand-made directories: what it records, what it refuses, and
//! that it never follows symlinks.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use b2s3_harness::fixture::scan::{scan, ScanError};
use b2s3_harness::fixture::tree::EntryKind;
use b2s3_harness::gen::plan::{Content, Pattern};
use b2s3_harness::model::file::FileData;
use common::{run, Btrfs};

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("b2s3-genmodel-scan-").tempdir().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_symlink_to_a_directory_is_recorded_and_not_followed() {
    let d = tempdir();
    std::fs::create_dir(d.path().join("real")).unwrap();
    write(&d.path().join("real/f"), b"hello");
    symlink("real", d.path().join("link")).unwrap();
    symlink("/etc", d.path().join("abs")).unwrap();
    let t = scan(d.path()).unwrap();
    assert_eq!(t.entries.keys().collect::<Vec<_>>(), ["abs", "link", "real", "real/f"]);
    let link = t.get("link").unwrap();
    assert_eq!((link.kind, link.size, link.mode), (EntryKind::Symlink, 4, 0));
    assert_eq!(link.symlink_target.as_deref(), Some("real"));
    assert_eq!(t.get("real/f").unwrap().size, 5);
}

#[test]
fn hardlinks_inside_the_tree_share_the_smallest_path_and_a_link_outside_does_not_count() {
    let d = tempdir();
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("b")).unwrap();
    write(&root.join("b/one"), b"x");
    std::fs::hard_link(root.join("b/one"), root.join("a-two")).unwrap();
    write(&root.join("lonely"), b"y");
    std::fs::hard_link(root.join("lonely"), d.path().join("outside")).unwrap();
    let t = scan(&root).unwrap();
    assert_eq!(t.get("b/one").unwrap().link_group.as_deref(), Some("a-two"));
    assert_eq!(t.get("a-two").unwrap().link_group.as_deref(), Some("a-two"));
    assert_eq!(t.get("lonely").unwrap().link_group, None);
}

#[test]
fn only_user_xattrs_are_recorded_as_hex() {
    let d = tempdir();
    let f = d.path().join("f");
    write(&f, b"");
    xattr::set(&f, "user.k", b"\x00\xffA").unwrap();
    xattr::set(&f, "trusted.hidden", b"v").unwrap();
    let t = scan(d.path()).unwrap();
    let x = &t.get("f").unwrap().xattrs;
    assert_eq!(x.len(), 1);
    assert_eq!(x["user.k"], "00ff41");
}

#[test]
fn a_big_sparse_file_hashes_like_the_model_and_mtime_has_nanoseconds() {
    let d = tempdir();
    let path = d.path().join("sparse");
    let tail = Content { len: 3 << 20, pattern: Pattern::Random { seed: 9 } };
    let mut model = FileData::default();
    model.truncate(64 << 20);
    model.write(61 << 20, &tail);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&b2s3_harness::gen::content::bytes(&tail), 61 << 20).unwrap();
    let t = filetime::FileTime::from_unix_time(1_234_567_890, 123_456_789);
    filetime::set_file_mtime(&path, t).unwrap();
    let e = scan(d.path()).unwrap().entries.remove("sparse").unwrap();
    assert_eq!(e.size, 64 << 20);
    assert_eq!(e.sha256.as_deref(), Some(model.sha256()));
    assert_eq!(e.mtime_ns, 1_234_567_890_123_456_789);
}

#[test]
fn modes_owners_and_special_files_are_recorded() {
    let d = tempdir();
    let f = d.path().join("f");
    write(&f, b"z");
    std::os::unix::fs::lchown(&f, Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4751)).unwrap();
    run("mkfifo", &[d.path().join("fifo").to_str().unwrap()]);
    let t = scan(d.path()).unwrap();
    let e = t.get("f").unwrap();
    assert_eq!((e.mode, e.uid, e.gid), (0o4751, 1234, 5678));
    assert_eq!(t.get("fifo").unwrap().kind, EntryKind::Other);
}

#[test]
fn a_name_that_is_not_utf8_is_an_error_naming_the_path() {
    let d = tempdir();
    write(&d.path().join(OsStr::from_bytes(b"bad\xff")), b"");
    match scan(d.path()) {
        Err(ScanError::NonUtf8(p)) => assert!(p.as_os_str().as_bytes().ends_with(b"bad\xff")),
        other => panic!("expected a non-UTF-8 error, got {other:?}"),
    }
}

#[test]
fn scanning_a_file_instead_of_a_directory_is_an_error() {
    let d = tempdir();
    write(&d.path().join("f"), b"");
    assert!(matches!(scan(&d.path().join("f")), Err(ScanError::NotADirectory(_))));
}

#[test]
fn on_btrfs_equal_inode_numbers_in_two_subvolumes_are_different_files() {
    let Some(fs) = Btrfs::new(512) else { return };
    let root = fs.subvolume("top");
    for sub in ["a", "b"] {
        let s = fs.subvolume(&format!("top/{sub}"));
        write(&s.join("f"), sub.as_bytes());
        std::fs::hard_link(s.join("f"), s.join("g")).unwrap();
    }
    let t = scan(&root).unwrap();
    assert!(t.get("a").unwrap().subvolume_root && t.get("b").unwrap().subvolume_root);
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("a/f"), ino("b/f"), "btrfs reuses inode numbers across subvolumes");
    assert_eq!(t.get("a/g").unwrap().link_group.as_deref(), Some("a/f"));
    assert_eq!(t.get("b/g").unwrap().link_group.as_deref(), Some("b/f"));
}
