//! What happens to a failing case: shrink it, run the shrunk plan once more with its area
//! kept (for the tool's logs and a real S3 listing, then discard it), write the bug
//! folder, and append the seed to the regressions file. A harness error is filed as
//! such (its own folder, no shrinking, no regression entry): it is the tester's fault.

use std::collections::BTreeMap;

use super::bugbase::{self, Bug, BugMeta, Evidence, PlanSize, BUG_FORMAT};
use super::progress::Progress;
use super::record::FailureRecord;
use super::regressions::{self, Entry};
use super::run::{CampaignSpec, Job};
use super::runner::CaseRunner;
use super::shrink::{shrink, Shrunk, ShrinkTarget};
use super::verdict::{first_of, reproduces};
use crate::engine::{CaseOptions, CaseReport};
use crate::gen::plan::Plan;
use crate::gen::PlanTree;
use crate::oracle::finding::{Property, Severity};
use crate::tool::signals;

/// A case that failed.
pub struct Failing<'a> {
    pub job: &'a Job,
    pub plan: &'a Plan,
    pub report: &'a CaseReport,
    pub property: Property,
    pub severity: Severity,
}

/// Shrinks, records and files one failing case.
pub fn file_failure<R: CaseRunner + ?Sized>(
    runner: &R,
    spec: &CampaignSpec,
    f: &Failing,
    tree: PlanTree,
    progress: &dyn Progress,
) -> FailureRecord {
    let target = ShrinkTarget { property: f.property, fail_on: spec.profile.fail_on.clone() };
    let opts = spec.case_options();
    let shrunk = shrink(runner, f.plan, f.report.clone(), Some(tree), &target, spec.profile.shrink, &opts);
    let evidence = (!signals::interrupted()).then(|| record_run(runner, &shrunk.plan, &opts, &target));
    let message = first_of(&shrunk.report, f.property, &target.fail_on).map_or_else(String::new, ToString::to_string);
    let meta = meta(spec, f.job, f.plan, Some((f.property, f.severity)), message.clone(), None, Some(&shrunk));
    let bug = Bug { meta, original: f.plan, original_report: f.report, shrunk: Some(&shrunk), evidence };
    let (mut out, evidence) = file(spec, bug, progress);
    if let Some(e) = evidence {
        if let Err(problem) = runner.discard(&e.report) {
            out.problems.push(problem);
        }
    }
    out.shrunk = Some(PlanSize::of(&shrunk.plan));
    out.shrink = Some(shrunk.stats.clone());
    if spec.record_regressions {
        match regressions::append(&spec.profile.regressions, &entry(spec, f.job, f.property)) {
            Ok(added) => out.regression_added = added,
            Err(e) => out.problems.push(e.to_string()),
        }
    }
    out
}

/// Files a harness error: its folder, with the plan and the report, not shrunk.
pub fn file_harness_error(spec: &CampaignSpec, job: &Job, plan: &Plan, report: &CaseReport, progress: &dyn Progress) -> FailureRecord {
    let error = report.harness_error.clone().unwrap_or_default();
    let meta = meta(spec, job, plan, None, format!("harness error: {error}"), Some(error), None);
    let bug = Bug { meta, original: plan, original_report: report, shrunk: None, evidence: None };
    file(spec, bug, progress).0
}

/// The shrunk plan run once more with its area kept; the caller discards it.
fn record_run<R: CaseRunner + ?Sized>(runner: &R, plan: &Plan, opts: &CaseOptions, target: &ShrinkTarget) -> Evidence {
    let opts = CaseOptions { keep_area: true, case_id: None, ..opts.clone() };
    let report = runner.run(plan, &opts);
    let listing = runner.list_prefix(&report.prefix);
    let reproduced = reproduces(&report, target.property, &target.fail_on);
    Evidence { report, listing, reproduced }
}

