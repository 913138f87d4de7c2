//! The campaign layer: how people use the tester. `fuzz` runs many generated cases of a
//! profile (a quick `pr` run on every pull request, a long `nightly` one), replaying the
//! regressions file first, on several workers, within a time budget; a failing case is
//! shrunk, filed in the bug base with everything needed to replay it, and its seed is
//! appended to the regressions file; the run ends with reports (JSON summary, JUnit XML,
//! benchmark) and a closing table, and the last line of output is the command that
//! replays the first failure.
//!
//! Data flow: [`profile`] (what to run) -> [`run`] (the loop, over a [`runner::CaseRunner`])
//! -> [`verdict`] (did it fail, on which property) -> [`shrink`] -> [`failure`] ->
//! [`bugbase`] and [`regressions`] -> [`record`] -> [`report`]. Everything except
//! `runner`'s engine implementation and `versions` is testable without btrfs: tests
//! drive it with fake runners.
//!
//! This module never touches the fixture, the tool or S3 directly; it only goes through
//! a `CaseRunner`. Session set-up and teardown belong to the commands.

pub mod bugbase;
pub mod command_line;
pub mod failure;
pub mod profile;
pub mod progress;
pub mod record;
pub mod regressions;
pub mod report;
pub mod run;
pub mod runner;
pub mod selfcheck;
pub mod shard;
pub mod shrink;
pub mod testkit;
pub mod verdict;
pub mod versions;

pub use command_line::CommandLine;
pub use profile::{CampaignProfile, Overrides};
pub use run::{run, CampaignResult, CampaignSpec, Job};
pub use runner::CaseRunner;
pub use shard::Shard;
