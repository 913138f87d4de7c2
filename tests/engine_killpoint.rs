//! Where a kill landed, classified from crafted before/after observations and events.

#[path = "engine_support.rs"]
mod support;

use std::collections::BTreeMap;

use b2s3_harness::engine::expect::Expect;
use b2s3_harness::engine::history::{EventRecord, Observation, ObservedAt};
use b2s3_harness::engine::killpoint::{aimed_phase, classify, KillContext, KillLanding, Phase, PhaseCounts};
use b2s3_harness::engine::names::Kind::{Full, Incremental};
use b2s3_harness::gen::plan::{KillPoint, ObjectClass, RequestPoint};
use support::*;

struct Run {
    before: Observation,
    after: Observation,
    events: Vec<EventRecord>,
    subvolumes: Vec<String>,
    dump: BTreeMap<String, bool>,
}

impl Run {
    /// `data` has a published full from TS1; the killed run is TS2.
    fn new(subvolumes: &[&str]) -> Run {
        let mut before = empty(ObservedAt::BeforeStep);
        publish(&mut before, "data", Full, TS1, None);
        let mut after = before.clone();
        after.at = ObservedAt::AfterInvocation { index: 0 };
        Run {
            before,
            after,
            events: Vec::new(),
            subvolumes: subvolumes.iter().map(|s| s.to_string()).collect(),
            dump: BTreeMap::new(),
        }
    }

    fn classify(&self) -> KillLanding {
        classify(&KillContext {
            before: &self.before,
            after: &self.after,
            events: &self.events,
            subvolumes: &self.subvolumes,
            chunk_size: CHUNK,
            stream_complete: &self.dump,
        })
    }
}

fn known(p: Phase) -> Expect<Phase> {
    Expect::known(p)
}

#[test]
fn a_kill_with_no_new_snapshot_and_nothing_uploaded_landed_before_the_snapshot() {
    let landing = Run::new(&["data"]).classify();
    assert_eq!(landing.summary, known(Phase::BeforeSnapshot));
    assert!(landing.anomalies.is_empty(), "{:?}", landing.anomalies);
}

#[test]
fn a_new_snapshot_without_chunks_is_during_upload() {
    let mut run = Run::new(&["data"]);
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    assert_eq!(run.classify().summary, known(Phase::DuringUpload));
}

#[test]
fn a_logged_snapshot_missing_from_the_snapshot_dir_counts_as_taken_and_is_an_anomaly() {
    let mut run = Run::new(&["data"]);
    run.events = uploaded_events(10, "data", Incremental, TS2)[..1].to_vec();
    let landing = run.classify();
    assert_eq!(landing.summary, known(Phase::DuringUpload));
    assert_eq!(landing.anomalies.len(), 1, "{:?}", landing.anomalies);
}

#[test]
fn chunks_with_a_gap_are_during_upload() {
    let mut run = Run::new(&["data"]);
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    add_chunks(&mut run.after, "data", Incremental, TS2, &[CHUNK, CHUNK, 7]);
    run.after.store.chunks.remove(&chunk_key("data", Incremental, TS2, 1));
    let landing = run.classify();
    assert_eq!(landing.summary, known(Phase::DuringUpload));
    assert!(landing.subvolumes[0].evidence.contains("some missing"), "{}", landing.subvolumes[0].evidence);
}

#[test]
fn every_chunk_with_a_short_last_one_and_no_manifest_is_between_chunks_and_manifest() {
    let mut run = Run::new(&["data"]);
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    add_chunks(&mut run.after, "data", Incremental, TS2, &[CHUNK, 7]);
    assert_eq!(run.classify().summary, known(Phase::BetweenChunksAndManifest));
}

#[test]
fn a_last_chunk_filling_chunk_size_needs_the_dump_verdict_to_decide() {
    let mut run = Run::new(&["data"]);
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    add_chunks(&mut run.after, "data", Incremental, TS2, &[CHUNK, CHUNK]);
    assert_eq!(run.classify().summary.candidates(), &[Phase::DuringUpload, Phase::BetweenChunksAndManifest]);
    run.dump.insert("data".into(), true);
    assert_eq!(run.classify().summary, known(Phase::BetweenChunksAndManifest));
    run.dump.insert("data".into(), false);
    assert_eq!(run.classify().summary, known(Phase::DuringUpload));
}

