//! The engine-level property checks: pure functions over recorded invocations and
//! observations (`engine::history`) and the planner's expectation, each returning a
//! [`Verdict`]: findings named by PROPERTIES.md ids, checks that could not decide
//! (never a silent pass), and notes on what timing or observation resolved.
//!
//! What is judged where, and why (the property decisions):
//!
//! | situation | module | property |
//! |---|---|---|
//! | pointer after a killed or failed backup is neither the old one nor the run's own complete manifest | `old_or_new` | P3 |
//! | restore after a kill equals the other candidate, or neither (a mix) | `old_or_new` | P3 |
//! | fault-free backup after a failure exits non-zero or does not publish a due subvolume | `publish` | P4 |
//! | same without a preceding failure | `publish` | P6 (the schedule said "due") |
//! | contender pair: two winners, no winner, a loser that made progress, effects beyond the winner's | `exclusion` | P5 |
//! | a backup refused by a lock whose holder is not a live backup | `exclusion` | P5 |
//! | a lock file left after a backup that exited normally | `exclusion` | P14 (a dead PID does not block; see P5 for when it does) |
//! | wrong kind, wrong incremental parent, not-due subvolume touched, state not updated | `schedule` | P6 |
//! | dry run, --no-s3, nothing due, empty filter: anything changed | `schedule` | P6 ("nothing is uploaded") |
//! | same runs: wrong exit code or missing contract event, nothing changed | `schedule` | P6, downgraded to robustness |
//! | restore onto an existing target | `restore` | P9 |
//! | retried restore fails although the cause was transient | `restore` | P11 (backup retries are P4, which is stricter) |
//! | archive class: waiting restore fails, non-waiting one succeeds or leaves a target | `restore` | P12 |
//! | tool's verification failed, tester's diff clean | `restore` | P13 |
//! | tool's verification passed, tester's diff differs | `restore` | P1 (the oracle's diff finding, annotated) |
//! | restore of a subvolume with nothing published succeeds | `restore` | P1 |
//!
//! Severity is the property's own, except for deviations that only concern signalling
//! (exit code or log event) while the effect was right: those are robustness, because
//! nothing was lost. These checks must not do I/O, diff trees or re-check store
//! invariants (P2/P7 are the oracle's); they take such verdicts as inputs.

pub mod exclusion;
pub mod old_or_new;
pub mod publish;
pub mod restore;
pub mod schedule;

use serde::{Deserialize, Serialize};

use crate::engine::delta::Delta;
use crate::engine::history::{Invocation, Observation};
use crate::oracle::finding::{Finding, Property, Severity};

/// A check that could not decide, and why. Reported, never counted as a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undecided {
    pub property: Property,
    pub step: usize,
    pub subject: String,
    pub why: String,
}

/// What a check concluded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub undecided: Vec<Undecided>,
    pub notes: Vec<String>,
}

impl Verdict {
    pub fn find(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn cannot_decide(
        &mut self,
        property: Property,
        step: usize,
        subject: impl Into<String>,
        why: impl Into<String>,
    ) {
        self.undecided.push(Undecided { property, step, subject: subject.into(), why: why.into() });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn merge(&mut self, other: Verdict) {
        self.findings.extend(other.findings);
        self.undecided.extend(other.undecided);
        self.notes.extend(other.notes);
    }

    /// The properties found broken, in order, for assertions and summaries.
    pub fn properties(&self) -> Vec<Property> {
        self.findings.iter().map(|f| f.property).collect()
    }
}

/// A finding of `property` at `step`.
pub fn finding(property: Property, step: usize, message: impl Into<String>) -> Finding {
    Finding::new(property, Some(step), message)
}

/// Marks a finding as concerning signalling only (exit code, log event): robustness.
pub fn signalling(mut f: Finding) -> Finding {
    f.severity = Severity::Robustness;
    f
}

/// One backup invocation with the observations around it.
#[derive(Debug, Clone, Copy)]
pub struct BackupRun<'a> {
    pub step: usize,
    pub invocation: &'a Invocation,
    pub before: &'a Observation,
    pub after: &'a Observation,
}

impl<'a> BackupRun<'a> {
    pub fn delta(&self) -> Delta {
        Delta::between(self.before, self.after)
    }

    pub fn finding(&self, property: Property, message: impl Into<String>) -> Finding {
        finding(property, self.step, message)
    }

    pub fn pointer_key(&self, subvolume: &str) -> String {
        format!("{}subvol/{subvolume}/current.json", self.after.store.prefix)
    }
}

/// What the oracle's tree diff of a restored target against one model tree gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "diff", rename_all = "snake_case")]
pub enum RestoreDiff {
    Clean,
    /// The oracle's P1 finding with the first difference.
    Differs {
        finding: Finding,
    },
    /// No comparison was made (no target, no model tree), and why.
    NotCompared {
        why: String,
    },
}
