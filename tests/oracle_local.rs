//! Local checks on crafted snapshot listings, state files and lock files: retention
//! (P8), state shape (P6), the lock after a clean exit and leftovers (P14).

use std::collections::BTreeMap;

use b2s3_harness::oracle::finding::{Property, Severity};
use b2s3_harness::oracle::local::{
    check_lock_after_exit, check_retention, check_state, check_state_matches_pointers, leftovers,
    pid_is_alive, LeftoverInput, LockObservation, RetentionInput, State, StateExpect,
    SubvolumeState,
};
use b2s3_harness::oracle::manifest::{BackupKind, Pointer};
use b2s3_harness::s3::view::UploadInfo;
use serde_json::json;

const DIR: &str = "/srv/snapshots";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn retention<'a>(
    snapshots: &'a [String],
    retain: u32,
    parent: Option<&'a str>,
    last: Option<&'a str>,
) -> RetentionInput<'a> {
    RetentionInput {
        subvolume: "data",
        snapshots_dir: DIR,
        snapshot_names: snapshots,
        retain,
        incremental_parent: parent,
        last_snapshot: last,
    }
}

const LAST: &str = "/srv/snapshots/data__20260103T020000Z__inc";

fn read_only_if_listed(snapshots: &[String]) -> impl Fn(&str) -> Option<bool> + '_ {
    move |path: &str| {
        snapshots
            .iter()
            .any(|n| format!("{DIR}/{n}") == path)
            .then_some(true)
    }
}

#[test]
fn retain_one_after_an_incremental_keeps_the_newest_plus_its_parent() {
    let snaps = names(&[
        "data__20260102T020000Z__full",
        "data__20260103T020000Z__inc",
        "home__20260101T020000Z__full",
    ]);
    let input = retention(&snaps, 1, Some("data__20260102T020000Z__full"), Some(LAST));
    assert_eq!(
        check_retention(&input, &read_only_if_listed(&snaps), Some(2)),
        vec![]
    );
}

#[test]
fn a_snapshot_beyond_retain_is_a_retention_violation_naming_it() {
    let snaps = names(&[
        "data__20260101T020000Z__full",
        "data__20260102T020000Z__inc",
        "data__20260103T020000Z__inc",
    ]);
    let input = retention(&snaps, 1, Some("data__20260102T020000Z__inc"), Some(LAST));
    let findings = check_retention(&input, &read_only_if_listed(&snaps), Some(2));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].property, Property::Retention);
    assert_eq!(
        findings[0].subject.as_deref(),
        Some("/srv/snapshots/data__20260101T020000Z__full")
    );
    assert!(
        findings[0]
            .message
            .contains("keeps 3 snapshots where retain=1 allows 2"),
        "{}",
        findings[0].message
    );
}

#[test]
fn without_an_incremental_parent_only_retain_snapshots_may_stay() {
    let snaps = names(&[
        "data__20260102T020000Z__full",
        "data__20260103T020000Z__inc",
    ]);
    let findings = check_retention(
        &retention(&snaps, 1, None, Some(LAST)),
        &read_only_if_listed(&snaps),
        None,
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].subject.as_deref(),
        Some("/srv/snapshots/data__20260102T020000Z__full")
    );
}

#[test]
fn the_state_last_snapshot_must_exist_and_be_read_only() {
    let snaps = names(&["data__20260103T020000Z__inc"]);
    let missing = check_retention(&retention(&snaps, 2, None, Some(LAST)), &|_| None, None);
    assert_eq!(missing[0].seen.as_deref(), Some("missing"));
    let writable = check_retention(
        &retention(&snaps, 2, None, Some(LAST)),
        &|_| Some(false),
        None,
    );
    assert_eq!(writable[0].seen.as_deref(), Some("writable"));
    let unrecorded = check_retention(&retention(&snaps, 2, None, None), &|_| Some(true), None);
    assert!(unrecorded[0].message.contains("records no last_snapshot"));
    assert!([missing, writable, unrecorded]
        .iter()
        .all(|f| f.len() == 1 && f[0].property == Property::Retention));
}

/// An edit that breaks a correct state file in one way.
type Edit = fn(&mut serde_json::Value);

