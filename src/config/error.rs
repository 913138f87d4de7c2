//! The error type of harness config loading. Every error names the config file and,
//! where one is at fault, the dotted key (`s3.bucket`), what was expected and what was
//! found, so that the message alone tells the user which line to fix.
//!
//! This module only describes errors; it does not decide what is valid.

use std::path::PathBuf;

/// What is wrong with one key of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// A required key (or section) is absent.
    Missing { expected: String },
    /// The key has a TOML type other than the one expected.
    WrongType { expected: String, found: String },
    /// The key is not known in a strict section.
    Unknown { known: String },
    /// The key has the right type but a value outside what is allowed.
    Invalid { expected: String, got: String },
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyProblem::Missing { expected } => write!(f, "is required: expected {expected}"),
            KeyProblem::WrongType { expected, found } => {
                write!(f, "has the wrong type: expected {expected}, found {found}")
            }
            KeyProblem::Unknown { known } => {
                write!(
                    f,
                    "is not a known key (known here: {known}); remove it or fix its spelling"
                )
            }
            KeyProblem::Invalid { expected, got } => {
                write!(f, "has a bad value: expected {expected}, got {got}")
            }
        }
    }
}

/// Loading the harness config failed. Never a panic: every bad input ends here.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading harness config {}: {source}; check the path given with --config", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("parsing harness config {} as TOML: {message}", file.display())]
    Syntax { file: PathBuf, message: String },

    #[error("harness config {}: `{key}` {problem}", file.display())]
    Key {
        file: PathBuf,
        key: String,
        problem: KeyProblem,
    },

    #[error(
        "environment variable {var} (overrides tool.cmd from {}): {problem}; set it to a JSON \
         array of strings such as '[\"python3\", \"-m\", \"btrfs_to_s3\"]' or to a shell-quoted \
         command line such as 'python3 -m btrfs_to_s3', or unset it",
        file.display()
    )]
    Env {
        file: PathBuf,
        var: String,
        problem: String,
    },

    #[error("resolving the current directory to absolutise {what}: {source}")]
    CurrentDir {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The dotted key at fault, if the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } => Some(key),
            _ => None,
        }
    }

    /// What is wrong with the key, if the error is about one key.
    pub fn problem(&self) -> Option<&KeyProblem> {
        match self {
            ConfigError::Key { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The environment variable at fault, if any.
    pub fn env_var(&self) -> Option<&str> {
        match self {
            ConfigError::Env { var, .. } => Some(var),
            _ => None,
        }
    }
}
