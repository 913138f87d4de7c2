//! Generation of case plans: proptest strategies for trees, mutations, steps, faults and
//! tool configurations, all derived from one seed.
//!
//! A case is `(seed, case, profile)`. The RNG is proptest's `TestRng` with the named
//! algorithm ChaCha ([`RNG_ALGORITHM`]), seeded with the SHA-256 of
//! `"b2s3-harness gen v1"`, the seed and the case (little endian); the same triple gives
//! the same plan, byte for byte as `serde_json::to_string_pretty`. Proptest generates an
//! abstract skeleton (`skeleton`) that `build` concretizes against the model, so every
//! shrink candidate of a [`PlanTree`] is a valid plan. Beyond proptest's shrinking,
//! `shrink` offers plan-level simplifications, and [`normalize`] makes any plan valid.
//!
//! Nothing here does I/O; `content` defines the bytes behind a plan's `Content`.

pub mod content;
pub mod normalize;
pub mod plan;
pub mod profile;
pub mod render;
pub mod shrink;

mod build;
mod choices;
mod names;
mod ops;
mod skeleton;

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sha2::{Digest, Sha256};

pub use build::{BACKUP_KILL_EVENTS, RESTORE_KILL_EVENTS, SUBVOLUME_NAMES};
pub use choices::PUT_THRESHOLD;
pub use normalize::normalize;
pub use plan::Plan;
pub use profile::{GenProfile, ProfileError};
pub use render::render;

/// The RNG algorithm every plan is generated with.
pub const RNG_ALGORITHM: RngAlgorithm = RngAlgorithm::ChaCha;

/// The 32-byte RNG seed of case `case` of campaign seed `seed`.
pub fn rng_seed(seed: u64, case: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"b2s3-harness gen v1");
    h.update(seed.to_le_bytes());
    h.update(case.to_le_bytes());
    h.finalize().into()
}

/// The strategy that generates plans for `(seed, case)` under `profile` (the seed and
/// case are only recorded in the plan; randomness comes from the runner's RNG).
///
/// Panics if the profile is invalid; load profiles through `GenProfile::from_table` or
/// check them with `GenProfile::validate`.
pub fn plan_strategy(seed: u64, case: u64, profile: &GenProfile) -> BoxedStrategy<Plan> {
    if let Err(e) = profile.validate() {
        panic!("invalid generator profile: {e}");
    }
    let p = profile.clone();
    skeleton::skeleton_strategy(profile)
        .prop_map(move |sk| build::build(&sk, seed, case, &p))
        .boxed()
}

/// The plan of case `case` of campaign seed `seed`.
pub fn generate(seed: u64, case: u64, profile: &GenProfile) -> Plan {
    PlanTree::new(seed, case, profile).current()
}

/// A generated plan together with proptest's shrinking state: `simplify` moves to a
/// simpler plan, `complicate` backs off the last simplification (the usual proptest
/// `ValueTree` protocol: after a candidate that no longer fails, call `complicate`).
pub struct PlanTree {
    tree: Box<dyn ValueTree<Value = Plan>>,
}

impl PlanTree {
    pub fn new(seed: u64, case: u64, profile: &GenProfile) -> PlanTree {
        let rng = TestRng::from_seed(RNG_ALGORITHM, &rng_seed(seed, case));
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let tree = plan_strategy(seed, case, profile)
            .new_tree(&mut runner)
            .unwrap_or_else(|reason| panic!("plan generation rejected its own value: {reason}"));
        PlanTree { tree }
    }

    /// The current plan.
    pub fn current(&self) -> Plan {
        self.tree.current()
    }

    /// Moves to a simpler plan; false when there is nothing simpler to try.
    pub fn simplify(&mut self) -> bool {
        self.tree.simplify()
    }

    /// Undoes part of the last simplification; false when there is nothing to undo.
    pub fn complicate(&mut self) -> bool {
        self.tree.complicate()
    }
}
