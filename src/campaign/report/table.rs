//! The closing table printed at the end of `fuzz`: the outcome line, findings by
//! property and severity, kill phases, what the cases exercised, the slowest cases and
//! every failure with its bug folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{by_property, Summary};
use crate::campaign::run::CampaignResult;
use crate::oracle::finding::Severity;

const SEVERITIES: [Severity; 3] = [Severity::Violation, Severity::Robustness, Severity::Hygiene];

/// The table, several lines, ending with a newline.
pub fn closing_table(summary: &Summary, result: &CampaignResult) -> String {
    let mut out = String::new();
    let c = &summary.cases;
    let _ = writeln!(
        out,
        "profile {} seed {} shard {}: {} case(s) run of {} planned ({} regression replay(s)); {} passed, {} failed, {} harness error(s), {} interrupted, {} not started (time budget); {:.1} s",
        summary.run.profile,
        summary.run.seed,
        summary.run.shard,
        c.run,
        c.planned,
        c.regressions,
        c.passed,
        c.failed,
        c.harness_errors,
        c.interrupted,
        c.out_of_time,
        summary.durations.total_ms as f64 / 1000.0
    );
    if let Some(why) = &summary.stopped_early {
        let _ = writeln!(out, "STOPPED EARLY: {why}");
    }
    out.push_str(&findings_table(result));
    let phases: Vec<String> = summary.kill_phases.iter().map(|(p, n)| format!("{p} {n}")).collect();
    let _ = writeln!(out, "kill phases: {}", phases.join(", "));
    let a = &summary.activity;
    let _ = writeln!(
        out,
        "exercised: {} backup(s), {} kill(s), {} contender(s), {} restore(s), {} retry(ies); undecided checks: {}",
        a.backups, a.kills, a.contenders, a.restores, a.retries, summary.undecided.total
    );
    let slow: Vec<String> =
        summary.durations.slowest.iter().map(|s| format!("{} {:.1} s", s.case, s.elapsed_ms as f64 / 1000.0)).collect();
    let _ = writeln!(out, "slowest cases: {}", slow.join(", "));
    out.push_str(&failures(summary));
    out
}

fn findings_table(result: &CampaignResult) -> String {
    let counts = by_property(&result.records);
    if counts.is_empty() {
        return "findings: none\n".to_string();
    }
    let mut out = format!("{:<28} {:>9} {:>10} {:>7}\n", "findings", "violation", "robustness", "hygiene");
    for (property, by) in &counts {
        let cell = |s: Severity| by.get(&s).copied().unwrap_or(0);
        let name = format!("{} {}", property.id(), property.name());
        let _ = writeln!(out, "{name:<28} {:>9} {:>10} {:>7}", cell(SEVERITIES[0]), cell(SEVERITIES[1]), cell(SEVERITIES[2]));
    }
    out
}

fn failures(summary: &Summary) -> String {
    let mut out = String::new();
    let mut duplicates: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for f in &summary.failures {
        let r = &f.failure;
        let property = r.property.map_or("harness error".to_string(), |p| format!("{} {}", p.id(), p.name()));
        if r.duplicate_of.is_some() {
            duplicates.entry(property).or_default().push(&f.case);
            continue;
        }
        let shrunk = match (&r.shrunk, &r.shrink) {
            (Some(s), Some(st)) => format!(
                "; shrunk {} -> {} step(s), {} -> {} file(s) in {} run(s), {:.1} s",
                r.original.steps,
                s.steps,
                r.original.files,
                s.files,
                st.runs,
                st.elapsed_ms as f64 / 1000.0
            ),
            _ => String::new(),
        };
        let _ = writeln!(out, "FAILED {}: {property}{shrunk}", f.case);
        if let Some(dir) = &r.bug_dir {
            let _ = writeln!(out, "  bug folder: {}", dir.display());
        }
        for p in &r.problems {
            let _ = writeln!(out, "  problem: {p}");
        }
    }
    for (property, cases) in duplicates {
        let _ = writeln!(
            out,
            "FAILED also on {property}: {} more case(s), not shrunk again (replay one with `replay --seed S --case N`): {}",
            cases.len(),
            list(&cases)
        );
    }
    for h in &summary.harness_errors {
        let _ = writeln!(out, "HARNESS ERROR {}: {}", h.case, h.error);
    }
    out
}

/// At most 8 names, then how many more.
fn list(names: &[&str]) -> String {
    let shown = names.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    match names.len() {
        n if n > 8 => format!("{shown}, ... and {} more", n - 8),
        _ => shown,
    }
}
