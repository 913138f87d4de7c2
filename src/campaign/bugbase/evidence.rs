//! The evidence files of a bug folder as text: the findings, copies of the tool's logs,
//! the S3 listing of the case prefix (from a real listing of the kept run, else from the
//! last observation the engine made), and the tree differences carried by findings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Evidence;
use crate::engine::CaseReport;
use crate::oracle::finding::{Finding, Property};

/// `findings.txt`: the shrunk run's findings, then the original run's.
pub fn findings_text(shrunk: &CaseReport, original: &CaseReport) -> String {
    let mut out = String::new();
    for (title, report) in [("shrunk plan", shrunk), ("original plan", original)] {
        let _ = writeln!(out, "# {title} (case {})", report.case_id);
        if let Some(e) = &report.harness_error {
            let _ = writeln!(out, "HARNESS ERROR: {e}");
        }
        for f in &report.findings {
            let _ = writeln!(out, "{f}");
        }
        for u in &report.undecided {
            let _ = writeln!(out, "undecided {} step {}: {}: {}", u.property.id(), u.step, u.subject, u.why);
        }
        out.push('\n');
    }
    out
}

/// Copies every log file into `to`; returns the names copied (a missing file is noted
/// in the returned list as `<name> (missing: why)`).
pub fn copy_logs(logs: &[String], to: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(to)?;
    let mut copied = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let from = PathBuf::from(log);
        let name = from.file_name().map_or_else(|| format!("log-{i}"), |n| n.to_string_lossy().into_owned());
        let name = if to.join(&name).exists() { format!("{i}-{name}") } else { name };
        match std::fs::copy(&from, to.join(&name)) {
            Ok(_) => copied.push(name),
            Err(e) => copied.push(format!("{name} (missing: {e})")),
        }
    }
    Ok(copied)
}

/// `s3-listing.txt`: `key size class` lines.
pub fn listing_text(evidence: Option<&Evidence>, report: &CaseReport) -> String {
    match evidence.map(|e| &e.listing) {
        Some(Ok(objects)) => {
            let mut out = format!("# ListObjectsV2 of {} after the kept run ({} objects)\n", report.prefix, objects.len());
            for o in objects {
                let _ = writeln!(out, "{} {} {}", o.key, o.size, o.storage_class);
            }
            out
        }
        Some(Err(e)) => format!("# listing {} failed: {e}\n{}", report.prefix, observed_store(report)),
        None => observed_store(report),
    }
}

/// The store as the engine's last observation saw it.
fn observed_store(report: &CaseReport) -> String {
    let last = report.history.steps.iter().rev().flat_map(|s| s.observations.iter().rev()).next();
    let Some(o) = last else {
        return format!("# no observation of {} was recorded\n", report.prefix);
    };
    let s = &o.store;
    let mut out = format!("# the store under {} at the last observation ({} ms into the case)\n", s.prefix, o.at_ms);
    for (sub, p) in &s.pointers {
        let _ = writeln!(out, "pointer {sub}: {} ({} {})", p.manifest_key, p.kind, p.created_at);
    }
    for (key, m) in &s.manifests {
        let _ = writeln!(out, "manifest {key}: {} {} chunks, parent {:?}", m.kind, m.chunk_count, m.parent_manifest);
    }
    for (key, size) in &s.chunks {
        let _ = writeln!(out, "chunk {key} {size}");
    }
    for key in &s.uploads {
        let _ = writeln!(out, "incomplete-upload {key}");
    }
    out
}

/// Properties whose findings compare trees (restored or live against the model).
const TREE_PROPERTIES: [Property; 5] =
    [Property::RoundTrip, Property::OldOrNew, Property::Recovery, Property::Archive, Property::SelfCheckAgreement];

/// `tree-diff.txt`: each tree-comparing finding with its first difference.
pub fn tree_diff_text(report: &CaseReport) -> String {
    let tree: Vec<&Finding> = report.findings.iter().filter(|f| TREE_PROPERTIES.contains(&f.property)).collect();
    if tree.is_empty() {
        return "no finding of this case compared trees (P1, P3, P4, P12, P13); see findings.txt\n".to_string();
    }
    let mut out = String::new();
    for f in tree {
        let _ = writeln!(out, "[{} {}] step {}", f.property.id(), f.property.name(), step(f));
        let _ = writeln!(out, "  {}", f.message);
        if let Some(subject) = &f.subject {
            let _ = writeln!(out, "  path:     {subject}");
        }
        if let (Some(e), Some(s)) = (&f.expected, &f.seen) {
            let _ = writeln!(out, "  expected: {e}\n  seen:     {s}");
        }
        out.push('\n');
    }
    out
}

fn step(f: &Finding) -> String {
    f.step.map_or_else(|| "end".to_string(), |s| s.to_string())
}
