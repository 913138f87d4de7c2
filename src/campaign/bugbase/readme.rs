//! The `README.md` of a bug folder: what broke (property, step, first discrepancy), the
//! one command that replays it, how far it shrank and, for a plan still above 4 steps
//! or 5 files, what the shrinker could not remove and why.

use std::fmt::Write as _;

use super::{Bug, PlanSize};
use crate::campaign::shrink::{KeptPart, Shrunk, SHRINK_RULE};
use crate::oracle::finding::Finding;

/// The README text; `logs` are the names copied into `logs/`.
pub fn readme(bug: &Bug, logs: &[String]) -> String {
    let m = &bug.meta;
    let mut out = String::new();
    let title = match m.property {
        Some(p) => format!("{} {} ({})", p.id(), p.name(), m.severity.map_or("", |s| s.as_str())),
        None => "harness error (not a finding about the tool)".to_string(),
    };
    let _ = writeln!(out, "# {title}\n");
    let origin = match (m.seed, m.case) {
        (Some(s), Some(c)) => format!("seed {s}, case {c}"),
        _ => "a plan file".to_string(),
    };
    let _ = writeln!(out, "Found by `b2s3-harness fuzz --profile {}` ({origin}) at {}.\n", m.profile, m.found_at);
    let _ = writeln!(out, "## Replay\n\n    {}\n", m.replay);
    let _ = writeln!(out, "Exit 1: the finding reproduced. Exit 0: it did not (the command says which).");
    if let Some(cmd) = &m.replay_seed {
        let _ = writeln!(out, "The original, unshrunk case: `{cmd}`.");
    }
    let _ = writeln!(out, "\n## What broke\n\n{}", what_broke(bug));
    let _ = writeln!(out, "## Shrinking\n\n{}", shrinking(bug));
    if let Some(s) = bug.shrunk.filter(|_| m.shrunk.needs_explaining()) {
        let _ = writeln!(out, "## Why it is not smaller\n\n{}", why_not_smaller(s));
    }
    let _ = writeln!(out, "## Files\n\n{}", files(logs));
    out
}

fn what_broke(bug: &Bug) -> String {
    let report = bug.final_report();
    let mut out = String::new();
    if let Some(e) = &bug.meta.harness_error {
        let _ = writeln!(out, "The harness itself failed, so the tool is not blamed: {e}\n");
    }
    let failing: Vec<&Finding> = report.findings.iter().filter(|f| bug.meta.fail_on.contains(&f.severity)).collect();
    let first = bug.meta.property.and_then(|p| failing.iter().find(|f| f.property == p));
    if let Some(f) = first {
        let _ = writeln!(out, "{}\n", describe(f));
    }
    if failing.len() > 1 {
        let _ = writeln!(out, "All failing findings of the last run:\n");
        for f in &failing {
            let _ = writeln!(out, "- {f}");
        }
        out.push('\n');
    }
    if !bug.meta.last_run_reproduced {
        let _ = writeln!(out, "Note: the last run of the shrunk plan did not reproduce it; the findings above are from the last run that did.\n");
    }
    out
}

fn describe(f: &Finding) -> String {
    let mut out = format!(
        "**{} {}** ({}), observed at {}: {}",
        f.property.id(),
        f.property.name(),
        f.severity.as_str(),
        f.step.map_or_else(|| "the end of the case".to_string(), |s| format!("step {s}")),
        f.message
    );
    if let Some(s) = &f.subject {
        let _ = write!(out, "\n\n- subject: `{s}`");
    }
    if let (Some(e), Some(s)) = (&f.expected, &f.seen) {
        let _ = write!(out, "\n- expected: {e}\n- seen: {s}");
    }
    out
}

fn size(s: &PlanSize) -> String {
    format!("{} subvolume(s), {} step(s), {} file(s), {} bytes", s.subvolumes, s.steps, s.files, s.bytes)
}

fn shrinking(bug: &Bug) -> String {
    let m = &bug.meta;
    let Some(st) = &m.shrink else {
        return format!("Not shrunk ({}). Plan: {}.\n", m.harness_error.as_ref().map_or("no shrink", |_| "harness errors are not shrunk"), size(&m.original));
    };
    format!(
        "- original: {}\n- shrunk:   {}\n- {} run(s) in {:.1} s: {} candidate(s) accepted ({} by proptest), {} rejected; stopped: {}\n\n{}\n",
        size(&m.original),
        size(&m.shrunk),
        st.runs,
        st.elapsed_ms as f64 / 1000.0,
        st.accepted,
        st.accepted_by_proptest,
        st.rejected,
        st.stop.describe(),
        SHRINK_RULE
    )
}

/// What the shrinker could not remove from the final plan, and why; rejected cuts first.
pub fn why_not_smaller(s: &Shrunk) -> String {
    let (tried, untried): (Vec<&KeptPart>, Vec<&KeptPart>) = s.kept.iter().partition(|k| !k.why.starts_with("not tried"));
    let mut out = format!(
        "The shrunk plan still has {} steps and {} files. Each line is a one-step cut the shrinker tried or could not try:\n\n",
        s.plan.steps.len(),
        s.plan.files_written()
    );
    for k in tried.iter().chain(untried.iter()).take(40) {
        let _ = writeln!(out, "- {}: {}", k.what, k.why);
    }
    if s.kept.len() > 40 {
        let _ = writeln!(out, "- ... and {} more", s.kept.len() - 40);
    }
    out
}

fn files(logs: &[String]) -> String {
    let mut out = String::from(
        "- `bug.json`: this bug as data\n- `shrunk-plan.json` / `.txt`: the plan `replay` runs\n\
         - `original-plan.json` / `.txt`: the generated plan\n- `findings.txt` / `.json`: findings of both runs\n\
         - `report.json`, `original-report.json`: full case reports (every invocation, observation, kill)\n\
         - `s3-listing.txt`: the objects under the case's S3 prefix\n- `tree-diff.txt`: tree differences of the findings\n",
    );
    let _ = writeln!(out, "- `logs/`: {} tool log file(s){}", logs.len(), if logs.is_empty() { "" } else { ":" });
    for l in logs {
        let _ = writeln!(out, "  - `{l}`");
    }
    out
}
