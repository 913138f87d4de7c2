//! Every fixed scenario catches a real defect: run against the reference tool with one
//! of its bug variants (`B2S3_REF_BUG`, passed to the tool through `tool.pass_env`),
//! `b2s3-harness scenario <name>` exits 1 and prints a finding naming the property the
//! variant breaks. One run set up once; the scenarios run one after another in it.

#[path = "scenario_support/mod.rs"]
mod support;

use support::{finding_ids, ScenarioWorld, Store};

/// Scenario, reference bug variant, a property id the scenario must report.
pub const VARIANTS: [(&str, &str, &str); 13] = [
    ("full", "wrong-manifest-size", "P2"),
    ("incremental", "wrong-parent-manifest", "P6"),
    ("interrupt", "stale-lock-never-taken", "P4"),
    ("restore", "restore-full-only", "P1"),
    ("chain", "restore-full-only", "P1"),
    ("verify-modes", "restore-full-only", "P1"),
    ("multi-chunk", "drop-last-partial-chunk", "P7"),
    ("all-subvolumes", "missing-sse", "P7"),
    ("archive", "archive-no-wait", "P12"),
    ("cli-flags", "prune-parent", "P8"),
    ("lock-contention", "no-lock", "P5"),
    ("spool", "state-before-upload", "P4"),
    ("retention", "prune-parent", "P8"),
];

#[test]
fn every_scenario_fails_on_its_bug_variant_with_a_finding_naming_the_broken_property() {
    let world = ScenarioWorld::new("variants", Store::Embedded);
    let setup = world.harness(&["setup"], &[]);
    assert_eq!(setup.code, 0, "{}", setup.text());
    let mut wrong = Vec::new();
    for (scenario, variant, property) in VARIANTS {
        let run = world.harness(&["scenario", scenario], &[("B2S3_REF_BUG", variant)]);
        let ids = finding_ids(&run);
        let verdict = run.stdout.lines().find(|l| l.starts_with(&format!("scenario {scenario}: ")));
        eprintln!(
            "{scenario} with {variant}: exit {}, {}, findings {ids:?}",
            run.code,
            verdict.unwrap_or("no verdict")
        );
        if run.code != 1 || !ids.iter().any(|id| id == property) {
            wrong.push(format!("{scenario} with {variant}: expected exit 1 and a {property} finding\n{}", run.text()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
