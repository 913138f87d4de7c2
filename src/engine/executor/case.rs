//! One case from set-up to report: the [`CaseRun`] state (case area, model trees and
//! expected backups, the history, the observer and the invoker) and the step loop. The
//! step kinds live in their own modules (`mutate`, `backup`, `contend`, `restore`,
//! `antagonist`, `finish`); this one owns the order, the shared helpers (observe,
//! record an invocation, absorb a verdict without repeating a finding) and the
//! teardown, which runs whatever happened.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use super::engine::Engine;
use super::invoke::{clean_failure, metrics, Invoker, Ran};
use super::observe::Observer;
use super::options::CaseOptions;
use super::report::{CaseReport, Durations, InvocationMetrics, LeftoverSummary};
use super::restore::Interrupted;
use super::{Abort, Flow};
use crate::engine::history::{History, Observation, ObservedAt, StepRecord};
use crate::engine::judge::{Undecided, Verdict};
use crate::engine::killpoint::PhaseCounts;
use crate::fixture::tree::Tree;
use crate::fixture::CaseArea;
use crate::gen::plan::{Plan, Step, ToolSettings};
use crate::model::history::History as ExpectedBackups;
use crate::model::ModelTree;
use crate::oracle::finding::Finding;
use crate::oracle::store::StoreExpect;
use crate::tool::signals;
use crate::tool::toolconfig::{ToolConfigSpec, DEFAULT_LOG_LEVEL};

/// The state of one running case.
pub(super) struct CaseRun<'e, 's> {
    pub engine: &'e Engine<'s>,
    pub plan: &'e Plan,
    /// The tool settings in force: the plan's, until a reconfiguration step changes
    /// them (and rewrites the tool config) for the invocations after it.
    pub tool: ToolSettings,
    pub id: String,
    /// The case's S3 prefix, with its trailing `/`.
    pub prefix: String,
    pub area: CaseArea,
    /// Subvolume names in config order.
    pub configured: Vec<String>,
    pub models: BTreeMap<String, ModelTree>,
    /// What every published backup must restore to.
    pub expected: ExpectedBackups,
    pub history: History,
    pub observer: Observer<'e>,
    pub invoker: Invoker<'e>,
    /// The latest observation.
    pub last: Observation,
    /// Subvolumes whose last backup was interrupted, with both candidate trees (P3).
    pub interrupted: BTreeMap<String, Interrupted>,
    /// Subvolumes whose expected backups the model lost track of, and why.
    pub tainted: BTreeMap<String, String>,
    /// Subvolumes whose `current.json` was restored and compared since their last backup.
    pub verified: BTreeSet<String>,
    pub kill_phases: PhaseCounts,
    pub metrics: Vec<InvocationMetrics>,
    pub notes: Vec<String>,
    pub leftovers: Option<LeftoverSummary>,
    /// Findings and undecided checks made after the last step (leftovers, the final
    /// observation), reported with no step.
    pub end_findings: Vec<Finding>,
    pub end_undecided: Vec<Undecided>,
    t0: Instant,
    started_at: DateTime<Utc>,
}

