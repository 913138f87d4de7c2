//! The fixed scenarios of the original requirements (`b2s3-harness scenario <name>` and
//! `scenario all`): each one is a named, hand-written [`Plan`] plus a few
//! scenario-level [`Expect`]ations, run by the same case engine and judged by the same
//! oracle as the generated cases. There is no second executor: a scenario adds only
//! checks over the finished [`crate::engine::CaseReport`] (what the record must show,
//! e.g. "the manifest of the `--once` run is incremental"), reported as findings named
//! by their property.
//!
//! A scenario's tool settings come from the harness config (`[backup]`, `[restore]`,
//! storage classes of `[s3]`), or from the config file it names next to the harness
//! config (`test_large.toml`, `test_archive.toml`, `test_spool.toml`: only their
//! settings are used, never their tool, paths or endpoint); what a plan changes on top
//! (e.g. `retain = 1`) is stated in its builder. This module owns the catalog and the
//! plans; [`run`] drives one scenario through the engine, [`all`] runs the catalog.

pub mod all;
mod catalog;
pub mod expect;
pub mod run;
pub mod settings;
pub mod steps;

use crate::gen::plan::{Plan, Step, SubvolumePlan, ToolSettings, PLAN_FORMAT};

pub use catalog::{catalog, spool_outcome, SpoolOutcome};
pub use expect::Expect;

/// Where a scenario's tool settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsFrom {
    /// The harness config's own `[backup]`, `[restore]` and `[s3]` settings.
    Harness,
    /// A harness config file of this name next to the harness config (its settings only).
    File(&'static str),
}

/// One fixed scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    /// One sentence: what passing it proves.
    pub proves: &'static str,
    pub settings: SettingsFrom,
    /// Run by `scenario all` only with `--include-large`.
    pub large: bool,
    build: fn(&Inputs) -> Result<ScenarioPlan, String>,
}

impl Scenario {
    /// The scenario's plan and expectations for these inputs; an error says why the
    /// settings cannot express the scenario (e.g. an archive scenario with STANDARD
    /// chunks).
    pub fn build(&self, inputs: &Inputs) -> Result<ScenarioPlan, String> {
        (self.build)(inputs).map_err(|why| format!("scenario {}: {why}", self.name))
    }
}

/// What a scenario is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// The tool settings (see [`SettingsFrom`]).
    pub settings: ToolSettings,
    /// The configured subvolume names, in config order (at least one).
    pub subvolumes: Vec<String>,
}

impl Inputs {
    /// The subvolume most scenarios use: the first configured one.
    pub fn first(&self) -> &str {
        &self.subvolumes[0]
    }
}

/// A scenario's case plan and what it requires beyond the engine's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioPlan {
    pub plan: Plan,
    pub expect: Vec<Expect>,
}

/// The plan `scenario <name>`.
pub(crate) fn plan(name: &str, settings: ToolSettings, subvolumes: Vec<SubvolumePlan>, steps: Vec<Step>) -> Plan {
    Plan {
        format: PLAN_FORMAT,
        seed: None,
        case: None,
        name: format!("scenario {name}"),
        tool: settings,
        subvolumes,
        steps,
    }
}

/// The scenario named `name`.
pub fn find(name: &str) -> Option<Scenario> {
    catalog().into_iter().find(|s| s.name == name)
}

/// Every scenario's name, in catalog order.
pub fn names() -> Vec<&'static str> {
    catalog().iter().map(|s| s.name).collect()
}
