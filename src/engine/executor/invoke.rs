//! One tool invocation of a case: the argv and environment (the case's tool config, the
//! engine's S3 environment), log files under the case's logs dir, the kill plan handed
//! to `tool::runner`, and the conversion of the runner's outcome into the history's
//! [`Invocation`] record (times from the start of the case, the kill aimed and sent,
//! events). Preparing and recording need the case; running does not, so two
//! invocations can run at once from different threads (contender pairs).
//!
//! It also holds the per-invocation checks that need only the invocation itself: P10
//! (exit codes, error lines, tracebacks) and the hang check against the time limit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime};

use super::report::{role_name, InvocationMetrics, SubvolumeMetrics};
use super::{Abort, Flow};
use crate::config::ToolSection;
use crate::engine::history::{
    EventRecord, Invocation, KillReason, KillRecord, Role, Termination, ToolCommand,
};
use crate::gen::plan::KillPoint;
use crate::oracle::events::{check_invocation, InvocationOutcome, LogEvent};
use crate::oracle::finding::{Finding, Property};
use crate::tool::runner::{self, KillSwitch, KillTrigger, Outcome, RunSpec};
use crate::tool::{Event, InvocationBuilder, ToolArgs};

/// The shortest timeout an invocation gets, even when the case is nearly out of time.
const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// What to run and how to stop it.
pub(super) struct Launch {
    pub role: Role,
    pub args: ToolArgs,
    pub kill: Option<KillTrigger>,
    pub switch: Option<KillSwitch>,
    pub live: Option<Sender<Event>>,
    /// The plan's kill point, for the record.
    pub aimed: Option<KillPoint>,
}

impl Launch {
    pub fn new(role: Role, args: ToolArgs) -> Launch {
        Launch {
            role,
            args,
            kill: None,
            switch: None,
            live: None,
            aimed: None,
        }
    }
}

/// A prepared run: the runner's spec and what the record needs afterwards.
pub(super) struct Prepared {
    pub spec: RunSpec,
    meta: Meta,
}

pub(super) struct Meta {
    role: Role,
    argv: Vec<String>,
    command: ToolCommand,
    aimed: Option<KillPoint>,
    timeout: Duration,
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub(super) struct Ran {
    pub record: Invocation,
    pub outcome: Outcome,
    /// The stderr log's text.
    pub stderr: String,
    pub timeout: Duration,
}

impl Ran {
    /// The plan's fault killed it (not the time limit, not Ctrl-C).
    pub fn killed_by_fault(&self) -> bool {
        self.record
            .kill
            .as_ref()
            .is_some_and(|k| k.reason == KillReason::Fault)
    }

    pub fn timed_out(&self) -> bool {
        matches!(
            self.outcome.killed,
            Some(runner::KillReason::Timeout { .. })
        ) && self.record.was_signalled()
    }
}

/// Builds, runs and records the invocations of one case.
pub(super) struct Invoker<'e> {
    tool: &'e ToolSection,
    config_path: PathBuf,
    env: BTreeMap<String, String>,
    logs_dir: PathBuf,
    case_start: SystemTime,
    deadline: Instant,
    count: usize,
    pub logs: Vec<PathBuf>,
}

