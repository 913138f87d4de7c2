//! Writes the tool's own TOML config (CONTRACT.md section 3) for one invocation.
//!
//! A [`ToolConfigSpec`] holds everything the engine decides per case (absolute paths,
//! bucket, region, prefix, restore tier) plus the generated [`ToolSettings`]. The file is
//! produced by the `toml` serializer, so every string (paths with spaces, quotes,
//! backslashes) is escaped correctly; every key of section 3 is written explicitly, so
//! the tool's own defaults never matter.
//!
//! This module writes one file; it does not decide paths or settings, and runs nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::gen::plan::ToolSettings;

/// `schedule.run_at`: required by the tool's format, not used for planning.
pub const RUN_AT: &str = "02:00";
/// The log level the harness runs the tool with: INFO events are what it parses.
pub const DEFAULT_LOG_LEVEL: &str = "info";
const LOG_LEVELS: [&str; 5] = ["debug", "info", "warning", "error", "critical"];

/// Everything one tool config file contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolConfigSpec {
    /// `subvolumes.paths`: absolute; basenames are the subvolume names.
    pub subvolume_paths: Vec<PathBuf>,
    /// `snapshots.base_dir`: absolute, on the subvolumes' btrfs.
    pub snapshots_dir: PathBuf,
    pub state_path: PathBuf,
    pub lock_path: PathBuf,
    pub spool_dir: PathBuf,
    /// `restore.target_base_dir`: written because the format wants it; unused by the tool.
    pub restore_target_base_dir: PathBuf,
    /// `global.log_level`; [`DEFAULT_LOG_LEVEL`] unless a case says otherwise.
    pub log_level: String,
    pub bucket: String,
    pub region: String,
    /// `s3.prefix`: the run's or the case's prefix (the tool adds one trailing `/`).
    pub prefix: String,
    pub restore_tier: String,
    pub settings: ToolSettings,
}

/// Writing a tool config failed: the spec is invalid or the file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ToolConfigError {
    #[error("writing the tool config: {field} must be an absolute UTF-8 path, got {path:?}; the engine must pass absolute paths")]
    BadPath { field: &'static str, path: PathBuf },
    #[error("writing the tool config: {field} {problem}")]
    BadValue {
        field: &'static str,
        problem: String,
    },
    #[error("writing the tool config to {}: {source}; check that the directory exists and is writable", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Serialize)]
struct Document<'a> {
    global: Global<'a>,
    schedule: Schedule,
    snapshots: Snapshots<'a>,
    subvolumes: Subvolumes<'a>,
    s3: S3<'a>,
    restore: Restore<'a>,
}

#[derive(Serialize)]
struct Global<'a> {
    log_level: &'a str,
    state_path: &'a str,
    lock_path: &'a str,
    spool_dir: &'a str,
    spool_size_bytes: i64,
}

#[derive(Serialize)]
struct Schedule {
    full_every_days: i64,
    incremental_every_days: i64,
    run_at: &'static str,
}

#[derive(Serialize)]
struct Snapshots<'a> {
    base_dir: &'a str,
    retain: i64,
}

#[derive(Serialize)]
struct Subvolumes<'a> {
    paths: Vec<&'a str>,
}

#[derive(Serialize)]
struct S3<'a> {
    bucket: &'a str,
    region: &'a str,
    prefix: &'a str,
    chunk_size_bytes: i64,
    storage_class_chunks: &'a str,
    storage_class_manifest: &'a str,
    concurrency: i64,
    spool_enabled: bool,
    sse: &'a str,
}

#[derive(Serialize)]
struct Restore<'a> {
    target_base_dir: &'a str,
    verify_mode: &'static str,
    sample_max_files: i64,
    wait_for_restore: bool,
    restore_timeout_seconds: i64,
    restore_tier: &'a str,
}