/// Claims the folder, writes the bug and reports where; returns the evidence to discard.
fn file(spec: &CampaignSpec, mut bug: Bug, progress: &dyn Progress) -> (FailureRecord, Option<Evidence>) {
    let name = bugbase::folder_name(bug.original, bug.meta.property);
    let mut problems = Vec::new();
    let dir = match bugbase::claim_folder(&spec.bugs_dir, &name) {
        Ok(dir) => Some(dir),
        Err(e) => {
            problems.push(format!("creating the bug folder {name} in {}: {e}", spec.bugs_dir.display()));
            None
        }
    };
    bug.meta.replay = match &dir {
        Some(d) => spec.commands.replay_dir(d),
        None => bug.meta.replay_seed.clone().unwrap_or_default(),
    };
    bug.meta.last_run_reproduced = bug.evidence.as_ref().map_or(bug.shrunk.is_some(), |e| e.reproduced);
    if let Some(d) = &dir {
        match bugbase::write_bug(d, &bug) {
            Ok(()) => progress.note(&format!("bug folder: {}", d.display())),
            Err(e) => problems.push(format!("writing the bug folder {}: {e}", d.display())),
        }
    }
    let record = FailureRecord {
        property: bug.meta.property,
        severity: bug.meta.severity,
        message: bug.meta.message.clone(),
        bug_dir: dir,
        replay: bug.meta.replay.clone(),
        original: bug.meta.original,
        shrunk: None,
        shrink: None,
        regression_added: false,
        duplicate_of: None,
        problems,
    };
    (record, bug.evidence)
}

/// Records a failure on a property an earlier case of this run already filed: no
/// shrink, no folder; its replay command regenerates the case from its seed.
pub fn duplicate(spec: &CampaignSpec, f: &Failing, first: String) -> FailureRecord {
    let message = first_of(f.report, f.property, &spec.profile.fail_on).map_or_else(String::new, ToString::to_string);
    FailureRecord {
        property: Some(f.property),
        severity: Some(f.severity),
        message,
        bug_dir: None,
        replay: spec.commands.replay_seed(f.job.seed, f.job.case, &f.job.profile),
        original: PlanSize::of(f.plan),
        shrunk: None,
        shrink: None,
        regression_added: false,
        duplicate_of: Some(first),
        problems: Vec::new(),
    }
}

fn meta(
    spec: &CampaignSpec,
    job: &Job,
    plan: &Plan,
    failure: Option<(Property, Severity)>,
    message: String,
    harness_error: Option<String>,
    shrunk: Option<&Shrunk>,
) -> BugMeta {
    BugMeta {
        format: BUG_FORMAT,
        seed: Some(job.seed),
        case: Some(job.case),
        profile: job.profile.clone(),
        property: failure.map(|f| f.0),
        severity: failure.map(|f| f.1),
        message,
        harness_error,
        fail_on: spec.profile.fail_on.iter().copied().collect(),
        found_at: now(),
        env: spec.commands.env.clone(),
        original: PlanSize::of(plan),
        shrunk: PlanSize::of(shrunk.map_or(plan, |s| &s.plan)),
        shrink: shrunk.map(|s| s.stats.clone()),
        last_run_reproduced: false,
        replay: String::new(),
        replay_seed: Some(spec.commands.replay_seed(job.seed, job.case, &job.profile)),
    }
}

/// The regressions entry of a failing case: `seed S case N profile P # P7 name, date, env`.
fn entry(spec: &CampaignSpec, job: &Job, property: Property) -> Entry {
    let env: BTreeMap<&String, &String> = spec.commands.env.iter().filter(|(k, _)| k.as_str() != "B2S3_VENV").collect();
    let mut note = format!("{} {}, {}", property.id(), property.name(), &now()[..10]);
    for (k, v) in env {
        note.push_str(&format!(", {k}={v}"));
    }
    Entry { seed: job.seed, case: job.case, profile: job.profile.clone(), note }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
