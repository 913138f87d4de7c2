//! The btrfs helpers on a real filesystem (as root): properties read back correctly,
//! listing finds subvolumes, deletion handles nested and read-only subvolumes, and
//! deletion refuses to cross a mount point.

mod fixture_support;

use std::fs;

use b2s3_harness::fixture::btrfs::{self, SubvolumeInfo};
use b2s3_harness::fixture::FixtureError;
use fixture_support::{run, send_receive, GlobalLock, TestRun};

#[test]
fn snapshot_properties_read_back_as_created() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("props");
    let fx = test.setup();
    let data = fx.subvolume_path("data").unwrap();
    let ro = fx.snapshots_dir().join("data-ro");
    let rw = fx.snapshots_dir().join("data-rw");
    btrfs::snapshot(&data, &ro, true).unwrap();
    btrfs::snapshot(&data, &rw, false).unwrap();

    let origin = btrfs::subvolume_info(&data).unwrap();
    let ro_info = btrfs::subvolume_info(&ro).unwrap();
    let rw_info = btrfs::subvolume_info(&rw).unwrap();
    assert_eq!((origin.read_only, origin.parent_uuid.as_deref()), (false, None));
    assert!(ro_info.read_only && !rw_info.read_only);
    assert_eq!(ro_info.parent_uuid.as_ref(), Some(&origin.uuid));
    assert_eq!(rw_info.parent_uuid.as_ref(), Some(&origin.uuid));
    assert_ne!(ro_info.uuid, origin.uuid);
    assert_eq!((ro_info.name.as_str(), ro_info.received_uuid.as_deref()), ("data-ro", None));
    assert!(btrfs::is_read_only(&ro).unwrap() && !btrfs::is_read_only(&rw).unwrap());

    btrfs::set_read_only(&ro, false).unwrap();
    assert!(!btrfs::is_read_only(&ro).unwrap() && !btrfs::subvolume_info(&ro).unwrap().read_only);
    btrfs::set_read_only(&rw, true).unwrap();
    assert!(btrfs::is_read_only(&rw).unwrap());
}

#[test]
fn a_received_subvolume_carries_the_sent_snapshot_uuid_until_made_writable() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("received");
    let fx = test.setup();
    let data = fx.subvolume_path("data").unwrap();
    fs::write(data.join("file"), b"payload").unwrap();
    let snap = fx.snapshots_dir().join("snap");
    btrfs::snapshot(&data, &snap, true).unwrap();
    let target = fx.restore_mount().join("cases");
    send_receive(&snap, &target);

    let received = target.join("snap");
    let info: SubvolumeInfo = btrfs::subvolume_info(&received).unwrap();
    let sent = btrfs::subvolume_info(&snap).unwrap();
    assert_eq!(info.received_uuid.as_ref(), Some(&sent.uuid));
    assert!(info.read_only);
    assert_eq!(fs::read(received.join("file")).unwrap(), b"payload");
    btrfs::set_read_only(&received, false).unwrap();
    let after = btrfs::subvolume_info(&received).unwrap();
    assert!(!after.read_only && after.received_uuid.is_none(), "{after:?}");
}

#[test]
fn subvolume_roots_are_told_apart_from_plain_directories_and_files() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("roots");
    let fx = test.setup();
    let data = fx.subvolume_path("data").unwrap();
    fs::create_dir(data.join("dir")).unwrap();
    fs::write(data.join("file"), b"").unwrap();
    std::os::unix::fs::symlink(&data, fx.source_mount().join("link")).unwrap();
    assert!(btrfs::is_subvolume_root(&data).unwrap());
    assert!(btrfs::is_subvolume_root(fx.source_mount()).unwrap(), "the top-level subvolume");
    assert!(!btrfs::is_subvolume_root(&data.join("dir")).unwrap());
    assert!(!btrfs::is_subvolume_root(&data.join("file")).unwrap());
    assert!(!btrfs::is_subvolume_root(&fx.source_mount().join("link")).unwrap(), "followed a symlink");
    assert!(!btrfs::is_subvolume_root(&fx.snapshots_dir()).unwrap());
}

