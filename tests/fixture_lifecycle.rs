//! Fixture setup and teardown on real btrfs (as root): what setup makes, that teardown
//! restores the machine's loop devices and mounts exactly, is idempotent, and never
//! touches a mount or device it did not make.

mod fixture_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use b2s3_harness::fixture::record::{Record, Role, VolumeRecord, RECORD_FORMAT};
use b2s3_harness::fixture::{self, btrfs, mounts, Fixture, TeardownOptions};
use fixture_support::{devices_of, run, GlobalLock, SystemState, TestRun};

#[test]
fn setup_then_teardown_leaves_loop_devices_and_mounts_exactly_as_before() {
    let _lock = GlobalLock::exclusive();
    let before = SystemState::capture();
    let test = TestRun::new("lifecycle");
    let started = Instant::now();
    let fx = test.setup();
    let setup_time = started.elapsed();

    for (mount, image) in [(fx.source_mount(), &fx.source().image), (fx.restore_mount(), &fx.restore().image)] {
        let top = mounts::mounts_at(mount).unwrap().pop().expect("mounted");
        assert_eq!(top.fstype, "btrfs");
        assert_eq!(devices_of(image), vec![top.source.clone()]);
    }
    assert_ne!(fx.source().device, fx.restore().device);
    for name in ["data", "root", "home"] {
        assert!(btrfs::is_subvolume_root(&fx.subvolume_path(name).unwrap()).unwrap(), "{name}");
    }
    assert!(fx.snapshots_dir().is_dir() && !btrfs::is_subvolume_root(&fx.snapshots_dir()).unwrap());
    assert!(Record::load(fx.run_dir()).unwrap().unwrap().ready);

    let started = Instant::now();
    let report = fixture::teardown(fx.run_dir()).unwrap();
    eprintln!("timing: setup {setup_time:?}, teardown {:?}", started.elapsed());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.unmounted.len(), report.detached.len()), (2, 2), "{report:?}");
    assert!(!fx.source().image.exists() && !fx.restore().image.exists());
    assert_eq!(Record::load(fx.run_dir()).unwrap(), None);
    SystemState::capture().assert_same_as(&before, "after setup and teardown");
}

#[test]
fn teardown_twice_is_harmless_and_the_second_finds_nothing_to_do() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("twice");
    test.setup();
    let first = fixture::teardown(&test.dir).unwrap();
    assert!(first.is_clean() && first.record_found, "{first:?}");
    let second = fixture::teardown(&test.dir).unwrap();
    assert!(!second.record_found, "{second:?}");
    assert!(second.unmounted.is_empty() && second.detached.is_empty() && second.removed.is_empty());
}

#[test]
fn teardown_of_a_run_dir_without_a_record_touches_nothing() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("norecord");
    fs::write(test.dir.join("source.img"), b"not ours to judge").unwrap();
    let report = fixture::teardown(&test.dir).unwrap();
    assert_eq!(report, Default::default());
    assert!(test.dir.join("source.img").exists(), "an unrecorded file was removed");
}

#[test]
fn setup_twice_reuses_the_mounted_fixture_and_keeps_its_data() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("reuse");
    let first = test.setup();
    fs::write(first.subvolume_path("data").unwrap().join("kept"), b"x").unwrap();
    let mut options = test.options();
    options.subvolumes.push("extra".into());
    let second = Fixture::setup(&options).unwrap();
    assert_eq!(second.source(), first.source());
    assert_eq!(second.restore(), first.restore());
    assert!(second.subvolume_path("data").unwrap().join("kept").exists());
    assert!(btrfs::is_subvolume_root(&second.subvolume_path("extra").unwrap()).unwrap());
}

#[test]
fn setup_after_a_teardown_that_kept_the_images_builds_a_fresh_fixture() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("keep");
    let first = test.setup();
    fs::write(first.subvolume_path("data").unwrap().join("old"), b"x").unwrap();
    let keep = TeardownOptions { remove_images: false, ..Default::default() };
    let report = fixture::teardown_with(&test.dir, &keep).unwrap();
    assert!(report.is_clean() && report.removed.iter().all(|p| !p.ends_with("source.img")), "{report:?}");
    assert!(first.source().image.exists() && devices_of(&first.source().image).is_empty());
    assert!(!Record::load(&test.dir).unwrap().unwrap().ready);

    let second = test.setup();
    assert!(!second.subvolume_path("data").unwrap().join("old").exists(), "old filesystem reused");
    assert_eq!(devices_of(&second.source().image), vec![second.source().device.clone()]);
}

