//! Case areas on a real fixture (as root): fresh subvolumes per case, isolation between
//! cases, destroy removes everything (read-only snapshots, received subvolumes, nested
//! subvolumes) on both filesystems, several threads at once, and what it costs.

mod fixture_support;

use std::fs;
use std::time::{Duration, Instant};

use b2s3_harness::fixture::{btrfs, CaseArea, Fixture, FixtureError};
use fixture_support::{run, send_receive, GlobalLock, TestRun};

fn names() -> Vec<String> {
    ["data", "root", "home"].iter().map(|s| s.to_string()).collect()
}

/// Subvolume paths of a whole filesystem, as `btrfs subvolume list` prints them.
fn all_subvolumes(mount: &std::path::Path) -> Vec<String> {
    let out = run("btrfs", &["subvolume", "list", mount.to_str().unwrap()]);
    out.lines().filter_map(|l| l.split(" path ").nth(1)).map(String::from).collect()
}

/// Fill a case the way a backup/restore run would: data, read-only snapshots, a nested
/// subvolume (and a snapshot that contains its placeholder), a read-only subvolume with
/// a nested one inside, and a received subvolume on the restore filesystem.
fn populate(case: &CaseArea) {
    let data = case.subvolume_path("data").unwrap();
    fs::write(data.join("file"), case.id()).unwrap();
    btrfs::create_subvolume(&data.join("nested")).unwrap();
    let snap = case.snapshots_dir().join("data__20260101T000000Z__full");
    btrfs::snapshot(data, &snap, true).unwrap();
    let root = case.subvolume_path("root").unwrap();
    btrfs::create_subvolume(&root.join("inner")).unwrap();
    btrfs::set_read_only(root, true).unwrap();
    send_receive(&snap, case.restore_dir());
    fs::write(case.state_path(), "{}").unwrap();
    fs::write(case.logs_dir().join("backup-1.log"), "event=x").unwrap();
}

#[test]
fn case_areas_are_isolated_and_destroy_removes_everything_of_its_case_only() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("cases");
    let fx = test.setup();
    let a = CaseArea::create(&fx, "case-a", &names()).unwrap();
    let b = CaseArea::create(&fx, "case-b", &names()).unwrap();
    for (name, path) in a.subvolumes() {
        assert!(btrfs::is_subvolume_root(path).unwrap(), "{name}");
        assert_eq!(fs::read_dir(path).unwrap().count(), 0, "{name} is not fresh");
        assert_ne!(Some(path.as_path()), b.subvolume_path(name));
    }
    assert!(a.restore_dir().starts_with(fx.restore_mount()) && a.scratch_dir().starts_with(fx.run_dir()));
    assert!(a.spool_dir().is_dir() && a.logs_dir().is_dir() && a.snapshots_dir().is_dir());
    populate(&a);
    populate(&b);
    assert_eq!(fs::read(b.subvolume_path("data").unwrap().join("file")).unwrap(), b"case-b");

    let (source_dir, restore_dir, scratch_dir) =
        (a.source_dir().to_path_buf(), a.restore_dir().to_path_buf(), a.scratch_dir().to_path_buf());
    a.destroy().unwrap();
    assert!(!source_dir.exists() && !restore_dir.exists() && !scratch_dir.exists());
    assert!(all_subvolumes(fx.source_mount()).iter().all(|p| !p.contains("case-a")));
    assert!(all_subvolumes(fx.restore_mount()).iter().all(|p| !p.contains("case-a")));
    assert_eq!(fs::read(b.subvolume_path("data").unwrap().join("file")).unwrap(), b"case-b");
    assert!(btrfs::is_read_only(&b.snapshots_dir().join("data__20260101T000000Z__full")).unwrap());

    b.destroy().unwrap();
    let mut left = all_subvolumes(fx.source_mount());
    left.sort();
    assert_eq!(left, vec!["data", "home", "root"]);
    assert_eq!(all_subvolumes(fx.restore_mount()), Vec::<String>::new());
}

#[test]
fn a_second_case_area_with_the_same_id_is_refused_and_the_first_is_untouched() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("sameid");
    let fx = test.setup();
    let first = CaseArea::create(&fx, "dup", &names()).unwrap();
    fs::write(first.subvolume_path("data").unwrap().join("mine"), b"1").unwrap();
    let err = CaseArea::create(&fx, "dup", &names()).unwrap_err();
    assert!(matches!(err, FixtureError::Conflict { .. }), "{err}");
    assert!(first.subvolume_path("data").unwrap().join("mine").exists());
    assert!(first.restore_dir().is_dir() && first.scratch_dir().is_dir());
    assert!(CaseArea::create(&fx, "../escape", &names()).is_err());
    first.destroy().unwrap();
}

#[test]
fn leftovers_of_a_case_whose_handle_was_lost_are_destroyed_on_request() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("leftover");
    let fx = test.setup();
    let lost = CaseArea::create(&fx, "lost", &names()).unwrap();
    populate(&lost);
    drop(lost);
    assert!(CaseArea::destroy_leftovers(&fx, "lost").unwrap());
    assert!(!CaseArea::destroy_leftovers(&fx, "lost").unwrap(), "nothing should be left");
    CaseArea::create(&fx, "lost", &names()).unwrap().destroy().unwrap();
}

#[test]
fn case_areas_on_several_threads_at_once_cost_milliseconds_each() {
    let _lock = GlobalLock::shared();
    let test = TestRun::new("threads");
    let fx = test.setup();
    let timings: Vec<(Duration, Duration)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4).map(|t| scope.spawn({
            let fx = &fx;
            move || (0..10).map(|i| one_case(fx, &format!("t{t}-c{i}"))).collect::<Vec<_>>()
        })).collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let mean = |pick: fn(&(Duration, Duration)) -> Duration| {
        timings.iter().map(pick).sum::<Duration>() / timings.len() as u32
    };
    let (create, destroy) = (mean(|t| t.0), mean(|t| t.1));
    let worst = timings.iter().map(|t| t.0 + t.1).max().unwrap();
    eprintln!("timing: {} cases on 4 threads: create mean {create:?}, destroy mean {destroy:?}, worst create+destroy {worst:?}", timings.len());
    assert!(create + destroy < Duration::from_millis(500), "create {create:?} + destroy {destroy:?}");
    assert_eq!(fs::read_dir(fx.source_mount().join("cases")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(fx.restore_mount().join("cases")).unwrap().count(), 0);
}

/// Create a case, put a file and a read-only snapshot in it, destroy it; time both ends.
fn one_case(fx: &Fixture, id: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let case = CaseArea::create(fx, id, &names()).unwrap();
    let create = started.elapsed();
    let data = case.subvolume_path("data").unwrap();
    fs::write(data.join("f"), id).unwrap();
    btrfs::snapshot(data, &case.snapshots_dir().join("s"), true).unwrap();
    let started = Instant::now();
    case.destroy().unwrap();
    (create, started.elapsed())
}
