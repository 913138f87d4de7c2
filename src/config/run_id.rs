//! Unique run ids and the per-run S3 prefix `<test_prefix>/<run id>/`.
//!
//! A run id is the UTC start time (compact, like the tool's own timestamps) plus a random
//! 32-bit suffix: `20260101T020000Z-1a2b3c4d`. Two harness runs started in the same second
//! still get different prefixes. This module owns no state and does no I/O.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// The id of one harness run, safe to use as an S3 key segment and a directory name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(String);

impl RunId {
    /// A fresh id: now (UTC) plus a random suffix.
    pub fn generate() -> RunId {
        RunId::from_parts(Utc::now(), random_u32())
    }

    /// The id for a given start time and suffix (deterministic, for tests and replays).
    pub fn from_parts(at: DateTime<Utc>, suffix: u32) -> RunId {
        RunId(format!("{}-{suffix:08x}", at.format("%Y%m%dT%H%M%SZ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<test_prefix>/<run id>/`: the prefix under which one run keeps all its objects.
pub fn run_prefix(test_prefix: &str, run_id: &RunId) -> String {
    format!("{test_prefix}/{run_id}/")
}

/// Random bits without a rand dependency: std's per-process random hasher keys, mixed
/// with the pid, the clock and a counter.
fn random_u32() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hasher.finish() >> 32) as u32
}
