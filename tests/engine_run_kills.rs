//! Kills of a backup at every kind of point: before the snapshot (on `command_start`),
//! and before or after a chunk, manifest or pointer request (through the fault proxy).
//! Each kill must land in the phase its point aims at, the correct reference tool must
//! come out with no failing finding (P3 old-or-new, P4 recovery by the next backup, P1
//! on the final restore), and several cases run at once on one engine.

mod engine_run_support;

use b2s3_harness::engine::killpoint::Phase;
use b2s3_harness::engine::CaseReport;
use b2s3_harness::gen::plan::*;
use engine_run_support::*;

/// Full backup, a mutation, the killed `--once` backup, a recovery `--once` backup.
fn killed_plan(name: &str, fault: Option<BackupFault>) -> Plan {
    plan(
        name,
        vec![subvolume("data")],
        vec![
            backup(false, None),
            mutate("data", 3),
            backup(true, fault),
            backup(true, None),
        ],
    )
}

fn cases() -> Vec<(Plan, Phase)> {
    use ObjectClass::*;
    let on_start = Some(BackupFault::Kill {
        at: KillPoint::OnEvent {
            event: "command_start".into(),
            nth: 1,
        },
    });
    vec![
        (
            killed_plan("kill on command_start", on_start),
            Phase::BeforeSnapshot,
        ),
        (
            killed_plan("kill before chunk 2", kill_on_request(Chunk, 2, true)),
            Phase::DuringUpload,
        ),
        (
            killed_plan("kill after chunk 1", kill_on_request(Chunk, 1, false)),
            Phase::DuringUpload,
        ),
        (
            killed_plan("kill before manifest", kill_on_request(Manifest, 1, true)),
            Phase::BetweenChunksAndManifest,
        ),
        (
            killed_plan("kill after manifest", kill_on_request(Manifest, 1, false)),
            Phase::BetweenManifestAndPointer,
        ),
        (
            killed_plan("kill before pointer", kill_on_request(Pointer, 1, true)),
            Phase::BetweenManifestAndPointer,
        ),
        (
            killed_plan("kill after pointer", kill_on_request(Pointer, 1, false)),
            Phase::AfterPointer,
        ),
    ]
}

#[test]
fn kills_at_every_request_class_land_in_the_phase_they_aim_at_and_the_correct_tool_recovers() {
    let world = World::new("kills");
    let engine = world.engine();
    let cases = cases();
    // Two cases at a time on the same engine, as campaign workers run them.
    let reports: Vec<CaseReport> = cases
        .chunks(2)
        .flat_map(|pair| {
            std::thread::scope(|s| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|(p, _)| s.spawn(|| run(&engine, p)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for ((plan, aimed), report) in cases.iter().zip(&reports) {
        eprintln!(
            "{}: {:?}\n{}",
            plan.name,
            landed_phases(report),
            report.summary()
        );
        assert_clean(report);
        assert_eq!(
            landed_phases(report),
            vec![*aimed],
            "{}: {}",
            plan.name,
            report.render()
        );
        assert_eq!(report.kill_phases.count(*aimed), 1);
        // The recovery backup published: the step after the kill exited 0.
        assert_eq!(
            step(report, 3).invocations[0].exit_code(),
            Some(0),
            "{}",
            plan.name
        );
    }
    let hit: std::collections::BTreeSet<Phase> = reports.iter().flat_map(landed_phases).collect();
    assert_eq!(hit.len(), 5, "every phase is reached: {hit:?}");
}

#[test]
fn a_kill_point_that_is_never_reached_is_noted_and_the_run_is_judged_as_a_normal_backup() {
    let world = World::new("unreached");
    let engine = world.engine();
    let report = run(
        &engine,
        &killed_plan(
            "kill at chunk 999",
            kill_on_request(ObjectClass::Chunk, 999, true),
        ),
    );
    assert_clean(&report);
    assert!(landed_phases(&report).is_empty());
    let notes = &step(&report, 2).notes;
    assert!(
        notes.iter().any(|n| n.contains("was not reached")),
        "{notes:?}"
    );
}
