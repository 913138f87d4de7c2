//! What the scenario builders share: dataset sizes and shorthands for the expectations
//! they state most often.

use crate::engine::history::Role;
use crate::engine::names::Kind;
use crate::gen::plan::VerifyMode;
use crate::oracle::finding::Property;
use crate::scenario::Expect;

/// Content bytes of the seed layout in most scenarios (several 1 MiB chunks).
pub const SEED_BYTES: u64 = 3 << 20;
/// New or changed bytes per round of changes.
pub const CHANGE_BYTES: u64 = 512 << 10;
/// The multi-chunk dataset: at least this, and at least [`CHUNKS_AT_LEAST`] chunks.
pub const MULTI_CHUNK_BYTES: u64 = 24 << 20;
/// The dataset of `multi-chunk-large` (`--include-large`).
pub const LARGE_BYTES: u64 = 256 << 20;
pub const CHUNKS_AT_LEAST: u64 = 8;
/// CONTRACT.md 9: the largest chunk that goes as one PutObject.
pub const FIVE_MIB: u64 = 5 * 1024 * 1024;

pub fn exit(step: usize, role: Role, code: i32, property: Property) -> Expect {
    Expect::Exit { step, role, code, property }
}

pub fn restored(step: usize) -> Expect {
    exit(step, Role::Restore, 0, Property::RoundTrip)
}

pub fn published(step: usize, subvolume: &str, kind: Kind, property: Property) -> Expect {
    Expect::Published { step, subvolume: subvolume.to_string(), kind, property }
}

pub fn flag(step: usize, role: Role, flag: &str) -> Expect {
    Expect::Flag { step, role, flag: flag.to_string(), value: None, present: true }
}

pub fn flag_value(step: usize, role: Role, flag: &str, value: &str) -> Expect {
    Expect::Flag { step, role, flag: flag.to_string(), value: Some(value.to_string()), present: true }
}

pub fn no_flag(step: usize, role: Role, flag: &str) -> Expect {
    Expect::Flag { step, role, flag: flag.to_string(), value: None, present: false }
}

pub fn snapshots(step: usize, subvolume: &str, count: usize) -> Expect {
    Expect::Snapshots { step, subvolume: subvolume.to_string(), count, property: Property::Retention }
}

/// The tool's own verification ran in `mode` (`none`: was skipped).
pub fn verified(step: usize, mode: VerifyMode) -> Expect {
    Expect::Verified { step, mode, property: Property::SelfCheckAgreement }
}
