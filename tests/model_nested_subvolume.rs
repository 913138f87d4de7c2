//! What btrfs does with a nested subvolume, measured: the parent's read-only snapshot
//! shows an empty stub directory (inode 2, mode 0755, root:root) where the nested
//! subvolume was, but `btrfs send` leaves it out entirely, so a received backup has no
//! entry at all there. `ModelTree::backup_view` models exactly that.

mod common;

use std::os::unix::fs::MetadataExt;

use b2s3_harness::fixture::scan::scan;
use b2s3_harness::fixture::tree::EntryKind;
use b2s3_harness::gen::plan::{Content, Mutation, Pattern};
use b2s3_harness::model::{exec, ModelTree};
use common::{assert_tree_eq, Btrfs};

fn ops() -> Vec<Mutation> {
    let write = |path: &str, seed| Mutation::Write {
        path: path.into(),
        content: Content { len: 5000, pattern: Pattern::Random { seed } },
        mode: 0o644,
    };
    vec![
        Mutation::Mkdir { path: "d".into(), mode: 0o755 },
        write("d/f", 1),
        Mutation::CreateSubvolume { path: "nested".into() },
        write("nested/x", 2),
        Mutation::Hardlink { existing: "nested/x".into(), new: "nested/x2".into() },
        Mutation::Chmod { path: "nested".into(), mode: 0o700 },
        Mutation::Chown { path: "nested".into(), uid: 1000, gid: 1000 },
        Mutation::SetXattr { path: "nested".into(), name: "user.k".into(), value: "76".into() },
        Mutation::CreateSubvolume { path: "d/inner".into() },
        Mutation::Mkdir { path: "d/inner/sub".into(), mode: 0o750 },
    ]
}

#[test]
fn a_nested_subvolume_is_a_stub_in_the_snapshot_and_absent_from_a_received_backup() {
    let Some(fs) = Btrfs::new(1024) else { return };
    let root = fs.subvolume("data");
    let mut model = ModelTree::new();
    for op in ops() {
        model.apply(&op).unwrap();
        exec::apply(&root, &op).unwrap();
    }
    let live = scan(&root).unwrap();
    assert!(live.get("nested").unwrap().subvolume_root);
    assert!(live.get("d/inner").unwrap().subvolume_root);
    assert_tree_eq(&model.to_tree(), &live, "live tree");

    let snap = fs.snapshot(&root, "data-snap");
    let stub = std::fs::symlink_metadata(snap.join("nested")).unwrap();
    assert_eq!((stub.ino(), stub.mode() & 0o7777, stub.uid(), stub.gid()), (2, 0o755, 0, 0));
    let in_snapshot = scan(&snap).unwrap();
    let stub_entry = in_snapshot.get("nested").unwrap();
    assert_eq!(stub_entry.kind, EntryKind::Dir);
    assert!(!stub_entry.subvolume_root && stub_entry.xattrs.is_empty());
    assert!(in_snapshot.get("nested/x").is_none() && in_snapshot.get("d/inner/sub").is_none());

    let received = fs.send_receive(&snap, None, &fs.mount().join("recv"));
    let restored = scan(&received).unwrap();
    assert!(restored.get("nested").is_none(), "the nested subvolume came back: {restored:?}");
    assert!(restored.get("d/inner").is_none());
    assert_tree_eq(&model.backup_view(), &restored, "received backup");
    assert!(model.backup_view().get("d/f").is_some());
}

#[test]
fn a_nested_subvolume_created_after_the_parent_snapshot_is_absent_from_an_incremental() {
    let Some(fs) = Btrfs::new(1024) else { return };
    let root = fs.subvolume("data");
    let mut model = ModelTree::new();
    let all = ops();
    let (first, later) = all.split_at(2);
    for op in first {
        model.apply(op).unwrap();
        exec::apply(&root, op).unwrap();
    }
    let parent = fs.snapshot(&root, "snap-1");
    for op in later {
        model.apply(op).unwrap();
        exec::apply(&root, op).unwrap();
    }
    let child = fs.snapshot(&root, "snap-2");
    let into = fs.mount().join("recv");
    fs.send_receive(&parent, None, &into);
    let received = fs.send_receive(&child, Some(&parent), &into);
    let restored = scan(&received).unwrap();
    assert_tree_eq(&model.backup_view(), &restored, "received incremental");
    assert!(restored.get("nested").is_none());
}

#[test]
fn a_nested_subvolume_in_a_setgid_directory_does_not_inherit_its_group_unlike_a_directory() {
    let Some(fs) = Btrfs::new(512) else { return };
    let root = fs.subvolume("data");
    let mut model = ModelTree::new();
    let ops = [
        Mutation::Mkdir { path: "g".into(), mode: 0o2775 },
        Mutation::Chown { path: "g".into(), uid: 0, gid: 1000 },
        Mutation::Mkdir { path: "g/plain".into(), mode: 0o755 },
        Mutation::CreateSubvolume { path: "g/sub".into() },
    ];
    for op in &ops {
        model.apply(op).unwrap();
        exec::apply(&root, op).unwrap();
    }
    let live = scan(&root).unwrap();
    assert_eq!(live.get("g/plain").unwrap().gid, 1000);
    let sub = live.get("g/sub").unwrap();
    assert_eq!((sub.gid, sub.mode, sub.subvolume_root), (0, 0o755, true));
    assert_tree_eq(&model.to_tree(), &live, "live tree");
}