#[test]
fn listing_finds_direct_child_subvolumes_and_searching_finds_nested_ones() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("list");
    let fx = test.setup();
    let data = fx.subvolume_path("data").unwrap();
    fs::create_dir(data.join("d")).unwrap();
    btrfs::create_subvolume(&data.join("d/nested")).unwrap();
    btrfs::snapshot(&data, &fx.snapshots_dir().join("s1"), true).unwrap();
    btrfs::snapshot(&data, &fx.snapshots_dir().join("s0"), true).unwrap();

    let top = btrfs::list_subvolumes(fx.source_mount()).unwrap();
    let mut configured = fx.subvolume_paths();
    configured.sort();
    assert_eq!(top, configured);
    let snaps = btrfs::list_subvolumes(&fx.snapshots_dir()).unwrap();
    assert_eq!(snaps, vec![fx.snapshots_dir().join("s0"), fx.snapshots_dir().join("s1")]);
    let below = btrfs::find_subvolumes(&data).unwrap();
    assert_eq!(below, vec![data.clone(), data.join("d/nested")]);
}

#[test]
fn deleting_a_read_only_subvolume_with_nested_subvolumes_removes_all_of_them() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("delete");
    let fx = test.setup();
    let outer = fx.source_mount().join("outer");
    btrfs::create_subvolume(&outer).unwrap();
    btrfs::create_subvolume(&outer.join("inner")).unwrap();
    btrfs::create_subvolume(&outer.join("inner/innermost")).unwrap();
    fs::write(outer.join("inner/innermost/f"), b"x").unwrap();
    btrfs::set_read_only(&outer.join("inner"), true).unwrap();
    btrfs::set_read_only(&outer, true).unwrap();

    btrfs::delete_subvolume(&outer).unwrap();
    assert!(!outer.exists());
    let left = run("btrfs", &["subvolume", "list", fx.source_mount().to_str().unwrap()]);
    assert!(!left.contains("outer"), "{left}");
    let err = btrfs::delete_subvolume(&fx.snapshots_dir()).unwrap_err();
    assert!(matches!(err, FixtureError::Invalid { .. }), "a plain dir was accepted: {err}");
}

#[test]
fn deleting_below_a_directory_with_a_mount_inside_refuses_and_deletes_nothing() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("mountbelow");
    let fx = test.setup();
    let dir = fx.source_mount().join("cases/x");
    fs::create_dir_all(dir.join("mnt")).unwrap();
    btrfs::create_subvolume(&dir.join("vol")).unwrap();
    run("mount", &["-t", "tmpfs", "tmpfs", dir.join("mnt").to_str().unwrap()]);
    let result = btrfs::delete_subvolumes_below(&dir);
    run("umount", &[dir.join("mnt").to_str().unwrap()]);
    assert!(matches!(result, Err(FixtureError::Conflict { .. })), "{result:?}");
    assert!(btrfs::is_subvolume_root(&dir.join("vol")).unwrap());
}

#[test]
fn reclaim_returns_the_space_of_deleted_subvolumes() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("reclaim");
    let fx = test.setup();
    let vol = fx.source_mount().join("big");
    btrfs::create_subvolume(&vol).unwrap();
    fs::write(vol.join("blob"), vec![0x5a; 200 << 20]).unwrap();
    run("sync", &[]);
    let full = free_bytes(fx.source_mount());
    btrfs::delete_subvolume(&vol).unwrap();
    let started = std::time::Instant::now();
    fx.reclaim().unwrap();
    eprintln!("timing: reclaim of 200 MiB took {:?}", started.elapsed());
    let freed = free_bytes(fx.source_mount()).saturating_sub(full);
    assert!(freed >= 150 << 20, "only {freed} bytes freed");
}

fn free_bytes(path: &std::path::Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(path).unwrap();
    stat.blocks_available() * stat.fragment_size()
}