impl<'e> Invoker<'e> {
    pub fn new(
        tool: &'e ToolSection,
        config_path: PathBuf,
        env: BTreeMap<String, String>,
        logs_dir: PathBuf,
        case_start: SystemTime,
        deadline: Instant,
    ) -> Invoker<'e> {
        Invoker {
            tool,
            config_path,
            env,
            logs_dir,
            case_start,
            deadline,
            count: 0,
            logs: Vec::new(),
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The spec of one run at plan step `step`, with log files named after it.
    pub fn prepare(&mut self, step: usize, launch: Launch) -> Prepared {
        self.count += 1;
        let command = match launch.args {
            ToolArgs::Restore(_) => ToolCommand::Restore,
            _ => ToolCommand::Backup,
        };
        let stem = format!("{:03}-step{step}-{}", self.count, role_name(launch.role));
        let (stdout, stderr) = (
            self.logs_dir.join(format!("{stem}.stdout.log")),
            self.logs_dir.join(format!("{stem}.stderr.log")),
        );
        self.logs.extend([stdout.clone(), stderr.clone()]);
        let invocation = InvocationBuilder::new(self.tool, &self.config_path)
            .args(&launch.args)
            .s3_env(self.env.clone())
            .build();
        let argv = invocation.argv().into_iter().map(str::to_string).collect();
        let timeout = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(MIN_TIMEOUT);
        let mut spec = RunSpec::new(invocation, &stdout, &stderr, timeout);
        spec.kill = launch.kill;
        spec.switch = launch.switch;
        spec.live = launch.live;
        Prepared {
            spec,
            meta: Meta {
                role: launch.role,
                argv,
                command,
                aimed: launch.aimed,
                timeout,
            },
        }
    }

    /// Prepares and runs in this thread.
    pub fn run(&mut self, step: usize, launch: Launch) -> Flow<Ran> {
        let prepared = self.prepare(step, launch);
        let done = execute(prepared);
        self.record(done)
    }

    /// Turns a finished run into the history's record.
    pub fn record(&self, done: Executed) -> Flow<Ran> {
        let (meta, outcome) = done?;
        if outcome.exit_code.is_none() && outcome.signal.is_none() {
            return Err(Abort::Harness(format!(
                "the tool's exit status could not be collected (process group {})",
                outcome.pgid
            )));
        }
        let stderr =
            String::from_utf8_lossy(&std::fs::read(&outcome.stderr_log).unwrap_or_default())
                .into_owned();
        let record = to_record(&meta, &outcome, self.case_start);
        Ok(Ran {
            record,
            outcome,
            stderr,
            timeout: meta.timeout,
        })
    }
}

/// A run's meta data and outcome, or why it could not start.
pub(super) type Executed = Result<(Meta, Outcome), Abort>;

/// Runs a prepared invocation to its end (any thread).
pub(super) fn execute(prepared: Prepared) -> Executed {
    let Prepared { spec, meta } = prepared;
    match runner::run(spec) {
        Ok(outcome) => Ok((meta, outcome)),
        Err(runner::RunError::Interrupted { .. }) => Err(Abort::Interrupted),
        Err(e) => Err(Abort::harness("running the tool", e)),
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

fn to_record(meta: &Meta, outcome: &Outcome, case_start: SystemTime) -> Invocation {
    let start_ms = ms(outcome
        .started
        .duration_since(case_start)
        .unwrap_or_default());
    let end_ms = start_ms + ms(outcome.duration) + 1;
    let termination = match (outcome.exit_code, outcome.signal) {
        (Some(code), _) => Termination::Exited { code },
        (None, signal) => Termination::Signalled {
            signal: signal.unwrap_or(0),
        },
    };
    let mut inv = Invocation::new(
        meta.role,
        meta.command,
        meta.argv.clone(),
        start_ms,
        end_ms,
        termination,
    );
    inv.pid = u32::try_from(outcome.pgid).ok();
    inv.events = outcome
        .events
        .iter()
        .map(|e| EventRecord {
            at_ms: start_ms + ms(e.at),
            level: e.level.clone(),
            name: e.name.clone(),
            fields: e.fields.clone(),
        })
        .collect();
    inv.stdout_path = Some(outcome.stdout_log.display().to_string());
    inv.stderr_path = Some(outcome.stderr_log.display().to_string());
    if let (Some(reason), true) = (&outcome.killed, inv.was_signalled()) {
        let reason = match reason {
            runner::KillReason::Timeout { .. } => KillReason::Timeout,
            runner::KillReason::Interrupted => KillReason::Teardown,
            _ => KillReason::Fault,
        };
        let aimed = (reason == KillReason::Fault)
            .then(|| meta.aimed.clone())
            .flatten();
        let at_ms = start_ms + outcome.kill_at.map_or(ms(outcome.duration), ms);
        inv.kill = Some(KillRecord {
            reason,
            aimed,
            at_ms,
            landed: None,
        });
    }
    inv
}

/// P10 on one invocation, plus a hang finding when the time limit killed it.
pub(super) fn clean_failure(step: usize, ran: &Ran) -> Vec<Finding> {
    let events: Vec<LogEvent> = ran
        .record
        .events
        .iter()
        .map(|e| LogEvent {
            name: e.name.clone(),
            level: Some(e.level.clone()),
            fields: e.fields.clone(),
        })
        .collect();
    let outcome = InvocationOutcome {
        exit_code: ran.record.exit_code(),
        killed_by_harness: ran.outcome.killed.is_some() && ran.record.was_signalled(),
        events: &events,
        stderr: &ran.stderr,
    };
    let mut findings = check_invocation(&outcome, &describe(&ran.record), Some(step));
    if ran.timed_out() {
        let last = ran
            .record
            .events
            .last()
            .map_or("no event at all".to_string(), EventRecord::render);
        findings.push(
            Finding::new(
                Property::CleanFailure,
                Some(step),
                format!(
                    "{} did not finish within {:.0} s and was killed",
                    describe(&ran.record),
                    ran.timeout.as_secs_f64()
                ),
            )
            .subject(last)
            .expected_seen(
                "an exit with a code from CONTRACT.md 1.3",
                "still running (hung)",
            ),
        );
    }
    findings
}

/// `backup --once`, `restore --subvolume data ...`: the argv without program and config.
pub(super) fn describe(inv: &Invocation) -> String {
    let words: Vec<&str> = inv.argv.iter().map(String::as_str).collect();
    let start = words
        .iter()
        .position(|w| *w == "backup" || *w == "restore")
        .unwrap_or(0);
    let end = words
        .iter()
        .rposition(|w| w.starts_with("--config"))
        .unwrap_or(words.len());
    words[start..end.max(start)].join(" ")
}

/// Throughput events of one invocation.
pub(super) fn metrics(step: usize, inv: &Invocation) -> InvocationMetrics {
    let subvolumes = inv
        .events
        .iter()
        .filter(|e| e.name == "backup_metrics" || e.name == "restore_metrics")
        .map(|e| SubvolumeMetrics {
            subvolume: e.field("subvolume").unwrap_or("").to_string(),
            total_bytes: e
                .field("total_bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            elapsed_seconds: e
                .field("elapsed_seconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
        })
        .collect();
    InvocationMetrics {
        step,
        role: inv.role,
        command: inv.command,
        elapsed_ms: inv.end_ms.saturating_sub(inv.start_ms),
        subvolumes,
    }
}
