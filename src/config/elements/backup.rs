//! `[backup]`: default backup settings of the tool config a case runs with (the
//! generator and profiles may vary them per case).
//!
//! Keys and defaults: `chunk_size_bytes` = 1048576 (> 0; small, so small trees still
//! give several chunks), `concurrency` = 4 (>= 1), `retain` = 2 (>= 1),
//! `full_every_days` = 180 (> 0), `incremental_every_days` = 7 (> 0), `spool_enabled` =
//! false, `spool_size_bytes` = 67108864 (> 0).
//!
//! This module validates values; it writes no tool config.

use crate::config::error::ConfigError;
use crate::config::reader::Section;

/// The validated `[backup]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSection {
    pub chunk_size_bytes: u64,
    pub concurrency: u32,
    pub retain: u32,
    pub full_every_days: u32,
    pub incremental_every_days: u32,
    pub spool_enabled: bool,
    pub spool_size_bytes: u64,
}

impl Default for BackupSection {
    fn default() -> Self {
        BackupSection {
            chunk_size_bytes: 1024 * 1024,
            concurrency: 4,
            retain: 2,
            full_every_days: 180,
            incremental_every_days: 7,
            spool_enabled: false,
            spool_size_bytes: 64 * 1024 * 1024,
        }
    }
}

pub(crate) fn read(mut s: Section<'_>) -> Result<BackupSection, ConfigError> {
    let d = BackupSection::default();
    let section = BackupSection {
        chunk_size_bytes: s.u64_at_least("chunk_size_bytes", d.chunk_size_bytes, 1)?,
        concurrency: s.u32_at_least("concurrency", d.concurrency, 1)?,
        retain: s.u32_at_least("retain", d.retain, 1)?,
        full_every_days: s.u32_at_least("full_every_days", d.full_every_days, 1)?,
        incremental_every_days: s.u32_at_least(
            "incremental_every_days",
            d.incremental_every_days,
            1,
        )?,
        spool_enabled: s.bool("spool_enabled", d.spool_enabled)?,
        spool_size_bytes: s.u64_at_least("spool_size_bytes", d.spool_size_bytes, 1)?,
    };
    s.finish()?;
    Ok(section)
}
