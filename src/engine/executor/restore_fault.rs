//! Store faults of a restore's first attempt: a chunk of the chain served with one byte
//! of file data changed and its send-stream CRC fixed up (see [`crate::engine::corrupt`]),
//! through fault-proxy rules on that chunk's GETs. The store itself is never written:
//! disarming the rules ends the fault, so the retry and every observation see the
//! objects as the tool uploaded them.
//!
//! The fault is skipped, with a note, when it cannot be made or judged: no proxy (real
//! AWS), archived chunks, a chain the observation could not read, or a chain without
//! any file data.

use bytes::Bytes;

use super::case::CaseRun;
use crate::engine::corrupt::{changed_chunks, corrupt};
use crate::engine::history::StepRecord;
use crate::gen::plan::RestoreFault;
use crate::oracle::manifest::{ChainLink, Manifest};
use crate::oracle::store::chain::{walk, Lookup};
use crate::s3::proxy::{Matcher, Rule, RuleHandle};
use crate::s3::view::StoreView;

/// Arms `fault` for the restore of `subvolume` from `manifest_key` (none: its
/// `current.json` as last observed); the rules to disarm after the attempt, or `None`
/// when the fault was skipped (the note says why).
pub(super) fn arm(
    case: &CaseRun,
    rec: &mut StepRecord,
    subvolume: &str,
    manifest_key: Option<&str>,
    fault: &RestoreFault,
) -> Option<Vec<RuleHandle>> {
    let RestoreFault::CorruptChunk { from_end, pick } = fault;
    let skip = |rec: &mut StepRecord, why: &str| {
        rec.notes
            .push(format!("restore fault skipped (the restore runs clean): {why}"));
        None
    };
    let Some(proxy) = case.engine.proxy() else {
        return skip(rec, "no fault proxy (real AWS) to serve a corrupted chunk");
    };
    let store = &case.observer.store;
    let start = manifest_key
        .map(str::to_string)
        .or_else(|| store.pointers.get(subvolume).map(|p| p.manifest_key.clone()));
    let Some(start) = start else {
        return skip(rec, "nothing is published to corrupt");
    };
    let walked = walk(&start, &mut |key: &str| match store.manifests.get(key) {
        Some(m) => Lookup::Found(ChainLink {
            kind: m.kind,
            parent_manifest: m.parent_manifest.clone(),
            chunks: m.chunks.clone(),
        }),
        None => Lookup::Missing,
    });
    if !walked.ends_in_full() {
        return skip(rec, "the chain could not be followed in the last observation");
    }
    let chain: Vec<(&String, &Manifest)> =
        walked.manifest_keys.iter().filter_map(|k| Some((k, store.manifests.get(k)?))).collect();
    let client = case.engine.client();
    let first = (*from_end as usize).min(chain.len() - 1);
    // The chosen manifest first, then the newer ones, then the older ones.
    let order = (0..=first).rev().chain(first + 1..chain.len());
    for index in order {
        let (key, manifest) = &chain[index];
        let mut stream = Vec::with_capacity(manifest.total_bytes as usize);
        for chunk in &manifest.chunks {
            match client.get(&chunk.key) {
                Ok(bytes) => stream.extend_from_slice(&bytes),
                Err(e) => return skip(rec, &format!("reading chunk {}: {e}", chunk.key)),
            }
        }
        let Some(altered) = corrupt(&stream, *pick) else {
            continue;
        };
        let sizes: Vec<u64> = manifest.chunks.iter().map(|c| c.size).collect();
        let mut rules = Vec::new();
        let mut keys = Vec::new();
        for (i, bytes) in changed_chunks(&sizes, &stream, &altered.stream) {
            let chunk_key = &manifest.chunks[i].key;
            let matcher = match Matcher::new(&["GET"], &format!("^{}$", regex::escape(chunk_key))) {
                Ok(m) => m,
                Err(e) => return skip(rec, &format!("building the rule for {chunk_key}: {e}")),
            };
            rules.push(proxy.arm(Rule::replace_from(matcher, 1, Bytes::from(bytes))));
            keys.push(chunk_key.clone());
        }
        rec.notes.push(format!(
            "restore fault: the first attempt is served {} with byte {} of {:?} inverted \
             (a valid send stream; only the manifest's SHA-256 tells), from manifest {key} \
             ({} of {} in the chain, newest first)",
            keys.join(", "),
            altered.file_offset,
            altered.path,
            index + 1,
            chain.len()
        ));
        return Some(rules);
    }
    skip(rec, "no manifest of the chain writes file data")
}