#[test]
fn teardown_leaves_alone_a_mount_and_a_device_it_did_not_make_even_when_the_record_names_them() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("forged");
    let foreign = ForeignMount::new(&test.dir.join("foreign"), &test.dir.join("mnt/source"));
    let image = test.dir.join("source.img");
    forged_record(image, Some(foreign.device.clone()), foreign.mount_point.clone()).save(&test.dir).unwrap();

    let report = fixture::teardown(&test.dir).unwrap();
    assert!(report.unmounted.is_empty() && report.detached.is_empty(), "{report:?}");
    assert_eq!(report.left_alone.len(), 2, "{report:?}");
    let top = mounts::mounts_at(&foreign.mount_point).unwrap().pop();
    assert_eq!(top.map(|m| m.source), Some(foreign.device.clone()), "the foreign mount was touched");
    assert_eq!(devices_of(&foreign.image), vec![foreign.device.clone()], "the foreign device was touched");
}

#[test]
fn teardown_refuses_a_record_that_names_places_outside_its_run_dir() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("outside");
    let outside = tempfile::tempdir().unwrap();
    let forged = forged_record(outside.path().join("source.img"), None, outside.path().join("mnt"));
    fs::write(outside.path().join("source.img"), b"someone else's").unwrap();
    fs::create_dir(outside.path().join("mnt")).unwrap();
    forged.save(&test.dir).unwrap();
    let err = fixture::teardown(&test.dir).unwrap_err();
    assert!(err.to_string().contains("is not <run dir>/source.img"), "{err}");
    assert!(outside.path().join("source.img").exists() && outside.path().join("mnt").exists());
    fs::remove_file(Record::path(&test.dir)).unwrap();
}

/// A record claiming a ready source volume at the given places.
fn forged_record(image: PathBuf, loop_device: Option<String>, mount_point: PathBuf) -> Record {
    let volume = VolumeRecord {
        role: Role::Source,
        image,
        image_size_bytes: 1 << 30,
        loop_device,
        formatted: true,
        mount_point,
        mounted: true,
    };
    Record { format: RECORD_FORMAT, ready: true, mount_options: vec![], subvolumes: vec![], volumes: vec![volume] }
}

/// A loop device and mount made by the test itself, standing in for someone else's.
struct ForeignMount {
    image: PathBuf,
    device: String,
    mount_point: PathBuf,
}

impl ForeignMount {
    fn new(dir: &Path, mount_point: &Path) -> ForeignMount {
        fs::create_dir_all(dir).unwrap();
        fs::create_dir_all(mount_point).unwrap();
        let image = dir.join("foreign.img");
        fs::File::create(&image).unwrap().set_len(300 << 20).unwrap();
        let device = run("losetup", &["--find", "--show", image.to_str().unwrap()]).trim().to_string();
        let mount_point = mount_point.to_path_buf();
        let guard = ForeignMount { image, device, mount_point };
        run("mkfs.btrfs", &["-q", &guard.device]);
        run("mount", &[&guard.device, guard.mount_point.to_str().unwrap()]);
        guard
    }
}

impl Drop for ForeignMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.mount_point).status();
        let _ = std::process::Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

#[test]
fn a_busy_mount_is_reported_unresolved_and_a_later_teardown_finishes_the_job() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("busy");
    let fx = test.setup();
    let holder = fs::File::create(fx.source_mount().join("held-open")).unwrap();
    let quick = TeardownOptions { busy_timeout: std::time::Duration::from_millis(200), ..Default::default() };
    let first = fixture::teardown_with(&test.dir, &quick).unwrap();
    assert!(!first.is_clean(), "{first:?}");
    assert!(first.unresolved.iter().any(|u| u.contains("mnt/source")), "{first:?}");
    assert_eq!(first.unmounted, vec![fx.restore_mount().to_path_buf()], "{first:?}");
    assert_eq!(devices_of(&fx.source().image), vec![fx.source().device.clone()], "detached while mounted");
    assert!(Record::load(&test.dir).unwrap().is_some(), "the record must survive an incomplete teardown");

    drop(holder);
    let second = fixture::teardown(&test.dir).unwrap();
    assert!(second.is_clean(), "{second:?}");
    assert_eq!(second.unmounted, vec![fx.source_mount().to_path_buf()]);
    assert!(devices_of(&fx.source().image).is_empty() && !fx.source().image.exists());
}
