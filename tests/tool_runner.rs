//! The runner against real child processes (`sh -c` scripts standing in for the tool):
//! kills land on the planned trigger, take the whole process group down, and the outcome
//! reports exit codes, signals and parsed events.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use b2s3_harness::tool::groups::live_groups;
use b2s3_harness::tool::{
    run, Invocation, KillReason, KillSwitch, KillTrigger, Outcome, RunError, RunSpec,
};

const SIGKILL: i32 = 9;
const LONG: Duration = Duration::from_secs(60);

fn sh(script: &str) -> Invocation {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
    Invocation {
        program: "sh".to_string(),
        args: vec!["-c".to_string(), script.to_string()],
        env: BTreeMap::from([("PATH".to_string(), path)]),
        cwd: None,
    }
}

fn spec(dir: &tempfile::TempDir, script: &str, timeout: Duration) -> RunSpec {
    let logs = dir.path().join("logs");
    RunSpec::new(
        sh(script),
        &logs.join("out.log"),
        &logs.join("err.log"),
        timeout,
    )
}

/// A log line in the tool's format.
fn event_line(event: &str) -> String {
    format!("echo '2026-01-01 02:00:00,000 INFO btrfs_to_s3.cli event={event}' >&2")
}

/// Pids of live (non-zombie) processes in group `pgid`, read from /proc independently of
/// the code under test.
fn live_members(pgid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if fields[2] == pgid.to_string() && fields[0] != "Z" && fields[0] != "X" {
            found.push(pid);
        }
    }
    found
}

fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat[stat.rfind(')').unwrap() + 2..].chars().next(),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

/// The pid the script printed on stdout as `child=<pid>`.
fn grandchild_pid(outcome: &Outcome) -> i32 {
    let out = std::fs::read_to_string(&outcome.stdout_log).unwrap();
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("child="))
        .expect("script printed child pid");
    line.trim().parse().unwrap()
}

fn assert_group_gone(outcome: &Outcome) {
    assert!(
        outcome.survivors.is_empty(),
        "runner reported survivors {:?}",
        outcome.survivors
    );
    assert_eq!(
        live_members(outcome.pgid),
        Vec::<i32>::new(),
        "process of the group survived"
    );
    assert!(
        !live_groups().contains(&outcome.pgid),
        "group still registered after the run"
    );
}

#[test]
fn a_run_is_killed_on_the_second_tick_event_and_its_grandchild_dies_too() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "sleep 100 & echo child=$!; {}; {}; {}; sleep 2; {}; sleep 100",
        event_line("tick n=1"),
        event_line("other"),
        event_line("tick n=2"),
        event_line("tick n=3"),
    );
    let mut spec = spec(&dir, &script, LONG);
    spec.kill = Some(KillTrigger::OnEvent {
        name: "tick".into(),
        nth: 2,
    });
    let outcome = run(spec).expect("run");
    assert_eq!(
        outcome.killed,
        Some(KillReason::OnEvent {
            name: "tick".into(),
            nth: 2
        })
    );
    assert_eq!((outcome.exit_code, outcome.signal), (None, Some(SIGKILL)));
    let names: Vec<&str> = outcome.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["tick", "other", "tick"],
        "killed before the third tick"
    );
    assert_eq!(outcome.events[2].field("n"), Some("2"));
    let kill_at = outcome.kill_at.expect("kill time");
    assert!(
        kill_at >= outcome.events[2].at && kill_at < Duration::from_secs(2),
        "{kill_at:?}"
    );
    assert!(
        !pid_alive(grandchild_pid(&outcome)),
        "the backgrounded sleep survived"
    );
    assert_group_gone(&outcome);
}

#[test]
fn a_leader_that_exits_leaving_a_background_child_returns_at_once_and_the_child_dies() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(spec(&dir, "sleep 100 & echo child=$!; exit 0", LONG)).expect("run");
    assert_eq!((outcome.exit_code, outcome.killed.clone()), (Some(0), None));
    assert!(
        outcome.duration < Duration::from_secs(5),
        "waited for the grandchild: {:?}",
        outcome.duration
    );
    assert!(!pid_alive(grandchild_pid(&outcome)));
    assert_group_gone(&outcome);
}

#[test]
fn a_run_past_its_timeout_is_killed_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(300);
    let outcome = run(spec(&dir, "sleep 100", timeout)).expect("run");
    assert_eq!(outcome.killed, Some(KillReason::Timeout { after: timeout }));
    assert_eq!(outcome.signal, Some(SIGKILL));
    let kill_at = outcome.kill_at.unwrap();
    assert!(
        kill_at >= timeout && kill_at < Duration::from_secs(3),
        "{kill_at:?}"
    );
    assert_group_gone(&outcome);
}

#[test]
fn a_run_is_killed_after_the_planned_delay() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&dir, "sleep 100", LONG);
    let delay = Duration::from_millis(200);
    spec.kill = Some(KillTrigger::AfterDelay(delay));
    let outcome = run(spec).expect("run");
    assert_eq!(
        outcome.killed,
        Some(KillReason::AfterDelay { after: delay })
    );
    assert!(outcome.kill_at.unwrap() >= delay);
    assert_group_gone(&outcome);
}

