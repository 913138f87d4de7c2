//! The subcommands of `b2s3-harness`, as library functions returning an exit code.
//! `main.rs` only parses arguments and calls these; every error is mapped here to the
//! documented exit codes of [`crate::exit`].

pub mod bench;
pub mod case;
pub mod context;
pub mod doctor;
pub mod fuzz;
pub mod envfile;
pub mod lifecycle;
pub mod plan;
pub mod replay;
pub mod mutate;
pub mod ownership;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod selfcheck;
pub mod verify;

use std::path::Path;

use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::exit;

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Harness(String),
    #[error("interrupted")]
    Interrupted,
}

impl CommandError {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Config(_) | CommandError::Usage(_) => exit::USAGE,
            CommandError::Harness(_) => exit::HARNESS_ERROR,
            CommandError::Interrupted => exit::INTERRUPTED,
        }
    }

    /// A harness error with what was being done.
    pub fn harness(doing: &str, err: impl std::fmt::Display) -> CommandError {
        CommandError::Harness(format!("{doing}: {err}"))
    }
}

/// Loads the harness config (with the `BTRFS_TO_S3_CMD` override from the environment).
pub fn load_config(path: &Path) -> Result<Config, CommandError> {
    Ok(Config::load(path)?)
}
