//! The embedded moto server's lifecycle: it records itself, answers S3, resets, stops
//! (explicitly, on drop, or from its record after its owner vanished) and leaves no
//! process behind.

#[path = "s3_support/mod.rs"]
mod support;

use std::time::Duration;

use b2s3_harness::s3::server::{
    read_record, stop_recorded, RecordedStop, ServerError, RECORD_FILE,
};
use b2s3_harness::s3::view::StoreView;
use b2s3_harness::s3::{EmbeddedServer, PutOptions};
use support::{client_at, eventually, process_is_gone, venv_dir};

#[test]
fn a_started_server_records_its_pid_and_port_and_stop_removes_both() {
    let run_dir = tempfile::tempdir().unwrap();
    let mut server = EmbeddedServer::start(run_dir.path(), &venv_dir()).unwrap();
    eprintln!("moto_server ready in {:?}", server.startup_time());
    let record = read_record(run_dir.path())
        .unwrap()
        .expect("record written");
    assert_eq!((record.pid, record.port), (server.pid(), server.port()));
    assert!(server.url().ends_with(&format!(":{}", record.port)));
    let pid = server.pid();
    server.stop();
    assert!(
        process_is_gone(pid),
        "moto pid {pid} still alive after stop"
    );
    assert!(!run_dir.path().join(RECORD_FILE).exists());
}

#[test]
fn dropping_the_server_stops_its_process() {
    let run_dir = tempfile::tempdir().unwrap();
    let server = EmbeddedServer::start(run_dir.path(), &venv_dir()).unwrap();
    let pid = server.pid();
    drop(server);
    assert!(process_is_gone(pid));
}

#[test]
fn reset_wipes_buckets_and_objects() {
    let run_dir = tempfile::tempdir().unwrap();
    let server = EmbeddedServer::start(run_dir.path(), &venv_dir()).unwrap();
    let client = client_at(&server.url());
    client.create_bucket().unwrap();
    client
        .put_object("a", vec![1], &PutOptions::default())
        .unwrap();
    server.reset().unwrap();
    assert!(client
        .reachable()
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
    client.create_bucket().unwrap();
    assert!(client.list("").unwrap().is_empty());
}

#[test]
fn a_second_server_in_the_same_run_dir_is_refused_while_the_first_runs() {
    let run_dir = tempfile::tempdir().unwrap();
    let first = EmbeddedServer::start(run_dir.path(), &venv_dir()).unwrap();
    match EmbeddedServer::start(run_dir.path(), &venv_dir()) {
        Err(ServerError::StillRunning { pid, .. }) => assert_eq!(pid, first.pid()),
        other => panic!("expected StillRunning, got {other:?}"),
    }
}

#[test]
fn a_server_left_behind_by_its_owner_is_stopped_from_its_record() {
    let run_dir = tempfile::tempdir().unwrap();
    let server = EmbeddedServer::start(run_dir.path(), &venv_dir()).unwrap();
    let pid = server.pid();
    // Simulate a harness process that was killed: nothing runs the server's Drop.
    std::mem::forget(server);
    assert_eq!(
        stop_recorded(run_dir.path()).unwrap(),
        RecordedStop::Stopped { pid }
    );
    assert!(eventually(Duration::from_secs(5), || process_is_gone(pid)));
    assert!(!run_dir.path().join(RECORD_FILE).exists());
    assert_eq!(
        stop_recorded(run_dir.path()).unwrap(),
        RecordedStop::NoRecord
    );
    // The forgotten child stays a zombie until this test process exits; reap it now.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
}
