//! Store checks on real `btrfs send` streams: a full and an incremental made on a
//! loop-mounted btrfs, published the way the tool publishes, give no finding; the same
//! full cut short at a chunk boundary is rejected by `btrfs receive --dump` (P7).
//! Needs root and loop devices (as CI has); skipped with a message otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use b2s3_harness::oracle::finding::Property;
use b2s3_harness::oracle::manifest::BackupKind;
use b2s3_harness::oracle::store::{StoreChecker, StoreExpect};
use b2s3_harness::oracle::testkit::{publish, Publish};
use b2s3_harness::s3::view::MemStore;

fn run(args: &[&str]) -> Vec<u8> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A btrfs on a loop file, unmounted and detached on drop.
struct LoopFs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
    device: String,
}

impl LoopFs {
    fn new() -> LoopFs {
        let dir = tempfile::tempdir().expect("temp dir");
        let img = dir.path().join("img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(200 << 20)
            .unwrap();
        let device =
            String::from_utf8(run(&["losetup", "--find", "--show", img.to_str().unwrap()]))
                .unwrap()
                .trim()
                .to_string();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let fs = LoopFs {
            _dir: dir,
            mnt,
            device,
        };
        run(&["mkfs.btrfs", "-q", &fs.device]);
        run(&["mount", &fs.device, fs.mnt.to_str().unwrap()]);
        fs
    }

    fn path(&self, rel: &str) -> String {
        self.mnt.join(rel).to_str().unwrap().to_string()
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

fn expect() -> StoreExpect {
    StoreExpect {
        prefix: "real/".into(),
        subvolumes: vec!["data".into()],
        chunk_size: 4096,
        storage_class_chunks: "STANDARD".into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
    }
}

/// Full and incremental send streams of a small tree.
fn real_streams(fs: &LoopFs) -> (Vec<u8>, Vec<u8>) {
    run(&["btrfs", "subvolume", "create", &fs.path("data")]);
    std::fs::write(fs.path("data/big"), vec![42u8; 20_000]).unwrap();
    std::fs::create_dir(fs.path("data/dir")).unwrap();
    std::os::unix::fs::symlink("../big", fs.path("data/dir/link")).unwrap();
    run(&[
        "btrfs",
        "subvolume",
        "snapshot",
        "-r",
        &fs.path("data"),
        &fs.path("data__20260101T020000Z__full"),
    ]);
    std::fs::write(fs.path("data/dir/new"), b"incremental change").unwrap();
    run(&[
        "btrfs",
        "subvolume",
        "snapshot",
        "-r",
        &fs.path("data"),
        &fs.path("data__20260102T020000Z__inc"),
    ]);
    let full = run(&[
        "btrfs",
        "send",
        "-q",
        &fs.path("data__20260101T020000Z__full"),
    ]);
    let inc = run(&[
        "btrfs",
        "send",
        "-q",
        "-p",
        &fs.path("data__20260101T020000Z__full"),
        &fs.path("data__20260102T020000Z__inc"),
    ]);
    (full, inc)
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root() && Path::new("/dev/loop-control").exists()
}

#[test]
fn real_full_and_incremental_send_streams_published_correctly_give_no_finding() {
    if !is_root() {
        eprintln!("skipped: needs root and loop devices");
        return;
    }
    let fs = LoopFs::new();
    let (full, inc) = real_streams(&fs);
    assert!(
        full.len() > 3 * 4096,
        "the full spans several chunks ({} bytes)",
        full.len()
    );
    let mut store = MemStore::default();
    let snapshots_dir = fs.mnt.to_str().unwrap().to_string();
    let base = Publish {
        subvolume: "data",
        kind: BackupKind::Full,
        ts: "20260101T020000Z",
        stream: &full,
        parent_manifest: None,
        snapshots_dir: &snapshots_dir,
    };
    let full_key = publish(&mut store, &expect(), &base);
    let inc_publish = Publish {
        kind: BackupKind::Incremental,
        ts: "20260102T020000Z",
        stream: &inc,
        parent_manifest: Some(&full_key),
        ..base.clone()
    };
    publish(&mut store, &expect(), &inc_publish);
    let report = StoreChecker::new(expect()).check(&store, Some(1)).unwrap();
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.undecided, vec![]);
    assert_eq!(report.snapshot.chains["data"].manifest_keys.len(), 2);

    let cut = full.len() / 4096 * 4096;
    let mut truncated = MemStore::default();
    publish(
        &mut truncated,
        &expect(),
        &Publish {
            stream: &full[..cut],
            ..base
        },
    );
    let report = StoreChecker::new(expect())
        .check(&truncated, Some(1))
        .unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert_eq!(report.findings[0].property, Property::LayoutAndMetadata);
    assert!(report.findings[0]
        .message
        .contains("btrfs receive --dump rejects"));
}
