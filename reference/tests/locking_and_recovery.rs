//! The lock (CONTRACT.md section 5, P5) and recovery after a killed backup (P3, P4): a
//! held lock gives exit 1 and changes nothing, a stale one never blocks, and a SIGKILLed
//! backup (leaving its lock, snapshot and chunks behind) is followed by a run that
//! succeeds with no manual cleanup, also when it lands in the same second.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::contract;
use support::tree;
use support::{Settings, World};

const MIB: usize = 1024 * 1024;

/// Waits until `log` contains `needle` (the child must still be running).
fn wait_for_log(log: &Path, needle: &str, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::fs::read_to_string(log).unwrap_or_default().contains(needle) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("backup ended ({status}) before {needle}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "no {needle} within 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}


#[test]
fn a_backup_while_a_live_process_holds_the_lock_exits_1_and_changes_nothing() {
    let w = World::new("held", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 1, 0);
    std::fs::create_dir_all(w.lock_path().parent().unwrap()).unwrap();
    let me = std::process::id().to_string();
    std::fs::write(w.lock_path(), format!("{me}\n")).unwrap();
    let out = w.backup(&[]);
    out.expect_code(1);
    let failed = out.event("backup_lock_failed");
    assert_eq!((failed.level.as_str(), failed.get("error")), ("ERROR", format!("lock already held by pid {me}").as_str()));
    assert!(w.snapshots("data").is_empty(), "no snapshot");
    assert!(w.s3.keys("").is_empty(), "nothing uploaded");
    assert!(w.state().is_none(), "no state");
    assert_eq!(std::fs::read_to_string(w.lock_path()).unwrap(), format!("{me}\n"), "the holder's lock is untouched");
}

#[test]
fn a_second_backup_started_during_a_running_one_is_refused_with_the_holders_pid() {
    let w = World::new("contend", &["data"], Settings { chunk_size: 512 * 1024, ..Settings::default() });
    tree::populate(&w.vol("data"), 2, 48 * MIB);
    let log = w.scratch.join("first.log");
    let mut first = w.spawn_backup(&[], &[], &log);
    wait_for_log(&log, "event=snapshot_created", &mut first);
    let second = w.backup(&[]);
    let still_running = first.try_wait().unwrap().is_none();
    assert!(still_running, "inconclusive: the first backup finished before the second started");
    second.expect_code(1);
    assert_eq!(second.event("backup_lock_failed").get("error"), format!("lock already held by pid {}", first.id()));
    assert!(!second.has("snapshot_created"));
    assert!(first.wait().unwrap().success(), "{}", std::fs::read_to_string(&log).unwrap());
    assert_eq!(w.snapshots("data").len(), 1, "only the first run made a snapshot");
    assert!(!w.lock_path().exists(), "the lock is released at exit");
}

#[test]
fn stale_locks_of_dead_empty_or_garbage_holders_never_block() {
    let w = World::new("stale", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 3, 0);
    std::fs::create_dir_all(w.lock_path().parent().unwrap()).unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    for content in ["", "not-a-pid\n", "0\n"] {
        std::fs::write(w.lock_path(), content).unwrap();
        let out = w.backup(&["--no-s3"]);
        out.expect_code(0);
        assert!(out.has("backup_no_s3"), "{content:?}: {}", out.stderr);
        assert!(!w.lock_path().exists(), "{content:?}: the stale lock is gone after the run");
    }
    std::fs::write(w.lock_path(), format!("{dead_pid}\n")).unwrap();
    contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    assert!(!w.lock_path().exists());
}

#[test]
fn a_sigkilled_incremental_leaves_the_old_pointer_and_the_next_run_recovers() {
    let w = World::new("killed", &["data"], Settings { chunk_size: 256 * 1024, ..Settings::default() });
    tree::populate(&w.vol("data"), 4, 0);
    let full = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    let pointer_key = format!("{}subvol/data/current.json", support::world::PREFIX);
    let pointer_before = w.s3.get(&pointer_key);
    tree::mutate(&w.vol("data"), 5);
    std::fs::write(w.vol("data").join("bulk.bin"), tree::Rng::new(6).bytes(40 * MIB)).unwrap();
    let expected = tree::scan(&w.vol("data"));

    let log = w.scratch.join("killed.log");
    let mut victim = w.spawn_backup(&["--once"], &[], &log);
    wait_for_log(&log, "event=snapshot_created", &mut victim);
    std::thread::sleep(Duration::from_millis(150));
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(w.lock_path().exists(), "SIGKILL leaves the lock behind");
    assert_eq!(w.s3.get(&pointer_key), pointer_before, "P3: the pointer still names the old backup");
    assert_eq!(w.snapshots("data").len(), 2, "the killed run left its snapshot");

    let rerun = w.backup(&["--once"]);
    let published = contract::check_backup_run(&w, &rerun, &[("data", "inc")], &[("data", &full[0].manifest_key)]);
    let target = w.target("after-kill");
    w.restore("data", &target, &[]).expect_code(0);
    assert_eq!(tree::first_difference(&expected, &tree::scan(&target)), None);
    assert_ne!(published[0].manifest["snapshot"]["name"], serde_json::Value::Null);
}

#[test]
fn a_run_right_after_a_kill_in_the_same_second_still_succeeds() {
    let w = World::new("samesec", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 7, 4 * MIB);
    let log = w.scratch.join("killed.log");
    let mut victim = w.spawn_backup(&[], &[], &log);
    wait_for_log(&log, "event=snapshot_created", &mut victim);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let leftover = w.snapshots("data");
    assert_eq!(leftover.len(), 1);
    let published = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    let name = published[0].manifest["snapshot"]["name"].as_str().unwrap().to_string();
    assert_ne!(name, leftover[0], "the new snapshot must not reuse the leftover's name");
    let target = w.target("r");
    w.restore("data", &target, &[]).expect_code(0);
    assert_eq!(tree::first_difference(&tree::scan(&w.vol("data")), &tree::scan(&target)), None);
}
