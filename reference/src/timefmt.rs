//! Timestamps of the contract: the compact UTC form `%Y%m%dT%H%M%SZ` used in snapshot
//! names, S3 keys, manifests and the state file, and a lenient ISO-8601 reader for
//! `last_full_at` (the contract lets a harness write any ISO form there). This module only
//! converts; it must not read the clock for decisions (callers pass `now`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

const COMPACT: &str = "%Y%m%dT%H%M%SZ";

/// Formats an instant as `20260101T020000Z`.
pub fn compact(at: DateTime<Utc>) -> String {
    at.format(COMPACT).to_string()
}

/// Parses exactly the compact form.
pub fn parse_compact(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, COMPACT).ok().map(|n| Utc.from_utc_datetime(&n))
}

/// Parses the compact form or any common ISO-8601 form (extended or basic, `T` or space,
/// optional fraction, `Z` or a numeric offset, or a date alone). Naive times are UTC.
pub fn parse_lenient(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(at) = parse_compact(text) {
        return Some(at);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let with_offset = ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y%m%dT%H%M%S%z"];
    for format in with_offset {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(at.with_timezone(&Utc));
        }
    }
    let naive_text = text.strip_suffix('Z').unwrap_or(text);
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y%m%dT%H%M%S",
        "%Y%m%dT%H%M",
    ];
    for format in naive {
        if let Ok(n) = NaiveDateTime::parse_from_str(naive_text, format) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(naive_text, format) {
            return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trips() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 2, 0, 1).unwrap();
        assert_eq!(compact(at), "20260101T020001Z");
        assert_eq!(parse_compact("20260101T020001Z"), Some(at));
    }

    #[test]
    fn lenient_accepts_the_iso_forms_a_harness_may_write() {
        let at = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        for text in [
            "2000-01-01T00:00:00Z",
            "2000-01-01T00:00:00+00:00",
            "2000-01-01 00:00:00",
            "2000-01-01T00:00:00.000",
            "20000101T000000Z",
            "20000101T000000",
            "2000-01-01",
            "2000-01-01T02:00:00+02:00",
        ] {
            assert_eq!(parse_lenient(text), Some(at), "{text}");
        }
        assert_eq!(parse_lenient("yesterday"), None);
    }
}
