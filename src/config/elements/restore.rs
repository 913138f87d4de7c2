//! `[restore]`: default restore settings of the tool config a case runs with.
//!
//! Keys and defaults: `verify_mode` = `"full"` (`full`, `sample` or `none`),
//! `sample_max_files` = 1000 (> 0), `wait_for_restore` = true,
//! `restore_timeout_seconds` = 600 (> 0), `restore_tier` = `"Standard"` (non-empty).
//!
//! This module validates values; it restores nothing.

use crate::config::error::ConfigError;
use crate::config::reader::Section;
use crate::gen::plan::VerifyMode;

/// The validated `[restore]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSection {
    pub verify_mode: VerifyMode,
    pub sample_max_files: u32,
    pub wait_for_restore: bool,
    pub restore_timeout_seconds: u64,
    pub restore_tier: String,
}

pub(crate) fn read(mut s: Section<'_>) -> Result<RestoreSection, ConfigError> {
    let verify_mode = s.non_empty("verify_mode", "full")?;
    let verify_mode = match verify_mode.as_str() {
        "full" => VerifyMode::Full,
        "sample" => VerifyMode::Sample,
        "none" => VerifyMode::None,
        other => {
            return Err(s.invalid(
                "verify_mode",
                "one of \"full\", \"sample\", \"none\"",
                format!("{other:?}"),
            ))
        }
    };
    let section = RestoreSection {
        verify_mode,
        sample_max_files: s.u32_at_least("sample_max_files", 1000, 1)?,
        wait_for_restore: s.bool("wait_for_restore", true)?,
        restore_timeout_seconds: s.u64_at_least("restore_timeout_seconds", 600, 1)?,
        restore_tier: s.non_empty("restore_tier", "Standard")?,
    };
    s.finish()?;
    Ok(section)
}
