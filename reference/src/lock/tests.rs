//! Unit tests of the lock: exclusivity, stale takeover, and races between contenders,
//! with fake PIDs whose liveness the test controls.

use super::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("b2s3-ref-lock-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_free_lock_is_taken_with_our_pid_and_released() {
    let dir = scratch("free");
    let path = dir.join("b.lock");
    let got = acquire_as(&path, 4242, &|_| true).unwrap();
    assert!(!got.took_over_stale);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
    got.guard.release();
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temp file left");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_live_holder_is_reported_with_its_pid() {
    let dir = scratch("live");
    let path = dir.join("b.lock");
    std::fs::write(&path, "77\n").unwrap();
    match acquire_as(&path, 4242, &|p| p == 77) {
        Err(AcquireError::Held(pid)) => assert_eq!(pid, "77"),
        other => panic!("expected Held, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "77\n", "holder's file untouched");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dead_empty_and_garbage_locks_are_taken_over() {
    let dir = scratch("stale");
    let path = dir.join("b.lock");
    for content in ["99\n", "", "not a pid", "-5"] {
        std::fs::write(&path, content).unwrap();
        let got = acquire_as(&path, 4242, &|p| p == 4242).unwrap();
        assert!(got.took_over_stale, "content {content:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        got.guard.release();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_release_never_removes_somebody_elses_lock() {
    let dir = scratch("foreign");
    let path = dir.join("b.lock");
    let got = acquire_as(&path, 1, &|_| true).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "2\n").unwrap();
    got.guard.release();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "2\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Eight contenders loop over acquire; some "die" holding the lock (leaving a stale file
/// that the others race to take over). At no moment may two of them hold it.
#[test]
fn racing_contenders_never_hold_the_lock_together() {
    let dir = scratch("race");
    let path = Arc::new(dir.join("b.lock"));
    std::fs::write(&*path, "999999\n").unwrap();
    let live: Arc<Mutex<HashSet<u32>>> = Arc::new(Mutex::new(HashSet::new()));
    let holders = Arc::new(AtomicUsize::new(0));
    let acquisitions = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let (path, live, holders, acq) = (path.clone(), live.clone(), holders.clone(), acquisitions.clone());
            std::thread::spawn(move || contender(t, &path, &live, &holders, &acq))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(acquisitions.load(Ordering::SeqCst) >= 8, "every contender got the lock at least once");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn contender(t: u32, path: &Path, live: &Mutex<HashSet<u32>>, holders: &AtomicUsize, acq: &AtomicUsize) {
    let mut pid = 1000 + t * 1000;
    live.lock().unwrap().insert(pid);
    let mut mine = 0;
    let mut round = 0u32;
    while mine < 3 {
        round += 1;
        let alive = |p: u32| live.lock().unwrap().contains(&p);
        match acquire_as(path, pid, &alive) {
            Ok(got) => {
                assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                std::thread::sleep(std::time::Duration::from_millis(2));
                holders.fetch_sub(1, Ordering::SeqCst);
                acq.fetch_add(1, Ordering::SeqCst);
                mine += 1;
                if round.is_multiple_of(2) {
                    std::mem::forget(got.guard);
                    live.lock().unwrap().remove(&pid);
                    pid += 1;
                    live.lock().unwrap().insert(pid);
                } else {
                    got.guard.release();
                }
            }
            Err(AcquireError::Held(_)) => std::thread::yield_now(),
            Err(AcquireError::Io(e)) => panic!("{e}"),
        }
    }
}
