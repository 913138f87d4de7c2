//! The names btrfs_to_s3 gives things, read back by the tester: compact UTC timestamps
//! (`%Y%m%dT%H%M%SZ`), the "any ISO form" a state file's `last_full_at` may hold,
//! snapshot names `<name>__<TS>__<full|inc>` (CONTRACT.md 8) and the S3 keys of
//! CONTRACT.md 10.
//!
//! This module only parses: it answers "what does this name say", returning `None` for
//! anything it does not recognise. It must not judge whether a key or a name is well
//! formed; that is the oracle's layout check (P7).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// The compact UTC format of snapshot names, S3 run timestamps and the state file.
pub const COMPACT_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The kind of a backup, whatever spelling the place it appears in uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Full,
    Incremental,
}

impl Kind {
    /// Snapshot name suffix: `full` or `inc` (also the `kind=` of `snapshot_created`).
    pub fn from_snapshot_suffix(s: &str) -> Option<Kind> {
        match s {
            "full" => Some(Kind::Full),
            "inc" => Some(Kind::Incremental),
            _ => None,
        }
    }

    /// S3 key segment, manifest `kind` and pointer `kind`: `full` or `incremental`.
    pub fn from_store_word(s: &str) -> Option<Kind> {
        match s {
            "full" => Some(Kind::Full),
            "incremental" => Some(Kind::Incremental),
            _ => None,
        }
    }

    pub fn snapshot_suffix(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Incremental => "inc",
        }
    }

    pub fn store_word(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Incremental => "incremental",
        }
    }
}

/// Parses exactly `%Y%m%dT%H%M%SZ`.
pub fn parse_compact(s: &str) -> Option<DateTime<Utc>> {
    if s.len() != 16 {
        return None;
    }
    NaiveDateTime::parse_from_str(s, COMPACT_FORMAT).ok().map(|t| t.and_utc())
}

pub fn format_compact(t: DateTime<Utc>) -> String {
    t.format(COMPACT_FORMAT).to_string()
}

/// What the tester can tell about a `last_full_at` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsoTime {
    Parsed(DateTime<Utc>),
    /// Looks like a date (starts with four digits) but is in no form this parser knows;
    /// Python's `fromisoformat` might still accept it, so the planner cannot decide.
    Unrecognised,
    /// Cannot be a date in any ISO form: the tool treats it as unparsable.
    Garbage,
}

/// Forms with an explicit offset (`%z` accepts `+hhmm` and `+hh:mm`).
const OFFSET_FORMATS: [&str; 4] =
    ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y%m%dT%H%M%S%.f%z", "%Y-%m-%dT%H:%M%z"];

/// Forms without an offset. Assumed to be UTC (the tool writes UTC everywhere).
const NAIVE_FORMATS: [&str; 4] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y%m%dT%H%M%S%.f", "%Y-%m-%dT%H:%M"];

/// Parses the ISO 8601 forms a state file may plausibly hold: compact and extended,
/// with `Z`, an offset or none (taken as UTC), optional fractional seconds, or a date
/// alone (midnight UTC).
pub fn parse_iso(s: &str) -> IsoTime {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return IsoTime::Parsed(t.with_timezone(&Utc));
    }
    let zulu_as_offset = s.strip_suffix('Z').map(|head| format!("{head}+00:00"));
    let with_offset = zulu_as_offset.as_deref().unwrap_or(s);
    for f in OFFSET_FORMATS {
        if let Ok(t) = DateTime::parse_from_str(with_offset, f) {
            return IsoTime::Parsed(t.with_timezone(&Utc));
        }
    }
    for f in NAIVE_FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return IsoTime::Parsed(t.and_utc());
        }
    }
    for f in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return IsoTime::Parsed(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
        }
    }
    if s.len() >= 4 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        IsoTime::Unrecognised
    } else {
        IsoTime::Garbage
    }
}

/// A snapshot's basename, `<name>__<YYYYMMDDTHHMMSSZ>__<full|inc>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotName {
    pub subvolume: String,
    pub taken_at: DateTime<Utc>,
    pub kind: Kind,
}

impl SnapshotName {
    /// Splits from the right, so a subvolume name containing `__` still parses.
    pub fn parse(name: &str) -> Option<SnapshotName> {
        let mut parts = name.rsplitn(3, "__");
        let kind = Kind::from_snapshot_suffix(parts.next()?)?;
        let taken_at = parse_compact(parts.next()?)?;
        let subvolume = parts.next().filter(|s| !s.is_empty())?.to_string();
        Some(SnapshotName { subvolume, taken_at, kind })
    }

    pub fn render(&self) -> String {
        format!("{}__{}__{}", self.subvolume, format_compact(self.taken_at), self.kind.snapshot_suffix())
    }
}

/// The last component of a `/`-separated path.
pub fn basename(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// Everything before the last component of a `/`-separated path, without trailing `/`.
pub fn dirname(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/",
        Some(i) => &trimmed[..i],
        None => "",
    }
}

/// What an S3 key of CONTRACT.md 10 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKey {
    Chunk { subvolume: String, kind: Kind, ts: String, index: u64 },
    Manifest { subvolume: String, kind: Kind, ts: String },
    Pointer { subvolume: String },
}