#[test]
fn the_kill_switch_fired_from_another_thread_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let switch = KillSwitch::new();
    let mut spec = spec(&dir, "sleep 100 & echo child=$!; sleep 100", LONG);
    spec.switch = Some(switch.clone());
    let remote = switch.clone();
    let firing = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        remote.fire("proxy saw the 2nd chunk PUT")
    });
    let outcome = run(spec).expect("run");
    assert!(firing.join().unwrap(), "first fire reports that it fired");
    assert!(!switch.fire("again"), "a second fire is a no-op");
    assert_eq!(
        outcome.killed,
        Some(KillReason::Switch {
            reason: "proxy saw the 2nd chunk PUT".into()
        })
    );
    // The thread started its 300 ms before the spawn: the kill lands a little earlier.
    let kill_at = outcome.kill_at.unwrap();
    assert!(
        kill_at > Duration::from_millis(100) && kill_at <= outcome.duration,
        "{kill_at:?}"
    );
    assert!(outcome.duration < Duration::from_secs(20));
    assert!(!pid_alive(grandchild_pid(&outcome)));
    assert_group_gone(&outcome);
}

#[test]
fn events_reach_the_live_channel_while_the_tool_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel();
    let switch = KillSwitch::new();
    let mut spec = spec(
        &dir,
        &format!(
            "{}; sleep 100",
            event_line("snapshot_created subvolume=data")
        ),
        LONG,
    );
    spec.live = Some(tx);
    spec.switch = Some(switch.clone());
    let watcher = std::thread::spawn(move || {
        let event = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("live event");
        let registered = live_groups();
        switch.fire("contender started");
        (event, registered)
    });
    let outcome = run(spec).expect("run");
    let (event, registered_while_running) = watcher.join().unwrap();
    assert_eq!(event.name, "snapshot_created");
    assert_eq!(event.field("subvolume"), Some("data"));
    assert!(
        registered_while_running.contains(&outcome.pgid),
        "group not registered while live"
    );
    assert!(matches!(outcome.killed, Some(KillReason::Switch { .. })));
    assert_group_gone(&outcome);
}

#[test]
fn exit_code_events_and_both_logs_are_reported_for_a_normal_exit() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "echo hello; echo 'botocore noise' >&2; {}; {}; exit 3",
        event_line("command_start command=backup subvolume_filter="),
        "echo '2026-01-01 02:00:00,000 ERROR btrfs_to_s3.cli event=backup_stream_failed subvolume=data \
         error=upload failed: a=b btrfs_send_error=ERROR: boom' >&2",
    );
    let outcome = run(spec(&dir, &script, LONG)).expect("run");
    assert_eq!(
        (outcome.exit_code, outcome.signal, outcome.killed.clone()),
        (Some(3), None, None)
    );
    let names: Vec<&str> = outcome.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["command_start", "backup_stream_failed"]);
    let failed = &outcome.events[1];
    assert_eq!(failed.level, "ERROR");
    assert_eq!(failed.field("error"), Some("upload failed: a=b"));
    assert_eq!(failed.field("btrfs_send_error"), Some("ERROR: boom"));
    assert_eq!(
        std::fs::read_to_string(&outcome.stdout_log).unwrap(),
        "hello\n"
    );
    let stderr = std::fs::read_to_string(&outcome.stderr_log).unwrap();
    assert!(
        stderr.starts_with("botocore noise\n") && stderr.lines().count() == 3,
        "{stderr}"
    );
    assert_eq!(outcome.log_error, None);
    assert_group_gone(&outcome);
}

#[test]
fn a_config_error_line_is_reported_as_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(spec(
        &dir,
        "echo 'config error: s3.bucket is required' >&2; exit 2",
        LONG,
    ))
    .expect("run");
    assert_eq!(outcome.exit_code, Some(2));
    assert_eq!(outcome.events.len(), 1);
    assert!(outcome.events[0].is_config_error());
    assert_eq!(
        outcome.events[0].field("error"),
        Some("s3.bucket is required")
    );
}

#[test]
fn a_missing_program_is_a_spawn_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&dir, "", LONG);
    spec.invocation.program = "/nonexistent/b2s3-tool".to_string();
    let err = run(spec).expect_err("cannot spawn");
    assert!(matches!(err, RunError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/b2s3-tool"), "{err}");
}

#[test]
fn the_child_gets_only_the_given_environment_and_no_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&dir, "env | sort; read x && echo stdin-had-data", LONG);
    spec.invocation.env.insert("ONLY_THIS".into(), "a b".into());
    spec.invocation.cwd = Some(PathBuf::from("/"));
    let outcome = run(spec).expect("run");
    let out = std::fs::read_to_string(&outcome.stdout_log).unwrap();
    assert!(out.contains("ONLY_THIS=a b\n"), "{out}");
    assert!(out.contains("PWD=/\n"), "{out}");
    assert!(!out.contains("CARGO"), "harness environment leaked: {out}");
    assert!(!out.contains("stdin-had-data"));
}
