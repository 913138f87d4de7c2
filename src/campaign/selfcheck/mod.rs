//! The tester's own score: run one campaign profile against the correct reference tool
//! (every finding there is a false alarm) and against each of the tool's bug variants
//! (each must be found), with a fixed seed list so that runs are comparable, and report
//! per variant whether it was found, on which property, after how many cases and how
//! long, and how small the shrunk plan got.
//!
//! Data flow: [`hunt`] (one tool, over a `CaseRunner`, stopping at the first confirmed
//! finding) -> [`summary`] (aggregation, median, table, JSON, exit code), with
//! [`expected`] saying which properties reference/README.md documents per variant.
//! Choosing the tool (the `B2S3_REF_BUG` variable) and the session belong to
//! `commands::selfcheck`; nothing here touches the environment, the fixture or S3.

pub mod expected;
pub mod hunt;
pub mod summary;

pub use hunt::{hunt, Found, Hunt, HuntSpec};
pub use summary::{Machine, Selfcheck, VariantRow};

/// The default seed list: fixed, so that two self-checks run the same cases. Case i of
/// a hunt is case `i / 3` of seed `DEFAULT_SEEDS[i % 3]`.
pub const DEFAULT_SEEDS: &[u64] = &[1, 2, 3];
