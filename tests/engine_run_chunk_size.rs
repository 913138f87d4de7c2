//! Reconfiguring the chunk size from the last full makes the next full end exactly on a
//! chunk boundary (CONTRACT.md 9): the correct tool then uploads whole chunks only and
//! the case is clean, while the reference's `empty-trailing-chunk` defect uploads an
//! extra empty chunk, which is a P7 finding. The two tests share the process
//! environment (`B2S3_REF_BUG`) and run one at a time.

mod engine_run_support;

use std::sync::{Mutex, MutexGuard};

use b2s3_harness::engine::CaseReport;
use b2s3_harness::gen::plan::*;
use b2s3_harness::oracle::finding::Property;
use engine_run_support::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A full, the chunk size set to half of (or all of) its stream, a forced full of the
/// unchanged subvolume, a restore.
fn exact_multiple_plan() -> Plan {
    plan(
        "chunk size from last full",
        vec![subvolume("data")],
        vec![
            backup(false, None),
            Step::ChunkSizeFromLastFull { subvolume: "data".into(), parts: 2 },
            Step::ForceFull { subvolume: "data".into() },
            backup(true, None),
            restore("data", RestoreSource::Current),
        ],
    )
}

fn run_with(variant: Option<&str>) -> CaseReport {
    let _guard = serial();
    let world = World::new(variant.unwrap_or("correct"));
    let engine = world.engine();
    match variant {
        Some(v) => std::env::set_var("B2S3_REF_BUG", v),
        None => std::env::remove_var("B2S3_REF_BUG"),
    }
    let report = run(&engine, &exact_multiple_plan());
    std::env::remove_var("B2S3_REF_BUG");
    eprintln!("{}", report.render());
    assert!(report.harness_error.is_none(), "harness error {:?}", report.harness_error);
    report
}

/// The chunk sizes of each full manifest in the last observation, oldest first.
fn full_chunk_sizes(report: &CaseReport) -> Vec<Vec<u64>> {
    let last = report
        .history
        .steps
        .iter()
        .flat_map(|s| s.observations.iter())
        .last()
        .expect("observed");
    let mut fulls: Vec<&str> = last
        .store
        .manifests
        .values()
        .filter(|m| m.kind == "full")
        .map(|m| m.created_at.as_str())
        .collect();
    fulls.sort();
    fulls
        .iter()
        .map(|ts| {
            let marker = format!("/chunk-{ts}-");
            let mut chunks: Vec<(u64, u64)> = last
                .store
                .chunks
                .iter()
                .filter_map(|(k, size)| {
                    let (_, rest) = k.split_once(&marker)?;
                    Some((rest.trim_end_matches(".bin").parse().ok()?, *size))
                })
                .collect();
            chunks.sort();
            chunks.into_iter().map(|(_, size)| size).collect()
        })
        .collect()
}

#[test]
fn with_the_correct_tool_the_second_full_is_whole_chunks_and_the_case_is_clean() {
    let report = run_with(None);
    assert_clean(&report);
    let notes = &step(&report, 1).notes;
    assert!(
        notes.iter().any(|n| n.contains("s3.chunk_size_bytes 65536 -> ")),
        "the step reconfigured nothing: {notes:?}"
    );
    let fulls = full_chunk_sizes(&report);
    assert_eq!(fulls.len(), 2, "two fulls: {fulls:?}");
    let (first, second) = (&fulls[0], &fulls[1]);
    assert_eq!(
        first.iter().sum::<u64>(),
        second.iter().sum::<u64>(),
        "a full of the unchanged subvolume has the same stream length"
    );
    assert!(
        second.iter().all(|s| *s == second[0] && *s > 0),
        "not an exact multiple of one chunk size: {second:?}"
    );
}

#[test]
fn an_empty_trailing_chunk_after_an_exact_multiple_is_p7() {
    let report = run_with(Some("empty-trailing-chunk"));
    let p7 = report
        .failing()
        .find(|f| f.property == Property::LayoutAndMetadata)
        .unwrap_or_else(|| panic!("no P7 finding:\n{}", report.render()));
    assert_eq!(p7.step, Some(3), "found at the forced full: {p7}");
    assert_eq!(report.exit_code(), 1);
    let second = &full_chunk_sizes(&report)[1];
    assert_eq!(second.last(), Some(&0), "the defect uploaded an empty last chunk: {second:?}");
}
