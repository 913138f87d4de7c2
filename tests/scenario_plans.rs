//! The fixed scenarios as data: built from the repository's config files, every plan is
//! valid, deterministic and made of the `seed` layout and the `mutate` changes; the
//! settings files say what the scenarios need; and the scenario-level expectations turn
//! a crafted case report into the findings (or guard failures) a user would expect.
//! No btrfs, no S3: these run anywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use b2s3_harness::commands::{mutate, seed};
use b2s3_harness::config::Config;
use b2s3_harness::engine::history::{
    EventRecord, History, Invocation, ManifestSummary, Observation, ObservedAt, PointerSummary, Role, StepRecord,
    Termination, ToolCommand,
};
use b2s3_harness::engine::killpoint::PhaseCounts;
use b2s3_harness::engine::names::Kind;
use b2s3_harness::engine::CaseReport;
use b2s3_harness::exit;
use b2s3_harness::gen::normalize;
use b2s3_harness::gen::plan::{Step, VerifyMode};
use b2s3_harness::oracle::finding::Property;
use b2s3_harness::scenario::all::{selected, table, AllOutcome};
use b2s3_harness::scenario::expect::check;
use b2s3_harness::scenario::run::ScenarioResult;
use b2s3_harness::scenario::settings::inputs;
use b2s3_harness::scenario::{self, Expect, ScenarioPlan, SpoolOutcome};

fn repo_config(file: &str) -> Config {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(file);
    Config::load_with_env(&path, |_| None).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn built(name: &str) -> ScenarioPlan {
    let config = repo_config("reference.toml");
    let s = scenario::find(name).unwrap_or_else(|| panic!("no scenario {name}"));
    s.build(&inputs(&s, &config).unwrap()).unwrap()
}

#[test]
fn every_scenario_builds_a_valid_named_plan_the_same_way_twice() {
    for s in scenario::catalog() {
        let a = built(s.name);
        assert_eq!(a, built(s.name), "{}: not deterministic", s.name);
        assert_eq!(normalize(&a.plan), a.plan, "{}: normalize changed the plan", s.name);
        assert_eq!(a.plan.name, format!("scenario {}", s.name));
        assert!(!a.plan.steps.is_empty() && !a.expect.is_empty(), "{}", s.name);
        for e in &a.expect {
            if let Some(step) = e.step() {
                assert!(step < a.plan.steps.len(), "{}: {e} names a step the plan lacks", s.name);
            }
        }
    }
}

#[test]
fn scenario_trees_and_changes_are_the_seed_layout_and_the_mutate_set() {
    let plan = built("incremental").plan;
    let sub = &plan.subvolumes[0];
    assert_eq!(sub.initial, seed::seed_layout(&sub.name, 3 << 20));
    let first_change = plan.steps.iter().find_map(|s| match s {
        Step::Mutate { ops, .. } => Some(ops.clone()),
        _ => None,
    });
    assert_eq!(first_change, Some(mutate::mutations(&sub.name, 512 << 10)));
}

#[test]
fn scenarios_named_for_a_settings_file_take_their_settings_from_it() {
    let large = built("multi-chunk").plan;
    assert_eq!(large.tool.chunk_size_bytes, 512 << 10);
    let bytes: u64 = large.bytes_written();
    assert!(bytes >= 8 * large.tool.chunk_size_bytes, "{bytes} bytes give fewer than 8 chunks");
    let archive = built("archive").plan;
    assert_eq!(archive.tool.storage_class_chunks, "GLACIER");
    assert_eq!(archive.tool.restore_timeout_seconds, 120);
    let spool = built("spool").plan;
    assert!(spool.tool.spool_enabled);
    assert_eq!((spool.tool.spool_size_bytes, spool.tool.chunk_size_bytes), (1 << 20, 8 << 20));
    assert_eq!(built("retention").plan.tool.retain, 1, "retention states retain = 1 in its plan");
}

#[test]
fn the_spool_scenario_with_a_small_spool_expects_the_contract_failure() {
    let spool = built("spool");
    let wants = |needle: &str| spool.expect.iter().any(|e| e.to_string().contains(needle));
    assert!(wants("fails with error=\"spool_size_bytes must be >= 5 MiB\""));
    assert!(wants("exits 1") && wants("nothing is published") && wants("no state file"));
    assert_eq!(scenario::spool_outcome(&spool.plan.tool), SpoolOutcome::Fails);
    let s = scenario::find("spool").unwrap();
    let mut i = inputs(&s, &repo_config("reference.toml")).unwrap();
    i.settings.spool_size_bytes = 5 << 20;
    assert_eq!(scenario::spool_outcome(&i.settings), SpoolOutcome::Passes);
    let passing = s.build(&i).unwrap();
    assert!(
        passing.expect.iter().any(|e| e.to_string().contains("published as a full backup")),
        "{:?}",
        passing.expect
    );
    assert!(!passing.expect.iter().any(|e| e.to_string().contains("spool_size_bytes")));
}

#[test]
fn scenarios_refuse_settings_that_cannot_express_them() {
    let config = repo_config("test.toml");
    let mut i = inputs(&scenario::find("full").unwrap(), &config).unwrap();
    let archive = scenario::find("archive").unwrap();
    let err = archive.build(&i).unwrap_err();
    assert!(err.contains("archive storage class") && err.contains("STANDARD"), "{err}");
    i.settings.spool_enabled = false;
    let err = scenario::find("spool").unwrap().build(&i).unwrap_err();
    assert!(err.contains("spool_enabled"), "{err}");
}

#[test]
fn a_settings_file_missing_next_to_the_harness_config_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/test.toml")).unwrap();
    let cfg = dir.path().join("harness.toml");
    std::fs::write(&cfg, text).unwrap();
    let config = Config::load_with_env(&cfg, |_| None).unwrap();
    let err = inputs(&scenario::find("archive").unwrap(), &config).unwrap_err().to_string();
    assert!(err.contains("test_archive.toml") && err.contains(&*dir.path().to_string_lossy()), "{err}");
}

