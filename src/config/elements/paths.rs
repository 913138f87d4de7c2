//! `[paths]`: where the harness keeps run data and logs.
//!
//! Keys: `run_dir` (required) and `logs_dir` (default `<run_dir>/logs`). A relative value
//! is resolved against the directory of the config file and normalised lexically, so
//! `run_dir = "../run"` in `<repo>/config/test.toml` means `<repo>/run`.
//!
//! This module resolves paths; it creates no directory.

use std::path::PathBuf;

use crate::config::error::ConfigError;
use crate::config::reader::Section;

/// The validated `[paths]` section; both paths are absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathsSection {
    pub run_dir: PathBuf,
    pub logs_dir: PathBuf,
}

pub(crate) fn read(mut s: Section<'_>) -> Result<PathsSection, ConfigError> {
    let run_dir = s.path("run_dir")?;
    let expected =
        "a directory path (relative paths are resolved against the config file's directory)";
    let run_dir = s.require("run_dir", expected, run_dir)?;
    let logs_dir = s.path("logs_dir")?.unwrap_or_else(|| run_dir.join("logs"));
    s.finish()?;
    Ok(PathsSection { run_dir, logs_dir })
}