impl StoreKey {
    /// Parses `key` below `prefix` (the prefix with its one trailing `/`).
    pub fn parse(prefix: &str, key: &str) -> Option<StoreKey> {
        let rest = key.strip_prefix(prefix)?.strip_prefix("subvol/")?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [name, "current.json"] => Some(StoreKey::Pointer { subvolume: name.to_string() }),
            [name, segment, file] => {
                let kind = Kind::from_store_word(segment)?;
                let subvolume = name.to_string();
                if let Some(ts) = file.strip_prefix("manifest-").and_then(|f| f.strip_suffix(".json")) {
                    return Some(StoreKey::Manifest { subvolume, kind, ts: ts.to_string() });
                }
                let body = file.strip_prefix("chunk-")?.strip_suffix(".bin")?;
                let (ts, index) = body.rsplit_once('-')?;
                let index = index.parse().ok()?;
                Some(StoreKey::Chunk { subvolume, kind, ts: ts.to_string(), index })
            }
            _ => None,
        }
    }

    pub fn subvolume(&self) -> &str {
        match self {
            StoreKey::Chunk { subvolume, .. }
            | StoreKey::Manifest { subvolume, .. }
            | StoreKey::Pointer { subvolume } => subvolume,
        }
    }

    /// The run timestamp of a chunk or manifest key.
    pub fn ts(&self) -> Option<&str> {
        match self {
            StoreKey::Chunk { ts, .. } | StoreKey::Manifest { ts, .. } => Some(ts),
            StoreKey::Pointer { .. } => None,
        }
    }

    pub fn kind(&self) -> Option<Kind> {
        match self {
            StoreKey::Chunk { kind, .. } | StoreKey::Manifest { kind, .. } => Some(*kind),
            StoreKey::Pointer { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        parse_compact(s).unwrap()
    }

    #[test]
    fn compact_timestamps_round_trip_and_reject_other_lengths() {
        let t = utc("20260101T020000Z");
        assert_eq!(format_compact(t), "20260101T020000Z");
        assert_eq!(parse_compact("20260101T0200Z"), None);
        assert_eq!(parse_compact("2026-01-01T02:00:00Z"), None);
    }

    #[test]
    fn last_full_at_accepts_the_iso_forms_a_harness_or_the_tool_writes() {
        let midnight = utc("20000101T000000Z");
        for s in [
            "2000-01-01T00:00:00Z",
            "2000-01-01T00:00:00+00:00",
            "2000-01-01T01:00:00+01:00",
            "2000-01-01 00:00:00",
            "2000-01-01T00:00:00.000000",
            "20000101T000000Z",
            "20000101T000000",
            "2000-01-01",
        ] {
            assert_eq!(parse_iso(s), IsoTime::Parsed(midnight), "{s}");
        }
    }

    #[test]
    fn last_full_at_that_looks_like_a_year_but_is_unknown_is_not_called_garbage() {
        assert_eq!(parse_iso("2000-W01-1"), IsoTime::Unrecognised);
        assert_eq!(parse_iso("yesterday"), IsoTime::Garbage);
        assert_eq!(parse_iso(""), IsoTime::Garbage);
    }

    #[test]
    fn snapshot_names_split_from_the_right_and_map_inc_to_incremental() {
        let n = SnapshotName::parse("my__data__20260101T020001Z__inc").unwrap();
        assert_eq!(n.subvolume, "my__data");
        assert_eq!(n.kind, Kind::Incremental);
        assert_eq!(n.taken_at, utc("20260101T020001Z"));
        assert_eq!(n.render(), "my__data__20260101T020001Z__inc");
        assert_eq!(SnapshotName::parse("data__20260101T020001Z__incremental"), None);
        assert_eq!(SnapshotName::parse("__20260101T020001Z__full"), None);
    }

    #[test]
    fn store_keys_below_the_prefix_name_chunks_manifests_and_pointers() {
        let p = "runs/case-7/";
        assert_eq!(
            StoreKey::parse(p, "runs/case-7/subvol/data/incremental/chunk-20260101T020000Z-12.bin"),
            Some(StoreKey::Chunk {
                subvolume: "data".into(),
                kind: Kind::Incremental,
                ts: "20260101T020000Z".into(),
                index: 12
            })
        );
        assert_eq!(
            StoreKey::parse(p, "runs/case-7/subvol/data/full/manifest-20260101T020000Z.json"),
            Some(StoreKey::Manifest { subvolume: "data".into(), kind: Kind::Full, ts: "20260101T020000Z".into() })
        );
        assert_eq!(
            StoreKey::parse(p, "runs/case-7/subvol/data/current.json"),
            Some(StoreKey::Pointer { subvolume: "data".into() })
        );
        assert_eq!(StoreKey::parse(p, "other/subvol/data/current.json"), None);
        assert_eq!(StoreKey::parse(p, "runs/case-7/subvol/data/weekly/manifest-x.json"), None);
    }

    #[test]
    fn paths_split_into_dirname_and_basename() {
        assert_eq!(basename("/srv/snapshots/data__x__full"), "data__x__full");
        assert_eq!(dirname("/srv/snapshots/data__x__full"), "/srv/snapshots");
        assert_eq!(dirname("/srv/snapshots/"), "/srv");
        assert_eq!(dirname("/a"), "/");
    }
}