/// Runs `plan` as one case and reports.
pub(super) fn run(engine: &Engine, plan: &Plan, opts: &CaseOptions) -> CaseReport {
    let t0 = Instant::now();
    let id = opts
        .case_id
        .clone()
        .unwrap_or_else(|| engine.new_case_id(plan));
    let mut durations = Durations::default();
    let mut case = match CaseRun::set_up(engine, plan, opts, &id, t0) {
        Ok(case) => case,
        Err(abort) => return early_report(engine, plan, opts, &id, abort, t0),
    };
    durations.setup_ms = ms(t0.elapsed());
    let mut outcome = case.run_steps(&mut durations);
    if outcome.is_ok() {
        let start = Instant::now();
        outcome = super::finish::finish(&mut case);
        durations.finish_ms = ms(start.elapsed());
    }
    case.close(outcome, opts, durations)
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// The report of a case that could not even be set up.
fn early_report(
    engine: &Engine,
    plan: &Plan,
    opts: &CaseOptions,
    id: &str,
    abort: Abort,
    t0: Instant,
) -> CaseReport {
    let mut report = CaseReport::new(id, &engine.case_prefix(id), plan, opts.strict_hygiene);
    report.durations.total_ms = ms(t0.elapsed());
    apply_abort(&mut report, abort);
    report
}

fn apply_abort(report: &mut CaseReport, abort: Abort) {
    match abort {
        Abort::Harness(e) => report.harness_error = Some(e),
        Abort::Interrupted => report.interrupted = true,
        Abort::TimeLimit(why) => report.stopped = Some(why),
    }
}

impl<'e, 's> CaseRun<'e, 's> {
    fn set_up(
        engine: &'e Engine<'s>,
        plan: &'e Plan,
        opts: &CaseOptions,
        id: &str,
        t0: Instant,
    ) -> Flow<Self> {
        let configured: Vec<String> = plan.subvolumes.iter().map(|s| s.name.clone()).collect();
        let session = engine.session();
        let area = CaseArea::create(&session.fixture, id, &configured)
            .map_err(|e| Abort::harness(format!("creating the case area {id}"), e))?;
        match Self::with_area(engine, plan, opts, id, t0, area.clone(), configured) {
            Ok(case) => Ok(case),
            Err(abort) => {
                let _ = area.destroy();
                Err(abort)
            }
        }
    }

    fn with_area(
        engine: &'e Engine<'s>,
        plan: &'e Plan,
        opts: &CaseOptions,
        id: &str,
        t0: Instant,
        area: CaseArea,
        configured: Vec<String>,
    ) -> Flow<Self> {
        let prefix = engine.case_prefix(id);
        let config = &engine.session().config;
        write_tool_config(engine, &plan.tool, &area, &prefix)?;
        ensure_empty(engine, &prefix)?;
        let observer = Observer::new(
            engine.client(),
            store_expect(plan, &prefix, &configured),
            area.state_path(),
            area.lock_path(),
            area.snapshots_dir(),
        );
        let case_start = SystemTime::now() - t0.elapsed();
        let deadline = t0 + opts.time_limit;
        let invoker = Invoker::new(
            &config.tool,
            area.config_path(),
            engine.tool_env(),
            area.logs_dir(),
            case_start,
            deadline,
        );
        let mut case = CaseRun {
            engine,
            plan,
            tool: plan.tool.clone(),
            id: id.to_string(),
            last: Observation::empty(ObservedAt::BeforeStep, 0, &prefix),
            prefix,
            area,
            configured,
            models: BTreeMap::new(),
            expected: ExpectedBackups::new(),
            history: History::default(),
            observer,
            invoker,
            interrupted: BTreeMap::new(),
            tainted: BTreeMap::new(),
            verified: BTreeSet::new(),
            kill_phases: PhaseCounts::default(),
            metrics: Vec::new(),
            notes: Vec::new(),
            leftovers: None,
            end_findings: Vec::new(),
            end_undecided: Vec::new(),
            t0,
            started_at: DateTime::<Utc>::from(case_start),
        };
        super::mutate::build_initial_trees(&mut case)?;
        Ok(case)
    }

    fn run_steps(&mut self, durations: &mut Durations) -> Flow {
        for (index, step) in self.plan.steps.iter().enumerate() {
            self.checkpoint()?;
            let start = Instant::now();
            let mut rec = StepRecord::new(index, step.clone());
            let result = self.step(&mut rec, step);
            self.history.steps.push(rec);
            durations.steps_ms.push(ms(start.elapsed()));
            result?;
        }
        Ok(())
    }

    fn step(&mut self, rec: &mut StepRecord, step: &Step) -> Flow {
        match step {
            Step::Mutate { subvolume, ops } => super::mutate::mutate(self, rec, subvolume, ops),
            Step::Backup(b) => super::backup::backup_step(self, rec, b),
            Step::Restore(r) => super::restore::restore_step(self, rec, r),
            Step::ForceFull { subvolume } => super::antagonist::force_full(self, rec, subvolume),
            Step::DeleteSnapshot { subvolume, which } => {
                super::antagonist::delete_snapshot(self, rec, subvolume, *which)
            }
            Step::DeleteState => super::antagonist::delete_state(self, rec),
            Step::ChunkSizeFromLastFull { subvolume, parts } => {
                super::reconfigure::chunk_size_from_last_full(self, rec, subvolume, *parts)
            }
        }
    }

    /// Milliseconds since the case started.
    pub fn now_ms(&self) -> u64 {
        ms(self.t0.elapsed())
    }

    /// When the case started, for the planner's clock.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Stops the case on Ctrl-C or when its time is up.
    pub fn checkpoint(&self) -> Flow {
        if signals::interrupted() {
            return Err(Abort::Interrupted);
        }
        if Instant::now() >= self.invoker.deadline() {
            let limit = self.invoker.deadline().duration_since(self.t0);
            return Err(Abort::TimeLimit(format!(
                "the case's time limit of {} s ran out",
                limit.as_secs()
            )));
        }
        Ok(())
    }

    /// Sleeps `ms`, waking up for Ctrl-C.
    pub fn pause(&self, ms: u64) -> Flow {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            self.checkpoint()?;
            std::thread::sleep(
                until
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(20)),
            );
        }
        Ok(())
    }

    /// Takes an observation, records it in the step and returns it.
    pub fn observe(&mut self, rec: &mut StepRecord, at: ObservedAt) -> Flow<Observation> {
        let at_ms = self.now_ms();
        let observed = self.observer.observe(at, at_ms, rec.index)?;
        rec.undecided.extend(observed.undecided);
        rec.observations.push(observed.observation.clone());
        self.last = observed.observation.clone();
        Ok(observed.observation)
    }

    /// Records a finished invocation in the step (with its P10 findings and metrics)
    /// and returns its index there. A hung tool ends the case after it is recorded.
    pub fn record_invocation(&mut self, rec: &mut StepRecord, ran: &Ran) -> usize {
        rec.invocations.push(ran.record.clone());
        self.metrics.push(metrics(rec.index, &ran.record));
        let p10 = clean_failure(rec.index, ran);
        self.add_findings(rec, p10);
        rec.invocations.len() - 1
    }

    /// Ends the case if the invocation was killed by the time limit or by Ctrl-C.
    pub fn stop_if_cut_short(&self, ran: &Ran) -> Flow {
        use crate::tool::runner::KillReason;
        match &ran.outcome.killed {
            Some(KillReason::Interrupted) => Err(Abort::Interrupted),
            Some(KillReason::Timeout { .. }) => Err(Abort::TimeLimit(format!(
                "the tool hung; killed after {} s",
                ran.timeout.as_secs()
            ))),
            _ => Ok(()),
        }
    }

    /// Adds findings not reported before.
    pub fn add_findings(&mut self, rec: &mut StepRecord, findings: Vec<Finding>) {
        for f in findings {
            if self.observer.first_time_finding(&f) {
                rec.findings.push(f);
            }
        }
    }

    /// Adds a check's verdict (findings not reported before, undecided checks, notes).
    pub fn absorb(&mut self, rec: &mut StepRecord, verdict: Verdict) {
        self.add_findings(rec, verdict.findings);
        rec.undecided.extend(verdict.undecided);
        rec.notes.extend(verdict.notes);
    }

    /// The model's backup view of a subvolume now.
    pub fn backup_view(&self, subvolume: &str) -> Tree {
        self.models
            .get(subvolume)
            .map(ModelTree::backup_view)
            .unwrap_or_default()
    }

    /// Puts `settings` in force: the tool config the next invocations read, and what
    /// the store checks expect of the manifests written from now on.
    pub fn reconfigure(&mut self, settings: ToolSettings) -> Flow {
        write_tool_config(self.engine, &settings, &self.area, &self.prefix)?;
        self.observer.set_chunk_size(settings.chunk_size_bytes);
        self.tool = settings;
        Ok(())
    }

    /// Marks a subvolume as one whose expected backups are no longer known.
    pub fn taint(&mut self, subvolume: &str, why: String) {
        self.tainted.entry(subvolume.to_string()).or_insert(why);
    }

    fn close(mut self, outcome: Flow, opts: &CaseOptions, mut durations: Durations) -> CaseReport {
        let teardown = Instant::now();
        let mut findings: Vec<Finding> = self.history.findings().cloned().collect();
        findings.append(&mut self.end_findings);
        let mut undecided: Vec<Undecided> = self.history.undecided().cloned().collect();
        undecided.append(&mut self.end_undecided);
        let mut report = CaseReport::new(&self.id, &self.prefix, self.plan, opts.strict_hygiene);
        report.findings = findings;
        report.undecided = undecided;
        report.history = std::mem::take(&mut self.history);
        report.kill_phases = self.kill_phases.clone();
        report.metrics = std::mem::take(&mut self.metrics);
        report.leftovers = self.leftovers.take();
        if let Err(abort) = outcome {
            apply_abort(&mut report, abort);
        }
        self.tear_down(opts, &mut report);
        report.notes.extend(std::mem::take(&mut self.notes));
        durations.teardown_ms = ms(teardown.elapsed());
        durations.total_ms = ms(self.t0.elapsed());
        report.durations = durations;
        report
    }

    /// Keeps or destroys the area and the case's S3 objects; keeps the tool logs of a
    /// case that did not pass.
    fn tear_down(&mut self, opts: &CaseOptions, report: &mut CaseReport) {
        let passed = report.exit_code() == crate::exit::OK;
        let logs: Vec<_> = self.invoker.logs.clone();
        if opts.keep_area {
            report.kept_area = [
                self.area.source_dir(),
                self.area.restore_dir(),
                self.area.scratch_dir(),
            ]
            .iter()
            .map(|p| p.display().to_string())
            .collect();
            report.notes.push(format!(
                "case area and S3 objects under {} kept",
                self.prefix
            ));
            report.tool_logs = logs.iter().map(|p| p.display().to_string()).collect();
            return;
        }
        report.tool_logs = if passed {
            Vec::new()
        } else {
            self.preserve_logs(&logs)
        };
        if let Err(e) = self.area.clone().destroy() {
            report
                .harness_error
                .get_or_insert(format!("destroying the case area: {e}"));
        }
        if let Err(e) = self.engine.client().cleanup_prefix(&self.prefix, true) {
            report
                .harness_error
                .get_or_insert(format!("deleting the case's S3 objects: {e}"));
        }
    }

    /// Copies the tool logs to `<logs_dir>/cases/<id>/` before the area goes.
    fn preserve_logs(&mut self, logs: &[std::path::PathBuf]) -> Vec<String> {
        let dir = self
            .engine
            .session()
            .config
            .paths
            .logs_dir
            .join("cases")
            .join(&self.id);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            self.notes.push(format!(
                "tool logs not kept: creating {}: {e}",
                dir.display()
            ));
            return Vec::new();
        }
        logs.iter()
            .filter_map(|p| {
                let to = dir.join(p.file_name()?);
                std::fs::copy(p, &to).ok().map(|_| to.display().to_string())
            })
            .collect()
    }
}