#[test]
fn scenario_all_runs_the_large_dataset_only_when_asked() {
    let names = |large| selected(large).iter().map(|s| s.name).collect::<Vec<_>>();
    assert!(!names(false).contains(&"multi-chunk-large"));
    assert!(names(true).contains(&"multi-chunk-large"));
    assert_eq!(names(false).len() + 1, names(true).len());
    for required in [
        "full",
        "incremental",
        "interrupt",
        "restore",
        "chain",
        "verify-modes",
        "multi-chunk",
        "all-subvolumes",
        "archive",
        "cli-flags",
        "lock-contention",
        "spool",
        "retention",
    ] {
        assert!(names(false).contains(&required), "{required} missing from scenario all");
    }
}

// ---- expectations over crafted reports ----

const PREFIX: &str = "p/";

fn inv(role: Role, command: ToolCommand, argv: &[&str], code: i32, events: Vec<EventRecord>) -> Invocation {
    let argv = argv.iter().map(|s| s.to_string()).collect();
    let mut i = Invocation::new(role, command, argv, 0, 100, Termination::Exited { code });
    i.events = events;
    i
}

fn uploaded(sv: &str, key: &str) -> EventRecord {
    EventRecord::new(50, "INFO", "backup_uploaded")
        .with("subvolume", sv)
        .with("manifest_key", key)
        .with("chunk_count", "2")
}

fn manifest(kind: Kind, parent: Option<&str>, chunks: usize) -> ManifestSummary {
    ManifestSummary {
        subvolume: "data".into(),
        kind: kind.store_word().into(),
        created_at: "20260101T000000Z".into(),
        parent_manifest: parent.map(str::to_string),
        chunk_count: chunks,
    }
}

/// A step with one invocation and one observation after it holding `manifests`, the
/// pointer naming `pointer`.
fn step(index: usize, i: Invocation, manifests: &[(&str, ManifestSummary)], pointer: Option<&str>) -> StepRecord {
    let mut rec = StepRecord::new(index, Step::DeleteState);
    rec.invocations.push(i);
    let mut obs = Observation::empty(ObservedAt::AfterInvocation { index: 0 }, 0, PREFIX);
    for (k, m) in manifests {
        obs.store.manifests.insert(k.to_string(), m.clone());
    }
    if let Some(key) = pointer {
        let p = PointerSummary { manifest_key: key.into(), kind: "x".into(), created_at: "x".into() };
        obs.store.pointers.insert("data".into(), p);
    }
    rec.observations.push(obs);
    rec
}

fn report(steps: Vec<StepRecord>) -> CaseReport {
    let plan = built("full").plan;
    CaseReport {
        case_id: "c".into(),
        prefix: PREFIX.into(),
        plan,
        findings: Vec::new(),
        undecided: Vec::new(),
        notes: Vec::new(),
        history: History { steps },
        kill_phases: PhaseCounts::default(),
        metrics: Vec::new(),
        leftovers: None,
        durations: Default::default(),
        harness_error: None,
        interrupted: false,
        stopped: None,
        tool_logs: Vec::new(),
        kept_area: Vec::new(),
        strict_hygiene: false,
    }
}