#[test]
fn a_new_manifest_with_the_old_pointer_is_between_manifest_and_pointer() {
    let mut run = Run::new(&["data"]);
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    let parent = manifest_key("data", Full, TS1);
    add_manifest(&mut run.after, "data", Incremental, TS2, Some(&parent), &[CHUNK, 7]);
    assert_eq!(run.classify().summary, known(Phase::BetweenManifestAndPointer));
}

#[test]
fn a_pointer_naming_the_new_manifest_is_after_pointer() {
    let mut run = Run::new(&["data"]);
    publish(&mut run.after, "data", Incremental, TS2, Some(&manifest_key("data", Full, TS1)));
    assert_eq!(run.classify().summary, known(Phase::AfterPointer));
}

#[test]
fn a_multi_subvolume_run_is_classified_per_subvolume_and_summarised_by_its_frontier() {
    let mut run = Run::new(&["data", "logs"]);
    publish(&mut run.after, "data", Incremental, TS2, Some(&manifest_key("data", Full, TS1)));
    add_snapshot(&mut run.after, "logs", TS2, Full);
    add_chunks(&mut run.after, "logs", Full, TS2, &[CHUNK]);
    let landing = run.classify();
    assert_eq!(landing.summary.candidates(), &[Phase::DuringUpload, Phase::BetweenChunksAndManifest]);
    assert_eq!(landing.describe(), "data=after_pointer, logs=during_upload|between_chunks_and_manifest");
    assert!(landing.anomalies.is_empty(), "{:?}", landing.anomalies);
}

#[test]
fn a_later_subvolume_started_before_an_earlier_one_finished_is_an_anomaly() {
    let mut run = Run::new(&["data", "logs"]);
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    add_snapshot(&mut run.after, "logs", TS2, Full);
    let landing = run.classify();
    assert_eq!(landing.summary, known(Phase::DuringUpload));
    assert!(
        landing.anomalies.iter().any(|a| a.starts_with("data stopped at during_upload")),
        "{:?}",
        landing.anomalies
    );
}

#[test]
fn a_subvolume_the_tool_logged_as_not_due_is_not_classified() {
    let mut run = Run::new(&["data", "logs"]);
    run.events.push(ev(5, "INFO", "backup_not_due", &[("subvolume", "data"), ("reason", "incremental_not_due")]));
    add_snapshot(&mut run.after, "logs", TS2, Full);
    let landing = run.classify();
    assert_eq!(landing.not_due, ["data"]);
    assert_eq!(landing.subvolumes.len(), 1);
    assert_eq!(landing.summary, known(Phase::DuringUpload));
    assert!(landing.anomalies.is_empty(), "{:?}", landing.anomalies);
}

#[test]
fn kill_points_at_requests_aim_at_the_phase_around_that_request() {
    let at = |object, before| KillPoint::OnRequest { at: RequestPoint { object, nth: 1 }, before };
    assert_eq!(aimed_phase(&at(ObjectClass::Manifest, true)), Some(Phase::BetweenChunksAndManifest));
    assert_eq!(aimed_phase(&at(ObjectClass::Pointer, true)), Some(Phase::BetweenManifestAndPointer));
    assert_eq!(aimed_phase(&at(ObjectClass::Pointer, false)), Some(Phase::AfterPointer));
    assert_eq!(aimed_phase(&at(ObjectClass::Chunk, false)), None);
    assert_eq!(aimed_phase(&KillPoint::AfterDelay { ms: 5 }), None);
}

#[test]
fn phase_counts_tally_decided_landings_by_phase_and_undecided_ones_apart() {
    let mut counts = PhaseCounts::default();
    let mut run = Run::new(&["data"]);
    counts.record(&run.classify());
    add_snapshot(&mut run.after, "data", TS2, Incremental);
    add_chunks(&mut run.after, "data", Incremental, TS2, &[CHUNK]);
    counts.record(&run.classify());
    let mut total = PhaseCounts::default();
    total.merge(&counts);
    total.merge(&counts);
    assert_eq!(total.count(Phase::BeforeSnapshot), 2);
    assert_eq!(total.undecided, 2);
    assert_eq!(total.total(), 4);
    assert!(total.to_string().contains("after_pointer                  0"), "{total}");
}
