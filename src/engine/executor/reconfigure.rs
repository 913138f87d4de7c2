//! Reconfiguration steps: the tool's config changes between invocations, from what the
//! case observed. `ChunkSizeFromLastFull` reads the subvolume's last published full
//! (the manifest that ends the chain of its `current.json`, in the latest observation)
//! and sets `s3.chunk_size_bytes` to a divisor of its `total_bytes`
//! ([`chunk_size_dividing`]), so a later full of the unchanged subvolume ends exactly on
//! a chunk boundary (CONTRACT.md 9). Without a readable published full it changes
//! nothing and says why in the step's notes.
//!
//! It reads the observation and rewrites the tool config; it never touches the store.

use super::case::CaseRun;
use super::Flow;
use crate::engine::history::StepRecord;
use crate::gen::plan::chunk_size_dividing;
use crate::oracle::manifest::{BackupKind, Manifest};

pub(super) fn chunk_size_from_last_full(
    case: &mut CaseRun,
    rec: &mut StepRecord,
    subvolume: &str,
    parts: u32,
) -> Flow {
    let (key, total_bytes) = match last_published_full(case, subvolume) {
        Ok((key, m)) => (key, m.total_bytes),
        Err(why) => {
            rec.notes
                .push(format!("chunk size from last full: {why}; settings unchanged"));
            return Ok(());
        }
    };
    let Some(chunk_size) = chunk_size_dividing(total_bytes, parts) else {
        rec.notes.push(format!(
            "chunk size from last full: {key} has total_bytes 0; settings unchanged"
        ));
        return Ok(());
    };
    let mut settings = case.tool.clone();
    let old = settings.chunk_size_bytes;
    settings.chunk_size_bytes = chunk_size;
    case.reconfigure(settings)?;
    rec.notes.push(format!(
        "chunk size from last full: s3.chunk_size_bytes {old} -> {chunk_size} \
         ({key}: total_bytes {total_bytes}, at most {parts} part(s))"
    ));
    Ok(())
}

/// The manifest that ends the published chain of `subvolume`, if it is a full.
fn last_published_full(case: &CaseRun, subvolume: &str) -> Result<(String, Manifest), String> {
    let store = &case.observer.store;
    let chain = store
        .chains
        .get(subvolume)
        .ok_or_else(|| format!("{subvolume} has no published chain"))?;
    if !chain.ends_in_full() {
        return Err(format!("the chain of {subvolume} does not end in a full"));
    }
    let key = chain
        .manifest_keys
        .last()
        .ok_or_else(|| format!("the chain of {subvolume} is empty"))?;
    let manifest = store
        .manifests
        .get(key)
        .filter(|m| m.kind == BackupKind::Full)
        .ok_or_else(|| format!("{key} is not a readable full manifest"))?;
    Ok((key.clone(), manifest.clone()))
}