fn state_expect(fresh: &[&str]) -> StateExpect {
    StateExpect {
        prefix: "case/".into(),
        snapshots_dir: DIR.into(),
        fresh: names(fresh),
    }
}

fn good_state() -> serde_json::Value {
    json!({
        "last_run_at": "20260103T020000Z",
        "subvolumes": {
            "data": {
                "last_full_at": "20260101T020000Z",
                "last_manifest": "case/subvol/data/incremental/manifest-20260103T020000Z.json",
                "last_snapshot": LAST
            }
        }
    })
}

#[test]
fn a_state_file_as_the_tool_writes_it_passes_and_parses() {
    let check = check_state(
        good_state().to_string().as_bytes(),
        "/st.json",
        &state_expect(&["data"]),
        Some(1),
    );
    assert_eq!(check.findings, vec![]);
    assert_eq!(check.state.unwrap().subvolumes["data"].last_snapshot, LAST);
}

#[test]
fn each_state_deviation_is_a_schedule_finding_naming_the_field() {
    let cases: Vec<(Edit, &str)> = vec![
        (
            |v| v["last_run_at"] = json!("2026-01-03T02:00:00"),
            "/last_run_at",
        ),
        (|v| v["extra"] = json!(true), "/extra"),
        (
            |v| {
                drop(
                    v["subvolumes"]["data"]
                        .as_object_mut()
                        .unwrap()
                        .remove("last_full_at"),
                )
            },
            "/subvolumes/data/last_full_at",
        ),
        (
            |v| v["subvolumes"]["data"]["last_full_at"] = json!("2000-01-01T00:00:00Z"),
            "/subvolumes/data/last_full_at",
        ),
        (
            |v| {
                v["subvolumes"]["data"]["last_manifest"] =
                    json!("other/subvol/data/full/manifest-20260101T020000Z.json")
            },
            "/subvolumes/data/last_manifest",
        ),
        (
            |v| {
                v["subvolumes"]["data"]["last_snapshot"] =
                    json!("/elsewhere/data__20260103T020000Z__inc")
            },
            "/subvolumes/data/last_snapshot",
        ),
        (
            |v| v["subvolumes"]["data"]["last_snapshot"] = json!(7),
            "/subvolumes/data/last_snapshot",
        ),
        (
            |v| drop(v["subvolumes"].as_object_mut().unwrap().remove("data")),
            "/subvolumes/data",
        ),
    ];
    for (edit, field) in cases {
        let mut value = good_state();
        edit(&mut value);
        let check = check_state(
            value.to_string().as_bytes(),
            "/st.json",
            &state_expect(&["data"]),
            Some(1),
        );
        assert!(!check.findings.is_empty(), "{field}: no finding");
        assert!(check
            .findings
            .iter()
            .all(|f| f.property == Property::Schedule));
        let subject = format!("/st.json#{field}");
        assert!(
            check
                .findings
                .iter()
                .any(|f| f.subject.as_deref() == Some(subject.as_str())),
            "{field}: {:#?}",
            check.findings
        );
    }
    assert!(!check_state(b"{", "/st.json", &state_expect(&[]), None)
        .findings
        .is_empty());
}

#[test]
fn entries_the_run_did_not_write_may_hold_the_harness_forced_iso_date() {
    let mut value = good_state();
    value["subvolumes"]["data"]["last_full_at"] = json!("2000-01-01T00:00:00Z");
    let check = check_state(
        value.to_string().as_bytes(),
        "/st.json",
        &state_expect(&[]),
        None,
    );
    assert_eq!(check.findings, vec![]);
}

#[test]
fn after_a_clean_run_the_state_names_the_manifest_current_json_names() {
    let state: State = serde_json::from_value(good_state()).unwrap();
    let mut pointers = BTreeMap::new();
    let key = state.subvolumes["data"].last_manifest.clone();
    pointers.insert(
        "data".to_string(),
        Pointer {
            created_at: "20260103T020000Z".into(),
            kind: BackupKind::Incremental,
            manifest_key: key,
        },
    );
    assert_eq!(
        check_state_matches_pointers(&state, &pointers, &names(&["data"]), None),
        vec![]
    );
    pointers.get_mut("data").unwrap().manifest_key =
        "case/subvol/data/full/manifest-20260104T020000Z.json".into();
    let findings = check_state_matches_pointers(&state, &pointers, &names(&["data"]), Some(5));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].property, Property::Schedule);
}

