//! The campaign loop: replay the regressions file's entries first, then this shard's
//! cases of the profile, on `workers` threads sharing one [`CaseRunner`]. A worker takes
//! the next job while the time budget lasts and no Ctrl-C came; a case already running
//! finishes (on Ctrl-C the runner kills its tools and reports it interrupted), and a
//! failing case is shrunk and filed in the bug base by the worker that ran it
//! (`failure`). The loop collects a [`CaseRecord`] per finished case for the reports.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use super::command_line::CommandLine;
use super::failure;
use super::profile::CampaignProfile;
use super::progress::Progress;
use super::record::CaseRecord;
use super::runner::CaseRunner;
use super::shard::Shard;
use super::verdict::{judge, Verdict};
use crate::engine::CaseOptions;
use crate::gen::{GenProfile, PlanTree};
use crate::oracle::finding::Property;
use crate::tool::signals;

/// The first failing case of each property in this run (only that one is shrunk).
type Claims = Mutex<BTreeMap<Property, String>>;

/// After this many harness errors in a row no new case starts: the fixture or the S3
/// server is broken (a full disk, a dead server) and every further case would fail too.
pub const HARNESS_ERRORS_IN_A_ROW: usize = 3;

/// What the workers share.
struct Shared<'j> {
    jobs: &'j [Job],
    next: AtomicUsize,
    claims: Claims,
    harness_errors_in_a_row: AtomicUsize,
}

/// One case to run: generated from `(seed, case, gen)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub seed: u64,
    pub case: u64,
    pub profile: String,
    pub gen: GenProfile,
    pub regression: bool,
}

/// Everything a campaign needs besides the runner.
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    pub profile: CampaignProfile,
    pub seed: u64,
    pub shard: Shard,
    /// `<run_dir>/bugs`.
    pub bugs_dir: PathBuf,
    pub commands: CommandLine,
    /// Regression entries to replay before the profile's cases.
    pub regressions: Vec<Job>,
    /// Append failing cases to `profile.regressions`.
    pub record_regressions: bool,
}

impl CampaignSpec {
    /// The regressions first, then this shard's slice of `0..profile.cases`.
    pub fn jobs(&self) -> Vec<Job> {
        let cases = self.shard.cases(self.profile.cases).map(|case| Job {
            seed: self.seed,
            case,
            profile: self.profile.name.clone(),
            gen: self.profile.gen.clone(),
            regression: false,
        });
        self.regressions.iter().cloned().chain(cases).collect()
    }

    /// How each case runs.
    pub fn case_options(&self) -> CaseOptions {
        CaseOptions {
            time_limit: self.profile.case_time_limit,
            keep_area: false,
            case_id: None,
            strict_hygiene: self.profile.strict_hygiene,
        }
    }
}

/// What a campaign did.
#[derive(Debug, Clone)]
pub struct CampaignResult {
    /// Finished cases: regressions first, then by case number.
    pub records: Vec<CaseRecord>,
    pub planned: usize,
    pub elapsed: Duration,
    pub interrupted: bool,
    /// Cases never started because the time budget ran out.
    pub out_of_time: usize,
    /// Why no further case was started before the end, if the campaign gave up.
    pub stopped_early: Option<String>,
}

impl CampaignResult {
    pub fn failures(&self) -> impl Iterator<Item = &CaseRecord> {
        self.records.iter().filter(|r| r.failure.is_some())
    }
}