const FULL: &str = "p/subvol/data/full/manifest-1.json";
const INC: &str = "p/subvol/data/incremental/manifest-2.json";

fn full_then(second: Invocation, second_manifest: ManifestSummary, second_key: &str) -> CaseReport {
    let b0 = inv(Role::Backup, ToolCommand::Backup, &["backup"], 0, vec![uploaded("data", FULL)]);
    let full = manifest(Kind::Full, None, 3);
    report(vec![
        step(0, b0, &[(FULL, full.clone())], Some(FULL)),
        step(1, second, &[(FULL, full), (second_key, second_manifest)], Some(second_key)),
    ])
}

#[test]
fn a_once_backup_that_publishes_an_incremental_chained_to_the_full_passes() {
    let b1 = inv(Role::Backup, ToolCommand::Backup, &["backup", "--once"], 0, vec![uploaded("data", INC)]);
    let r = full_then(b1, manifest(Kind::Incremental, Some(FULL), 1), INC);
    let expect = [
        Expect::Flag { step: 1, role: Role::Backup, flag: "--once".into(), value: None, present: true },
        Expect::Published { step: 1, subvolume: "data".into(), kind: Kind::Incremental, property: Property::Schedule },
    ];
    let c = check(&r, &expect);
    assert!(c.findings.is_empty() && c.guards.is_empty(), "{c:?}");
    assert!(c.notes.iter().any(|n| n.contains("backup --once")), "the record shows the flag: {:?}", c.notes);
}

#[test]
fn a_once_backup_that_publishes_a_full_is_a_schedule_finding() {
    let other = "p/subvol/data/full/manifest-2.json";
    let b1 = inv(Role::Backup, ToolCommand::Backup, &["backup", "--once"], 0, vec![uploaded("data", other)]);
    let r = full_then(b1, manifest(Kind::Full, None, 1), other);
    let e =
        Expect::Published { step: 1, subvolume: "data".into(), kind: Kind::Incremental, property: Property::Schedule };
    let c = check(&r, &[e]);
    assert_eq!(c.findings.len(), 1, "{c:?}");
    assert_eq!((c.findings[0].property, c.findings[0].step), (Property::Schedule, Some(1)));
    assert!(c.findings[0].seen.as_deref().unwrap().contains("manifest kind full"), "{:?}", c.findings[0]);
}

#[test]
fn an_incremental_chained_to_the_wrong_parent_is_a_finding_naming_both_manifests() {
    let b1 = inv(Role::Backup, ToolCommand::Backup, &["backup", "--once"], 0, vec![uploaded("data", INC)]);
    let r = full_then(b1, manifest(Kind::Incremental, Some("p/elsewhere.json"), 1), INC);
    let e =
        Expect::Published { step: 1, subvolume: "data".into(), kind: Kind::Incremental, property: Property::Schedule };
    let f = &check(&r, &[e]).findings[0];
    assert_eq!((f.expected.as_deref(), f.seen.as_deref()), (Some(FULL), Some("p/elsewhere.json")));
}

#[test]
fn a_restore_through_an_incremental_key_shows_its_chain_back_to_the_full() {
    let b1 = inv(Role::Backup, ToolCommand::Backup, &["backup", "--once"], 0, vec![uploaded("data", INC)]);
    let mut r = full_then(b1, manifest(Kind::Incremental, Some(FULL), 1), INC);
    let restore = inv(Role::Restore, ToolCommand::Restore, &["restore", "--manifest-key", INC], 0, vec![]);
    let mut rec = r.history.steps[1].clone();
    rec.index = 2;
    rec.invocations = vec![restore];
    r.history.steps.push(rec);
    let ok = check(&r, &[Expect::Chain { step: 2, links: 2, property: Property::RoundTrip }]);
    assert!(ok.findings.is_empty(), "{ok:?}");
    assert!(ok.notes[0].contains(&format!("{INC} (incremental) -> {FULL} (full)")), "{:?}", ok.notes);
    let short = check(&r, &[Expect::Chain { step: 2, links: 3, property: Property::RoundTrip }]);
    assert_eq!(short.findings[0].property, Property::RoundTrip);
}

