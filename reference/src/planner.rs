//! The planner of CONTRACT.md section 7: per subvolume, from its state entry, its local
//! snapshots and the run's start time, decide full, incremental or not due, and say why a
//! wanted incremental fell back to a full. Pure: it must not read files, the clock or S3,
//! and must not log (the backup command logs the fallbacks it returns).

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

use crate::snapshots::Snapshot;
use crate::state::SubvolumeState;
use crate::timefmt;

/// Why an incremental could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The parent snapshot (its recorded path, or `None`) is not among the snapshots.
    ParentMissing(String),
    /// The state has no `last_manifest`.
    ParentManifestMissing,
}

/// The decision for one subvolume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Full { fallback: Option<Fallback> },
    Incremental { parent_snapshot: PathBuf, parent_manifest: String, last_full_at: String },
    NotDue,
}

/// Schedule knobs the planner needs.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub full_every_days: u64,
    pub incremental_every_days: u64,
    pub once: bool,
}

/// Decides what to do for one subvolume at `now`.
pub fn plan(state: Option<&SubvolumeState>, snapshots: &[Snapshot], now: DateTime<Utc>, schedule: Schedule) -> Decision {
    let Some(state) = state else {
        return Decision::Full { fallback: None };
    };
    let last_full_text = state.last_full_at.clone().unwrap_or_default();
    let Some(last_full) = timefmt::parse_lenient(&last_full_text) else {
        return Decision::Full { fallback: None };
    };
    if now - last_full > days(schedule.full_every_days) {
        return Decision::Full { fallback: None };
    }
    let recorded = state.last_snapshot.as_deref();
    let parent = recorded.and_then(|p| snapshots.iter().find(|s| s.path.as_os_str() == p));
    let Some(parent) = parent else {
        let shown = recorded.unwrap_or("None").to_string();
        return Decision::Full { fallback: Some(Fallback::ParentMissing(shown)) };
    };
    let Some(parent_manifest) = state.last_manifest.clone().filter(|m| !m.is_empty()) else {
        return Decision::Full { fallback: Some(Fallback::ParentManifestMissing) };
    };
    let parent_age = parent.taken_at().map(|at| now - at);
    let recent = matches!(parent_age, Some(age) if age < days(schedule.incremental_every_days));
    if recent && !schedule.once {
        return Decision::NotDue;
    }
    Decision::Incremental { parent_snapshot: parent.path.clone(), parent_manifest, last_full_at: last_full_text }
}

fn days(n: u64) -> Duration {
    Duration::days(n.min(1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SCHEDULE: Schedule = Schedule { full_every_days: 180, incremental_every_days: 7, once: false };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap()
    }

    fn parent() -> Snapshot {
        Snapshot { path: "/s/data__20260109T000000Z__full".into(), ts: "20260109T000000Z".into(), kind: "full".into() }
    }

    fn state() -> SubvolumeState {
        SubvolumeState {
            last_full_at: Some("20260109T000000Z".into()),
            last_manifest: Some("p/subvol/data/full/manifest-20260109T000000Z.json".into()),
            last_snapshot: Some("/s/data__20260109T000000Z__full".into()),
        }
    }

    #[test]
    fn no_state_or_an_old_full_means_full() {
        assert_eq!(plan(None, &[], now(), SCHEDULE), Decision::Full { fallback: None });
        let old = SubvolumeState { last_full_at: Some("2000-01-01T00:00:00Z".into()), ..state() };
        assert_eq!(plan(Some(&old), &[parent()], now(), SCHEDULE), Decision::Full { fallback: None });
        let junk = SubvolumeState { last_full_at: Some("junk".into()), ..state() };
        assert_eq!(plan(Some(&junk), &[parent()], now(), SCHEDULE), Decision::Full { fallback: None });
    }

    #[test]
    fn a_recent_parent_is_not_due_unless_once() {
        assert_eq!(plan(Some(&state()), &[parent()], now(), SCHEDULE), Decision::NotDue);
        let once = Schedule { once: true, ..SCHEDULE };
        assert!(matches!(plan(Some(&state()), &[parent()], now(), once), Decision::Incremental { .. }));
    }

    #[test]
    fn a_missing_parent_or_manifest_falls_back_to_full() {
        let missing = plan(Some(&state()), &[], now(), SCHEDULE);
        let expected = Fallback::ParentMissing("/s/data__20260109T000000Z__full".into());
        assert_eq!(missing, Decision::Full { fallback: Some(expected) });
        let no_manifest = SubvolumeState { last_manifest: None, ..state() };
        assert_eq!(
            plan(Some(&no_manifest), &[parent()], now(), SCHEDULE),
            Decision::Full { fallback: Some(Fallback::ParentManifestMissing) }
        );
    }

    #[test]
    fn an_old_parent_gives_an_incremental_without_once() {
        let later = now() + Duration::days(8);
        match plan(Some(&state()), &[parent()], later, SCHEDULE) {
            Decision::Incremental { parent_snapshot, parent_manifest, .. } => {
                assert_eq!(parent_snapshot, parent().path);
                assert_eq!(parent_manifest, state().last_manifest.unwrap());
            }
            other => panic!("expected incremental, got {other:?}"),
        }
    }
}
