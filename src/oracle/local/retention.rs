//! P8 retention: after a successful backup a subvolume keeps its newest `retain`
//! snapshots (by name timestamp) plus the parent its incremental used, nothing else;
//! and the state's `last_snapshot` exists and is read-only (CONTRACT.md section 8).
//! Pure: the snapshot directory listing and the read-only lookup are inputs.

use crate::oracle::finding::{Finding, Property};
use crate::oracle::manifest::parse_snapshot_name;

/// What the engine observed after a successful backup of one subvolume.
#[derive(Debug, Clone)]
pub struct RetentionInput<'a> {
    pub subvolume: &'a str,
    /// `snapshots.base_dir`, absolute, without a trailing `/`.
    pub snapshots_dir: &'a str,
    /// Names of the entries of `snapshots_dir` (all subvolumes; others are ignored).
    pub snapshot_names: &'a [String],
    pub retain: u32,
    /// Basename of the parent snapshot, when this backup was an incremental.
    pub incremental_parent: Option<&'a str>,
    /// The state's `last_snapshot` for this subvolume (absolute path), if any.
    pub last_snapshot: Option<&'a str>,
}

/// The snapshots of `subvolume` among `names`, oldest first, as (timestamp, name).
pub fn snapshots_of<'a>(names: &'a [String], subvolume: &str) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|n| {
            parse_snapshot_name(n)
                .filter(|(s, _, _)| *s == subvolume)
                .map(|(_, ts, _)| (ts, n.as_str()))
        })
        .collect();
    out.sort();
    out
}

/// Checks P8. `read_only(path)` is `Some(true)` for a read-only snapshot,
/// `Some(false)` for a writable one, `None` when the path does not exist.
pub fn check_retention(
    input: &RetentionInput,
    read_only: &dyn Fn(&str) -> Option<bool>,
    step: Option<usize>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let ours = snapshots_of(input.snapshot_names, input.subvolume);
    let keep_from = ours.len().saturating_sub(input.retain as usize);
    let extra: Vec<&str> = ours[..keep_from]
        .iter()
        .map(|(_, n)| *n)
        .filter(|n| Some(*n) != input.incremental_parent)
        .collect();
    if let Some(first) = extra.first() {
        let allowed = input.retain as usize
            + usize::from(
                input
                    .incremental_parent
                    .is_some_and(|p| ours[..keep_from].iter().any(|(_, n)| *n == p)),
            );
        let message = format!(
            "{} keeps {} snapshots where retain={} allows {allowed}; {} should have been pruned, first {first}",
            input.subvolume, ours.len(), input.retain, extra.len()
        );
        let expected = ours[keep_from..]
            .iter()
            .map(|(_, n)| *n)
            .chain(input.incremental_parent)
            .collect::<Vec<_>>()
            .join(", ");
        findings.push(
            Finding::new(Property::Retention, step, message)
                .subject(format!("{}/{first}", input.snapshots_dir))
                .expected_seen(
                    format!("only {expected}"),
                    format!("also {}", extra.join(", ")),
                ),
        );
    }
    findings.extend(last_snapshot_finding(input, read_only, step));
    findings
}

fn last_snapshot_finding(
    input: &RetentionInput,
    read_only: &dyn Fn(&str) -> Option<bool>,
    step: Option<usize>,
) -> Option<Finding> {
    let p8 = |message: String| Finding::new(Property::Retention, step, message);
    let Some(path) = input.last_snapshot else {
        return Some(p8(format!(
            "the state records no last_snapshot for {} after a successful backup",
            input.subvolume
        )));
    };
    let seen = match read_only(path) {
        Some(true) => return None,
        Some(false) => "writable",
        None => "missing",
    };
    let message = format!("the state's last_snapshot of {} is {seen}", input.subvolume);
    Some(
        p8(message)
            .subject(path.to_string())
            .expected_seen("an existing read-only snapshot", seen),
    )
}