#[test]
fn a_verify_mode_not_logged_is_a_self_check_finding_unless_the_source_was_gone() {
    let complete = EventRecord::new(1, "INFO", "restore_verify_complete").with("mode", "full").with("status", "ok");
    let r = report(vec![step(0, inv(Role::Restore, ToolCommand::Restore, &["restore"], 0, vec![complete]), &[], None)]);
    let want_sample = Expect::Verified { step: 0, mode: VerifyMode::Sample, property: Property::SelfCheckAgreement };
    let c = check(&r, std::slice::from_ref(&want_sample));
    assert_eq!(c.findings[0].property, Property::SelfCheckAgreement);
    assert!(c.findings[0].seen.as_deref().unwrap().contains("mode=full"), "{:?}", c.findings[0]);
    let gone = EventRecord::new(1, "INFO", "restore_verify_source_missing").with("path", "/snap");
    let r = report(vec![step(0, inv(Role::Restore, ToolCommand::Restore, &["restore"], 0, vec![gone]), &[], None)]);
    let c = check(&r, &[want_sample]);
    assert!(c.findings.is_empty() && c.notes[0].contains("not decidable"), "{c:?}");
}

#[test]
fn a_manifest_with_one_chunk_fails_the_several_chunks_expectation() {
    let b0 = inv(Role::Backup, ToolCommand::Backup, &["backup"], 0, vec![uploaded("data", FULL)]);
    let one = report(vec![step(0, b0.clone(), &[(FULL, manifest(Kind::Full, None, 1))], Some(FULL))]);
    let e = Expect::SeveralChunks { property: Property::LayoutAndMetadata };
    let f = &check(&one, std::slice::from_ref(&e)).findings;
    assert_eq!(f[0].property, Property::LayoutAndMetadata);
    let many = report(vec![step(0, b0, &[(FULL, manifest(Kind::Full, None, 48))], Some(FULL))]);
    assert!(check(&many, &[e]).findings.is_empty());
}

#[test]
fn a_guard_that_fails_is_a_harness_problem_not_a_finding() {
    let b0 = inv(Role::Backup, ToolCommand::Backup, &["backup"], 0, vec![]);
    let r = report(vec![step(0, b0, &[], None)]);
    let c = check(
        &r,
        &[
            Expect::Killed { step: 0 },
            Expect::Exit { step: 3, role: Role::Backup, code: 0, property: Property::Recovery },
        ],
    );
    assert!(c.findings.is_empty());
    assert_eq!(c.guards.len(), 2, "{:?}", c.guards);
    assert!(
        c.guards[0].contains("kill did not land") && c.guards[1].contains("step 3 has no record"),
        "{:?}",
        c.guards
    );
}

#[test]
fn expectations_on_steps_a_stopped_case_never_reached_are_noted_not_failed() {
    let mut r = report(vec![]);
    r.harness_error = Some("fixture broke".into());
    let c = check(&r, &[Expect::Exit { step: 0, role: Role::Backup, code: 0, property: Property::Recovery }]);
    assert!(c.findings.is_empty() && c.guards.is_empty() && c.notes[0].contains("not judged"), "{c:?}");
}

fn result(name: &str, r: CaseReport, secs: u64) -> ScenarioResult {
    ScenarioResult { name: name.into(), report: r, logs: None, elapsed: Duration::from_secs(secs) }
}

#[test]
fn the_all_table_shows_each_result_with_the_first_property_and_exits_by_precedence() {
    let pass = result("full", report(vec![]), 2);
    let mut failed = report(vec![]);
    failed.findings.push(b2s3_harness::oracle::finding::Finding::new(Property::Retention, Some(1), "x"));
    let fail = result("retention", failed, 3);
    let mut outcome =
        AllOutcome { results: vec![pass, fail], elapsed: Duration::from_secs(5), ..AllOutcome::default() };
    let text = table(&outcome);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("scenario") && lines[0].contains("result") && lines[0].contains("time"), "{text}");
    assert!(lines[1].starts_with("full") && lines[1].contains("pass") && lines[1].contains("2.0 s"), "{text}");
    assert!(lines[2].starts_with("retention") && lines[2].contains("fail P8"), "{text}");
    assert!(lines[3].contains("2 scenario(s): 1 passed, 1 failed, 0 error(s) in 5.0 s"), "{text}");
    assert_eq!(outcome.exit_code(), exit::FINDINGS);
    outcome.teardown_error = Some("left a mount".into());
    assert_eq!(outcome.exit_code(), exit::HARNESS_ERROR);
    assert!(table(&outcome).contains("TEARDOWN INCOMPLETE: left a mount"));
}