impl ToolConfigSpec {
    /// The TOML text of the config.
    pub fn render(&self) -> Result<String, ToolConfigError> {
        let s = &self.settings;
        if !LOG_LEVELS.contains(&self.log_level.as_str()) {
            let problem = format!("must be one of {LOG_LEVELS:?}, got {:?}", self.log_level);
            return Err(ToolConfigError::BadValue {
                field: "global.log_level",
                problem,
            });
        }
        let document = Document {
            global: Global {
                log_level: &self.log_level,
                state_path: abs("global.state_path", &self.state_path)?,
                lock_path: abs("global.lock_path", &self.lock_path)?,
                spool_dir: abs("global.spool_dir", &self.spool_dir)?,
                spool_size_bytes: int("global.spool_size_bytes", s.spool_size_bytes)?,
            },
            schedule: Schedule {
                full_every_days: s.full_every_days.into(),
                incremental_every_days: s.incremental_every_days.into(),
                run_at: RUN_AT,
            },
            snapshots: Snapshots {
                base_dir: abs("snapshots.base_dir", &self.snapshots_dir)?,
                retain: s.retain.into(),
            },
            subvolumes: Subvolumes {
                paths: self.subvolume_paths()?,
            },
            s3: self.s3_section()?,
            restore: self.restore_section()?,
        };
        toml::to_string(&document).map_err(|e| ToolConfigError::BadValue {
            field: "(document)",
            problem: e.to_string(),
        })
    }

    /// Writes the config to `path` (through a temporary file and a rename, so a reader
    /// never sees half a file).
    pub fn write(&self, path: &Path) -> Result<(), ToolConfigError> {
        let text = self.render()?;
        let write_error = |source| ToolConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_error)?;
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.persist(path).map_err(|e| write_error(e.error))?;
        Ok(())
    }

    fn subvolume_paths(&self) -> Result<Vec<&str>, ToolConfigError> {
        if self.subvolume_paths.is_empty() {
            let problem = "must list at least one subvolume".to_string();
            return Err(ToolConfigError::BadValue {
                field: "subvolumes.paths",
                problem,
            });
        }
        self.subvolume_paths
            .iter()
            .map(|p| abs("subvolumes.paths", p))
            .collect()
    }

    fn s3_section(&self) -> Result<S3<'_>, ToolConfigError> {
        let s = &self.settings;
        Ok(S3 {
            bucket: non_empty("s3.bucket", &self.bucket)?,
            region: non_empty("s3.region", &self.region)?,
            prefix: non_empty("s3.prefix", &self.prefix)?,
            chunk_size_bytes: int("s3.chunk_size_bytes", s.chunk_size_bytes)?,
            storage_class_chunks: non_empty("s3.storage_class_chunks", &s.storage_class_chunks)?,
            storage_class_manifest: non_empty(
                "s3.storage_class_manifest",
                &s.storage_class_manifest,
            )?,
            concurrency: s.concurrency.into(),
            spool_enabled: s.spool_enabled,
            sse: non_empty("s3.sse", &s.sse)?,
        })
    }

    fn restore_section(&self) -> Result<Restore<'_>, ToolConfigError> {
        let s = &self.settings;
        Ok(Restore {
            target_base_dir: abs("restore.target_base_dir", &self.restore_target_base_dir)?,
            verify_mode: s.verify_mode.as_str(),
            sample_max_files: s.sample_max_files.into(),
            wait_for_restore: s.wait_for_restore,
            restore_timeout_seconds: int(
                "restore.restore_timeout_seconds",
                s.restore_timeout_seconds,
            )?,
            restore_tier: non_empty("restore.restore_tier", &self.restore_tier)?,
        })
    }
}

fn abs<'a>(field: &'static str, path: &'a Path) -> Result<&'a str, ToolConfigError> {
    match path.to_str() {
        Some(s) if path.is_absolute() => Ok(s),
        _ => Err(ToolConfigError::BadPath {
            field,
            path: path.to_path_buf(),
        }),
    }
}

fn int(field: &'static str, value: u64) -> Result<i64, ToolConfigError> {
    i64::try_from(value).map_err(|_| ToolConfigError::BadValue {
        field,
        problem: format!(
            "must fit a TOML integer (at most {}), got {value}",
            i64::MAX
        ),
    })
}

fn non_empty<'a>(field: &'static str, value: &'a str) -> Result<&'a str, ToolConfigError> {
    if value.is_empty() {
        let problem = "must not be empty".to_string();
        return Err(ToolConfigError::BadValue { field, problem });
    }
    Ok(value)
}
