//! Where a scenario's tool settings come from: the harness config itself, or a
//! harness config file the scenario names (`test_large.toml`, `test_archive.toml`,
//! `test_spool.toml`) found in the same directory as the harness config. Only that
//! file's settings are used (`[backup]`, `[restore]` and the storage classes and SSE of
//! `[s3]`, i.e. [`Config::default_tool_settings`]); the tool, endpoint, fixture and
//! paths stay those of the harness config, so `scenario multi-chunk --config
//! config/reference.toml` runs the reference tool with `test_large.toml`'s chunk size.
//!
//! It reads config files; it starts nothing.

use std::path::{Path, PathBuf};

use super::{Inputs, Scenario, SettingsFrom};
use crate::config::{Config, ConfigError};

/// Why a scenario's settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "scenario {scenario} takes its settings from {file}, expected next to the harness config at {path} \
         (copy it from the repository's config/ directory)"
    )]
    Missing { scenario: String, file: String, path: PathBuf },
    #[error("scenario {scenario}: {source}")]
    Config {
        scenario: String,
        #[source]
        source: Box<ConfigError>,
    },
}

/// The path of the settings file `file` for the harness config at `harness`.
pub fn settings_path(harness: &Path, file: &str) -> PathBuf {
    harness.parent().unwrap_or_else(|| Path::new("/")).join(file)
}

/// The inputs of `scenario` under the harness config `config`.
pub fn inputs(scenario: &Scenario, config: &Config) -> Result<Inputs, SettingsError> {
    let settings = match scenario.settings {
        SettingsFrom::Harness => config.default_tool_settings(),
        SettingsFrom::File(file) => {
            let path = settings_path(&config.file, file);
            if !path.is_file() {
                let (scenario, file) = (scenario.name.to_string(), file.to_string());
                return Err(SettingsError::Missing { scenario, file, path });
            }
            Config::load_with_env(&path, |_| None)
                .map_err(|e| SettingsError::Config { scenario: scenario.name.to_string(), source: Box::new(e) })?
                .default_tool_settings()
        }
    };
    Ok(Inputs { settings, subvolumes: config.btrfs.subvolumes.clone() })
}
