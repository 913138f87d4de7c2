//! `verify s3 [--subvolume NAME]...`: the oracle's store check (`oracle::store`) over
//! the run's prefix with the run's settings: key layout, storage class of chunks versus
//! manifests and pointers, SSE, manifest and pointer documents, every referenced chunk
//! present with its size and SHA-256, chains ending in a full, the concatenated chunks
//! accepted by `btrfs receive --dump` (P2, P7). On top of it: every selected subvolume
//! (default: all configured) has a `current.json` (P6: its backup happened and was
//! published), and leftovers are counted (P14: chunks no manifest references,
//! incomplete multipart uploads).

use std::path::Path;

use crate::oracle::finding::{Finding, Property};
use crate::oracle::store::layout::pointer_key;
use crate::oracle::store::{StoreChecker, StoreExpect, StoreSnapshot};

use super::super::context::existing_run;
use super::super::{load_config, CommandError};
use super::{select_subvolumes, Report};

/// `verify s3`.
pub fn verify_s3(config_path: &Path, subvolumes: &[String]) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let selected = select_subvolumes(&config.btrfs.subvolumes, subvolumes)?;
    let run = existing_run(&config)?;
    let expect = StoreExpect {
        prefix: run.record.prefix.clone(),
        subvolumes: config.btrfs.subvolumes.clone(),
        chunk_size: config.backup.chunk_size_bytes,
        storage_class_chunks: config.s3.storage_class_chunks.clone(),
        storage_class_manifest: config.s3.storage_class_manifest.clone(),
        sse: config.s3.sse.clone(),
    };
    let checked = StoreChecker::new(expect)
        .check(&run.client, None)
        .map_err(|e| CommandError::harness("inspecting the run's S3 prefix", e))?;
    let snapshot = &checked.snapshot;
    let mut report = Report {
        findings: checked.findings.clone(),
        undecided: checked.undecided.clone(),
        checked: vec![format!(
            "s3://{}/{}: {} objects, {} manifests, {} current.json",
            config.s3.bucket,
            snapshot.prefix,
            snapshot.objects.len(),
            snapshot.manifests.len() + snapshot.unreadable_manifests.len(),
            snapshot.pointers.len()
        )],
        details: Vec::new(),
    };
    report
        .findings
        .extend(missing_subvolumes(snapshot, &selected));
    report.findings.extend(leftovers(snapshot));
    Ok(report.finish("s3"))
}

fn missing_subvolumes(snapshot: &StoreSnapshot, selected: &[String]) -> Vec<Finding> {
    selected
        .iter()
        .filter_map(|name| {
            let key = pointer_key(&snapshot.prefix, name);
            (!snapshot.objects.contains_key(&key)).then(|| {
                let message = format!(
                    "configured subvolume {name} has no current.json: it was never backed up, or its backup was not published"
                );
                Finding::new(Property::Schedule, None, message)
                    .subject(key)
                    .expected_seen("a published backup", "no current.json")
            })
        })
        .collect()
}

fn leftovers(snapshot: &StoreSnapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(first) = snapshot.orphan_chunks.first() {
        let message = format!(
            "{} chunk object(s) that no manifest references, first {first}",
            snapshot.orphan_chunks.len()
        );
        out.push(Finding::new(Property::Leftovers, None, message).subject(first.clone()));
    }
    if let Some(first) = snapshot.uploads.first() {
        let message = format!(
            "{} incomplete multipart upload(s), first {} (upload id {})",
            snapshot.uploads.len(),
            first.key,
            first.upload_id
        );
        out.push(Finding::new(Property::Leftovers, None, message).subject(first.key.clone()));
    }
    out
}
