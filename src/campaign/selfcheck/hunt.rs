//! One hunt: a profile's cases run against one tool (the correct reference, or one bug
//! variant) over a [`CaseRunner`], on the profile's workers, until the first *confirmed*
//! finding (a variant) or the end of the budget (cases or time). A failing case is
//! claimed by the worker that ran it; the other workers pause while it is shrunk and its
//! shrunk plan re-run (the confirmation: the same property must reproduce, up to
//! `shrink.attempts` runs). An unconfirmed claim is recorded and the hunt goes on.
//!
//! Which tool runs is not decided here (the caller sets the environment); nothing is
//! filed in the bug base and nothing is written to disk.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::super::bugbase::PlanSize;
use super::super::profile::CampaignProfile;
use super::super::runner::CaseRunner;
use super::super::shrink::{shrink, ShrinkTarget};
use super::super::verdict::{first_of, judge, reproduces, Verdict};
use crate::engine::{CaseOptions, CaseReport};
use crate::gen::plan::Plan;
use crate::gen::PlanTree;
use crate::oracle::finding::Property;
use crate::tool::signals;

/// What to hunt with.
#[derive(Debug, Clone)]
pub struct HuntSpec {
    pub profile: CampaignProfile,
    /// Case i of the hunt is case `i / seeds.len()` of seed `seeds[i % seeds.len()]`.
    pub seeds: Vec<u64>,
    /// Stop at the first confirmed finding (variants) or run the whole budget (the
    /// correct tool).
    pub stop_at_first: bool,
}

impl HuntSpec {
    /// The (seed, case) of the hunt's i-th case.
    pub fn job(&self, i: u64) -> (u64, u64) {
        let n = self.seeds.len().max(1) as u64;
        (self.seeds[(i % n) as usize], i / n)
    }

    fn options(&self) -> CaseOptions {
        CaseOptions {
            time_limit: self.profile.case_time_limit,
            keep_area: false,
            case_id: None,
            strict_hygiene: self.profile.strict_hygiene,
        }
    }
}

/// A failing case seen during a hunt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub seed: u64,
    pub case: u64,
    pub property: Property,
    pub message: String,
}

/// The first confirmed finding of a hunt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub failure: Failure,
    /// Cases finished when the failing case finished (itself included).
    pub cases_until: u64,
    /// Wall time from the hunt's start to the failing case's end.
    pub secs_until: f64,
    pub shrink_secs: f64,
    pub shrink_runs: u32,
    pub original: PlanSize,
    pub shrunk: PlanSize,
}

/// What a hunt did.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Hunt {
    pub cases: u64,
    pub secs: f64,
    pub found: Option<Found>,
    /// Every failing case (for the correct tool these are false alarms).
    pub failures: Vec<Failure>,
    /// Failing cases whose shrunk plan did not reproduce.
    pub unconfirmed: u64,
    pub harness_errors: Vec<String>,
    pub interrupted: bool,
}

#[derive(Default)]
struct State {
    next: u64,
    hunt: Hunt,
    /// A worker is shrinking and confirming a failure: the others wait.
    claimed: bool,
}

struct Shared<'a, R: CaseRunner + ?Sized> {
    runner: &'a R,
    spec: &'a HuntSpec,
    t0: Instant,
    state: Mutex<State>,
    wake: Condvar,
}

/// Runs one hunt to its end.
pub fn hunt<R: CaseRunner + ?Sized>(runner: &R, spec: &HuntSpec) -> Hunt {
    let shared = Shared { runner, spec, t0: Instant::now(), state: Mutex::new(State::default()), wake: Condvar::new() };
    std::thread::scope(|scope| {
        for _ in 0..spec.profile.workers.max(1) {
            scope.spawn(|| while let Some(i) = shared.take() {
                shared.run_one(i);
            });
        }
    });
    let mut hunt = shared.state.into_inner().unwrap_or_else(|p| p.into_inner()).hunt;
    hunt.secs = shared.t0.elapsed().as_secs_f64();
    hunt.interrupted |= signals::interrupted();
    hunt
}

impl<R: CaseRunner + ?Sized> Shared<'_, R> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next case number, waiting while a claim is being confirmed; `None` at the end.
    fn take(&self) -> Option<u64> {
        let mut s = self.lock();
        while s.claimed {
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        let over = s.hunt.found.is_some() || s.hunt.interrupted || signals::interrupted();
        if over || s.next >= self.spec.profile.cases || self.t0.elapsed() >= self.spec.profile.time_budget {
            return None;
        }
        s.next += 1;
        Some(s.next - 1)
    }

    fn run_one(&self, i: u64) {
        let (seed, case) = self.spec.job(i);
        let tree = PlanTree::new(seed, case, &self.spec.profile.gen);
        let plan = tree.current();
        let report = self.runner.run(&plan, &self.spec.options());
        let verdict = judge(&report, &self.spec.profile.fail_on);
        let mut s = self.lock();
        s.hunt.cases += 1;
        let (cases_until, secs_until) = (s.hunt.cases, self.t0.elapsed().as_secs_f64());
        match verdict {
            Verdict::Pass => {}
            Verdict::Interrupted => s.hunt.interrupted = true,
            Verdict::HarnessError(e) => s.hunt.harness_errors.push(format!("seed {seed} case {case}: {e}")),
            Verdict::Fail { property, .. } => {
                let message = first_of(&report, property, &self.spec.profile.fail_on).map_or_else(String::new, ToString::to_string);
                let failure = Failure { seed, case, property, message };
                s.hunt.failures.push(failure.clone());
                if self.spec.stop_at_first && !s.claimed && s.hunt.found.is_none() {
                    s.claimed = true;
                    drop(s);
                    let found = self.confirm(failure, &plan, report, tree, cases_until, secs_until);
                    let mut s = self.lock();
                    match found {
                        Some(f) => s.hunt.found = Some(f),
                        None => s.hunt.unconfirmed += 1,
                    }
                    s.claimed = false;
                    self.wake.notify_all();
                }
            }
        }
    }

    /// Shrinks the failing case and re-runs the shrunk plan; `Some` when it reproduced.
    fn confirm(&self, failure: Failure, plan: &Plan, report: CaseReport, tree: PlanTree, cases_until: u64, secs_until: f64) -> Option<Found> {
        let profile = &self.spec.profile;
        let target = ShrinkTarget { property: failure.property, fail_on: profile.fail_on.clone() };
        let opts = self.spec.options();
        let shrunk = shrink(self.runner, plan, report, Some(tree), &target, profile.shrink, &opts);
        let reproduced = (0..profile.shrink.attempts.max(1))
            .any(|_| !signals::interrupted() && reproduces(&self.runner.run(&shrunk.plan, &opts), failure.property, &profile.fail_on));
        reproduced.then(|| Found {
            failure,
            cases_until,
            secs_until,
            shrink_secs: shrunk.stats.elapsed_ms as f64 / 1000.0,
            shrink_runs: shrunk.stats.runs,
            original: PlanSize::of(plan),
            shrunk: PlanSize::of(&shrunk.plan),
        })
    }
}