/// Runs the campaign to its end (all jobs, the time budget, or Ctrl-C).
pub fn run<R: CaseRunner + ?Sized>(runner: &R, spec: &CampaignSpec, progress: &dyn Progress) -> CampaignResult {
    let jobs = spec.jobs();
    let t0 = Instant::now();
    let shared = Shared { jobs: &jobs, next: AtomicUsize::new(0), claims: Claims::default(), harness_errors_in_a_row: AtomicUsize::new(0) };
    progress.started(jobs.len());
    let (tx, rx) = mpsc::channel::<CaseRecord>();
    let mut records = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..spec.profile.workers.clamp(1, jobs.len().max(1)) {
            let (tx, shared) = (tx.clone(), &shared);
            scope.spawn(move || {
                while let Some(job) = take(shared, t0, spec) {
                    let record = run_job(runner, spec, job, &shared.claims, progress);
                    let broken = matches!(record.verdict, Verdict::HarnessError(_));
                    match broken {
                        true => shared.harness_errors_in_a_row.fetch_add(1, Ordering::SeqCst),
                        false => shared.harness_errors_in_a_row.swap(0, Ordering::SeqCst),
                    };
                    if tx.send(record).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for record in rx {
            progress.case_done(&record);
            records.push(record);
        }
    });
    progress.finish();
    finish(records, &shared, t0)
}

fn finish(mut records: Vec<CaseRecord>, shared: &Shared, t0: Instant) -> CampaignResult {
    records.sort_by_key(|r| (!r.regression, r.case, r.seed));
    let planned = shared.jobs.len();
    let started = shared.next.load(Ordering::SeqCst).min(planned);
    let interrupted = signals::interrupted() || records.iter().any(|r| r.verdict == Verdict::Interrupted);
    let broken = shared.harness_errors_in_a_row.load(Ordering::SeqCst) >= HARNESS_ERRORS_IN_A_ROW;
    let stopped_early = (broken && started < planned)
        .then(|| format!("{HARNESS_ERRORS_IN_A_ROW} harness errors in a row: the fixture or the S3 endpoint is broken; fix it (see the errors) before running again"));
    let not_started = if interrupted || stopped_early.is_some() { 0 } else { planned - started };
    CampaignResult { records, planned, elapsed: t0.elapsed(), interrupted, out_of_time: not_started, stopped_early }
}

/// The next job, unless the budget is spent, Ctrl-C came or the harness is broken.
fn take<'j>(shared: &Shared<'j>, t0: Instant, spec: &CampaignSpec) -> Option<&'j Job> {
    let broken = shared.harness_errors_in_a_row.load(Ordering::SeqCst) >= HARNESS_ERRORS_IN_A_ROW;
    if broken || signals::interrupted() || t0.elapsed() >= spec.profile.time_budget {
        return None;
    }
    let i = shared.next.fetch_add(1, Ordering::SeqCst);
    shared.jobs.get(i)
}

/// Runs one job; the first failure of each property is shrunk and filed before the
/// record is returned, later ones are recorded as duplicates.
fn run_job<R: CaseRunner + ?Sized>(
    runner: &R,
    spec: &CampaignSpec,
    job: &Job,
    claims: &Claims,
    progress: &dyn Progress,
) -> CaseRecord {
    let tree = PlanTree::new(job.seed, job.case, &job.gen);
    let plan = tree.current();
    let report = runner.run(&plan, &spec.case_options());
    let verdict = judge(&report, &spec.profile.fail_on);
    let mut record = CaseRecord::new(job.seed, job.case, &job.profile, job.regression, &report, verdict.clone());
    record.failure = match verdict {
        Verdict::Fail { property, severity } => {
            let failing = failure::Failing { job, plan: &plan, report: &report, property, severity };
            let first = claims.lock().unwrap_or_else(|p| p.into_inner()).entry(property).or_insert_with(|| record.label()).clone();
            if first != record.label() {
                return CaseRecord { failure: Some(failure::duplicate(spec, &failing, first)), ..record };
            }
            progress.note(&format!(
                "{}: {} {} failed; shrinking (at most {} runs, {} s)",
                record.label(),
                property.id(),
                property.name(),
                spec.profile.shrink.max_runs,
                spec.profile.shrink.max_time.as_secs()
            ));
            Some(failure::file_failure(runner, spec, &failing, tree, progress))
        }
        Verdict::HarnessError(_) => Some(failure::file_harness_error(spec, job, &plan, &report, progress)),
        Verdict::Pass | Verdict::Interrupted => None,
    };
    record
}
