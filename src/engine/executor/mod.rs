//! The executor: runs one case plan against the real fixture, the real tool and a real
//! S3 server, keeps the model in step, records the history and calls the oracle and the
//! judge at every observation point. This is the only part of `engine` that does I/O;
//! the checks it calls stay pure.
//!
//! A case flows like this ([`Engine::run_case`]):
//!
//! 1. set up: a fresh `CaseArea` (subvolumes named as in the plan, its own snapshots
//!    dir, state, lock, spool, logs), the tool config, and the S3 sub-prefix
//!    `<run prefix>case-<id>/` (which must be empty);
//! 2. build the initial trees on the model and on the live subvolumes, then check that
//!    a scan equals the model (a mismatch is a harness error, never a finding);
//! 3. run the steps: mutations (same check), backups with their faults (kill, contender,
//!    stale lock, S3 error), restores, antagonists, reconfigurations of the tool
//!    (the config is rewritten for later invocations); observe the store, state file,
//!    snapshots and lock before and after every tool invocation and judge;
//! 4. finish: restore every `current.json` not yet verified since the last backup (P1),
//!    count leftovers (P14), destroy the area (or keep it).
//!
//! The [`CaseReport`] holds the plan, every finding (named by property, step and the
//! first discrepancy), undecided checks, the history, kill phases, metrics and timing.
//! A harness malfunction ends the case with `harness_error` set and is never reported
//! as a finding. This module must not change what the checks decide; it feeds them.

mod antagonist;
mod backup;
mod case;
mod contend;
mod engine;
mod faults;
mod finish;
mod invoke;
mod mutate;
mod observe;
mod options;
mod reconfigure;
mod report;
mod restore;
mod restore_fault;
mod verdicts;

pub use engine::{Engine, EngineError};
pub use options::CaseOptions;
pub use report::{CaseReport, Durations, InvocationMetrics, LeftoverSummary, SubvolumeMetrics};

/// Why a case stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Abort {
    /// The harness failed (fixture, S3, model/scan mismatch): not the tool's fault.
    Harness(String),
    /// SIGINT/SIGTERM reached the harness.
    Interrupted,
    /// The case's time limit ran out (a hung tool is also a P10 finding).
    TimeLimit(String),
}

impl Abort {
    /// A harness error saying what was being done.
    pub(crate) fn harness(doing: impl std::fmt::Display, err: impl std::fmt::Display) -> Abort {
        Abort::Harness(format!("{doing}: {err}"))
    }
}

pub(crate) type Flow<T = ()> = Result<T, Abort>;
