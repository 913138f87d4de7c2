//! The tool under test as a child process: writing its config file ([`toolconfig`]),
//! building its command line and environment ([`command`]), running it in its own process
//! group with a kill plan ([`runner`]), parsing its log lines ([`events`]), the registry
//! of live process groups ([`groups`]) and the harness's SIGINT/SIGTERM handling
//! ([`signals`]).
//!
//! This module knows how to start, watch and stop btrfs_to_s3; it does not decide what a
//! case runs (engine) or whether the outcome is right (oracle).

pub mod command;
pub mod events;
pub mod groups;
pub mod runner;
pub mod signals;
pub mod toolconfig;

pub use command::{
    BackupArgs, Invocation, InvocationBuilder, RenderedInvocation, RestoreArgs, ToolArgs,
};
pub use events::{Event, CONFIG_ERROR_EVENT};
pub use runner::{run, KillReason, KillSwitch, KillTrigger, Outcome, RunError, RunSpec};
pub use toolconfig::{ToolConfigError, ToolConfigSpec};
