//! The harness configuration: loading, validation, the `BTRFS_TO_S3_CMD` override and
//! the per-run S3 prefix.
//!
//! A config file (`config/test.toml`, `config/reference.toml`) has the sections `[tool]`,
//! `[s3]` and `[paths]` (required), `[btrfs]`, `[backup]` and `[restore]` (optional, all
//! keys defaulted) and `[profile.<name>]` (raw tables owned by the campaign code). Each
//! section's keys, defaults and rules are documented in its file under [`elements`].
//! Loading validates everything and never panics: every problem is a [`ConfigError`]
//! naming the file, the dotted key and what was expected. Every section is strict (an
//! unknown key is an error) except `[tool.env]` and `[profile.*]`; unknown top-level
//! sections are errors too.
//!
//! This module reads the file and the one environment variable it is told about; it
//! starts nothing, creates no directory and does not look at the filesystem otherwise.

pub mod cmd_env;
pub mod elements;
pub mod error;
pub(crate) mod reader;
pub mod run_id;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Table;

use crate::gen::plan::ToolSettings;

pub use cmd_env::CMD_ENV_VAR;
pub use elements::backup::BackupSection;
pub use elements::btrfs::BtrfsSection;
pub use elements::paths::PathsSection;
pub use elements::restore::RestoreSection;
pub use elements::s3::{S3Endpoint, S3Section, StaticCredentials};
pub use elements::tool::{CmdSource, ToolSection, HARNESS_RUN_DIR_VAR};
pub use error::{ConfigError, KeyProblem};
pub use run_id::RunId;

use reader::{normalize, Section, Source};

/// A loaded, validated harness configuration. All paths in it are absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The absolute path of the file this was loaded from.
    pub file: PathBuf,
    pub tool: ToolSection,
    pub s3: S3Section,
    pub btrfs: BtrfsSection,
    pub paths: PathsSection,
    pub backup: BackupSection,
    pub restore: RestoreSection,
    /// `[profile.<name>]` tables, unvalidated (the campaign code owns their keys).
    pub profiles: BTreeMap<String, Table>,
}

impl Config {
    /// Loads `path`, applying `BTRFS_TO_S3_CMD` from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let value = std::env::var_os(CMD_ENV_VAR)
            .map(std::ffi::OsString::into_string)
            .transpose()
            .map_err(|_| ConfigError::Env {
                file: path.to_path_buf(),
                var: CMD_ENV_VAR.to_string(),
                problem: "it is not valid UTF-8".to_string(),
            })?;
        Config::load_with_env(path, |name| value.clone().filter(|_| name == CMD_ENV_VAR))
    }

    /// Loads `path`, reading environment variables through `env` (tests pass a closure
    /// instead of mutating the process environment).
    pub fn load_with_env(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = absolute(path, "the config path")?;
        let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                file: file.clone(),
                message: e.to_string(),
            })?;
        let dir = file
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        let source = Source { file, dir };
        let mut config = from_table(&source, &table)?;
        if let Some(value) = env(CMD_ENV_VAR) {
            apply_cmd_override(&mut config, &value)?;
        }
        Ok(config)
    }

    /// The tool settings a case runs with when nothing varies them: `[backup]`,
    /// `[restore]` and the storage classes and SSE of `[s3]`.
    pub fn default_tool_settings(&self) -> ToolSettings {
        let (b, r, s3) = (&self.backup, &self.restore, &self.s3);
        ToolSettings {
            chunk_size_bytes: b.chunk_size_bytes,
            retain: b.retain,
            storage_class_chunks: s3.storage_class_chunks.clone(),
            storage_class_manifest: s3.storage_class_manifest.clone(),
            sse: s3.sse.clone(),
            concurrency: b.concurrency,
            spool_enabled: b.spool_enabled,
            spool_size_bytes: b.spool_size_bytes,
            full_every_days: b.full_every_days,
            incremental_every_days: b.incremental_every_days,
            verify_mode: r.verify_mode,
            sample_max_files: r.sample_max_files,
            wait_for_restore: r.wait_for_restore,
            restore_timeout_seconds: r.restore_timeout_seconds,
        }
    }

    /// `<test_prefix>/<run id>/`: the S3 prefix one harness run keeps everything under.
    pub fn run_prefix(&self, run_id: &RunId) -> String {
        run_id::run_prefix(&self.s3.test_prefix, run_id)
    }
}

/// Builds the config from the parsed document; sections are read in file-independent
/// order, so the first error reported for a file is stable.
fn from_table(source: &Source, table: &Table) -> Result<Config, ConfigError> {
    let mut root = Section::new(source, "", table);
    let empty = Table::new();
    let tool = required(
        &mut root,
        "tool",
        "a [tool] table with at least cmd = [...]",
    )?;
    let s3 = required(
        &mut root,
        "s3",
        "an [s3] table with at least bucket = \"...\"",
    )?;
    let paths = required(
        &mut root,
        "paths",
        "a [paths] table with at least run_dir = \"...\"",
    )?;
    let btrfs = root.table("btrfs")?.unwrap_or(&empty);
    let backup = root.table("backup")?.unwrap_or(&empty);
    let restore = root.table("restore")?.unwrap_or(&empty);
    let profiles = elements::profile::read(&mut root)?;
    root.finish()?;
    Ok(Config {
        file: source.file.clone(),
        tool: elements::tool::read(Section::new(source, "tool", tool))?,
        s3: elements::s3::read(Section::new(source, "s3", s3))?,
        btrfs: elements::btrfs::read(Section::new(source, "btrfs", btrfs))?,
        paths: elements::paths::read(Section::new(source, "paths", paths))?,
        backup: elements::backup::read(Section::new(source, "backup", backup))?,
        restore: elements::restore::read(Section::new(source, "restore", restore))?,
        profiles,
    })
}

fn required<'a>(
    root: &mut Section<'a>,
    key: &str,
    expected: &str,
) -> Result<&'a Table, ConfigError> {
    let table = root.table(key)?;
    root.require(key, expected, table)
}

fn apply_cmd_override(config: &mut Config, value: &str) -> Result<(), ConfigError> {
    let cwd = std::env::current_dir().map_err(|source| ConfigError::CurrentDir {
        what: format!("the program in {CMD_ENV_VAR}"),
        source,
    })?;
    config.tool.cmd =
        cmd_env::parse_cmd_override(value, &cwd).map_err(|problem| ConfigError::Env {
            file: config.file.clone(),
            var: CMD_ENV_VAR.to_string(),
            problem,
        })?;
    config.tool.cmd_source = CmdSource::EnvVar;
    Ok(())
}

/// `path` made absolute against the current directory, normalised lexically.
fn absolute(path: &Path, what: &str) -> Result<PathBuf, ConfigError> {
    if path.is_absolute() {
        return Ok(normalize(path));
    }
    let cwd = std::env::current_dir().map_err(|source| ConfigError::CurrentDir {
        what: what.to_string(),
        source,
    })?;
    Ok(normalize(&cwd.join(path)))
}