fn lock(content: Option<&str>) -> LockObservation {
    LockObservation {
        path: "/run/b2s3.lock".into(),
        content: content.map(str::to_string),
    }
}

#[test]
fn a_lock_left_after_a_clean_exit_is_a_hygiene_finding_unless_a_live_process_holds_it() {
    let dead = |_| false;
    let f = check_lock_after_exit(&lock(Some("4242\n")), true, &dead, Some(3)).expect("finding");
    assert_eq!(
        (f.property, f.severity),
        (Property::Leftovers, Severity::Hygiene)
    );
    assert_eq!(f.seen.as_deref(), Some("lock file containing \"4242\""));
    assert_eq!(
        check_lock_after_exit(&lock(Some("4242")), true, &|pid| pid == 4242, None),
        None
    );
    assert_eq!(check_lock_after_exit(&lock(None), true, &dead, None), None);
    assert_eq!(
        check_lock_after_exit(&lock(Some("4242")), false, &dead, None),
        None,
        "a SIGKILL leaves its lock by design"
    );
    assert!(check_lock_after_exit(&lock(Some("garbage")), true, &|_| true, None).is_some());
}

#[test]
fn pid_liveness_asks_the_kernel() {
    assert!(pid_is_alive(std::process::id() as i32));
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    child.wait().unwrap();
    assert!(!pid_is_alive(pid));
}

#[test]
fn leftovers_count_uploads_orphans_unrecorded_snapshots_spool_files_and_stale_locks() {
    let state: State = serde_json::from_value(good_state()).unwrap();
    let snaps = names(&[
        "data__20260102T020000Z__full",
        "data__20260103T020000Z__inc",
        "data__20260104T020000Z__inc",
        "home__20260104T020000Z__full",
        "lost+found",
    ]);
    let uploads = vec![UploadInfo {
        key: "case/subvol/data/full/chunk-20260104T020000Z-2.bin".into(),
        upload_id: "u-1".into(),
    }];
    let orphans = names(&["case/subvol/data/full/chunk-20260104T020000Z-0.bin"]);
    let spool = names(&["tmpab12"]);
    let stale = lock(Some("999999"));
    let input = LeftoverInput {
        uploads: &uploads,
        orphan_chunks: &orphans,
        subvolumes: &names(&["data", "home"]),
        snapshot_names: &snaps,
        state: Some(&state),
        spool_files: &spool,
        lock: &stale,
    };
    let found = leftovers(&input, &|_| false);
    assert_eq!(
        found.unrecorded_snapshots,
        names(&[
            "data__20260104T020000Z__inc",
            "home__20260104T020000Z__full"
        ])
    );
    let counts = found.counts();
    assert_eq!(
        (
            counts.incomplete_uploads,
            counts.orphan_chunks,
            counts.unrecorded_snapshots,
            counts.spool_files,
            counts.stale_locks
        ),
        (1, 1, 2, 1, 1)
    );
    let findings = found.to_findings(Some(9));
    assert_eq!(findings.len(), 5);
    assert!(findings
        .iter()
        .all(|f| f.property == Property::Leftovers && f.step == Some(9)));
    assert_eq!(
        findings[0].subject.as_deref(),
        Some("case/subvol/data/full/chunk-20260104T020000Z-2.bin (u-1)")
    );
}

#[test]
fn a_clean_history_has_no_leftovers() {
    let state = State {
        last_run_at: "20260103T020000Z".into(),
        subvolumes: [(
            "data".to_string(),
            SubvolumeState {
                last_full_at: "x".into(),
                last_manifest: "y".into(),
                last_snapshot: LAST.into(),
            },
        )]
        .into(),
    };
    let snaps = names(&[
        "data__20260102T020000Z__full",
        "data__20260103T020000Z__inc",
    ]);
    let no_lock = lock(None);
    let input = LeftoverInput {
        uploads: &[],
        orphan_chunks: &[],
        subvolumes: &names(&["data"]),
        snapshot_names: &snaps,
        state: Some(&state),
        spool_files: &[],
        lock: &no_lock,
    };
    let found = leftovers(&input, &|_| false);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(found.to_findings(None), vec![]);
}