/// A case prefix must start empty: anything there would be judged as the tool's.
fn ensure_empty(engine: &Engine, prefix: &str) -> Flow {
    let listed = crate::s3::view::StoreView::list(engine.client(), prefix)
        .map_err(|e| Abort::harness(format!("listing {prefix}"), e))?;
    match listed.first() {
        None => Ok(()),
        Some(first) => Err(Abort::Harness(format!(
            "the case prefix {prefix} is not empty (first key {})",
            first.key
        ))),
    }
}

/// What the store of this case must look like (CONTRACT.md 10 and 11).
fn store_expect(plan: &Plan, prefix: &str, configured: &[String]) -> StoreExpect {
    StoreExpect {
        prefix: prefix.to_string(),
        subvolumes: configured.to_vec(),
        chunk_size: plan.tool.chunk_size_bytes,
        storage_class_chunks: plan.tool.storage_class_chunks.clone(),
        storage_class_manifest: plan.tool.storage_class_manifest.clone(),
        sse: plan.tool.sse.clone(),
    }
}

/// Writes the case's tool config with these settings.
fn write_tool_config(
    engine: &Engine,
    settings: &ToolSettings,
    area: &CaseArea,
    prefix: &str,
) -> Flow {
    tool_spec(engine, settings, area, prefix)
        .write(&area.config_path())
        .map_err(|e| Abort::harness("writing the case's tool config", e))
}

/// The tool config of a case: its subvolumes, snapshots dir, state, lock and spool in
/// the case area, the case prefix, and the settings in force.
fn tool_spec(
    engine: &Engine,
    settings: &ToolSettings,
    area: &CaseArea,
    prefix: &str,
) -> ToolConfigSpec {
    let config = &engine.session().config;
    ToolConfigSpec {
        subvolume_paths: area.subvolumes().iter().map(|(_, p)| p.clone()).collect(),
        snapshots_dir: area.snapshots_dir(),
        state_path: area.state_path(),
        lock_path: area.lock_path(),
        spool_dir: area.spool_dir(),
        restore_target_base_dir: area.restore_dir().to_path_buf(),
        log_level: DEFAULT_LOG_LEVEL.to_string(),
        bucket: config.s3.bucket.clone(),
        region: config.s3.region.clone(),
        prefix: prefix.trim_end_matches('/').to_string(),
        restore_tier: config.restore.restore_tier.clone(),
        settings: settings.clone(),
    }
}
