//! Store checks for one case prefix, run after every tool invocation: P2 (every
//! `current.json` names an existing manifest whose chain ends in a full and whose chunks
//! all exist with the recorded size and SHA-256) and P7 (key layout, storage classes,
//! SSE, manifest and pointer documents, chunking rule, configured values, and the stream
//! accepted by `btrfs receive --dump`). Besides findings it returns what it observed
//! ([`StoreSnapshot`]) so the engine can reuse pointers, manifests and chains, and what
//! it could not decide ([`Undecided`]), e.g. archived chunks checked by size only.
//!
//! The oracle only reads S3 (through [`StoreView`]); it never writes, deletes or restores
//! an object.

pub mod chain;
pub mod chunks;
pub mod layout;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use self::chain::{walk, Chain, Lookup};
pub use self::chunks::DumpMode;
use self::chunks::{
    fingerprint, verify_chunks, ChunkCache, ChunkProblem, ChunkVerdict, DumpOutcome, Fingerprint,
};
use self::layout::{chunk_key, manifest_key, parse_key, KeyRole};
use super::finding::{Finding, Property};
use super::manifest::{check_manifest, check_pointer, Deviation, Manifest, ManifestCheck, Pointer};
use crate::s3::view::{ObjectInfo, StoreError, StoreView, UploadInfo};

/// What a case configured, i.e. what the store must look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreExpect {
    /// The case prefix `P`, with exactly one trailing `/`.
    pub prefix: String,
    /// Names of the configured subvolumes.
    pub subvolumes: Vec<String>,
    /// The configured `s3.chunk_size_bytes` now; see [`StoreChecker::set_chunk_size`].
    pub chunk_size: u64,
    pub storage_class_chunks: String,
    pub storage_class_manifest: String,
    pub sse: String,
}

/// Something a check could not decide, and why. Never a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undecided {
    pub subject: String,
    pub reason: String,
}

/// What the store looked like at one observation point.
#[derive(Debug, Clone, Default)]
pub struct StoreSnapshot {
    pub prefix: String,
    /// HeadObject of every object under the prefix.
    pub objects: BTreeMap<String, ObjectInfo>,
    /// Subvolume name -> its `current.json`, when that parses completely.
    pub pointers: BTreeMap<String, Pointer>,
    /// Manifest key -> manifest, for every manifest that parses completely (those under
    /// the prefix and any a chain reached outside it).
    pub manifests: BTreeMap<String, Manifest>,
    /// Manifest key -> why it cannot be read.
    pub unreadable_manifests: BTreeMap<String, String>,
    /// Subvolume name -> the chain its `current.json` leads to.
    pub chains: BTreeMap<String, Chain>,
    /// Keys under the prefix shaped like chunks.
    pub chunk_keys: BTreeSet<String>,
    /// Chunk objects that no manifest references (P14 material).
    pub orphan_chunks: Vec<String>,
    /// Incomplete multipart uploads under the prefix (P14 material).
    pub uploads: Vec<UploadInfo>,
    /// Manifest key -> verdict on its chunks.
    pub chunk_verdicts: BTreeMap<String, ChunkVerdict>,
}

/// The result of one store check.
#[derive(Debug, Clone)]
pub struct StoreReport {
    pub snapshot: StoreSnapshot,
    pub findings: Vec<Finding>,
    pub undecided: Vec<Undecided>,
}

/// Checks one case prefix again and again (after every invocation), remembering what
/// cannot change: chunk hashes, stream verdicts, manifest texts and object metadata,
/// keyed by key, size and ETag (the tool never overwrites a chunk or manifest).
///
/// A manifest's `chunk_size` must be the chunk size configured when the checker first
/// saw it: the tool may be reconfigured between invocations, and the checker runs after
/// every invocation, so a manifest is first seen right after the run that wrote it.
#[derive(Debug)]
pub struct StoreChecker {
    expect: StoreExpect,
    /// Manifest key -> the chunk size in force when it was first seen.
    chunk_size_of: HashMap<String, u64>,
    dump: DumpMode,
    chunk_cache: ChunkCache,
    heads: HashMap<Fingerprint, ObjectInfo>,
    texts: HashMap<Fingerprint, Vec<u8>>,
}

/// Findings grouped by rule: the first one is kept, the others counted, so that one
/// mistake repeated on 500 chunks is one finding naming the first chunk.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    order: Vec<String>,
    groups: HashMap<String, (Finding, usize)>,
}

impl Tally {
    pub(crate) fn add(&mut self, rule: &str, finding: Finding) {
        match self.groups.get_mut(rule) {
            Some((_, count)) => *count += 1,
            None => {
                self.order.push(rule.to_string());
                self.groups.insert(rule.to_string(), (finding, 1));
            }
        }
    }

    /// A finding that is never merged with another.
    pub(crate) fn push(&mut self, finding: Finding) {
        let rule = format!("#{}", self.order.len());
        self.add(&rule, finding);
    }

    pub(crate) fn into_findings(mut self) -> Vec<Finding> {
        let mut out = Vec::new();
        for rule in &self.order {
            let (mut finding, count) = self.groups.remove(rule).expect("rule recorded");
            if count > 1 {
                finding
                    .message
                    .push_str(&format!(" [and {} more like it]", count - 1));
            }
            out.push(finding);
        }
        out
    }
}

/// The working state of one check.
struct Run {
    step: Option<usize>,
    tally: Tally,
    undecided: Vec<Undecided>,
    snapshot: StoreSnapshot,
    roles: BTreeMap<String, KeyRole>,
    loaded: BTreeMap<String, Lookup>,
}

impl Run {
    fn undecided(&mut self, subject: &str, reason: impl Into<String>) {
        self.undecided.push(Undecided {
            subject: subject.to_string(),
            reason: reason.into(),
        });
    }

    fn p7(&self, message: String, subject: &str) -> Finding {
        Finding::new(Property::LayoutAndMetadata, self.step, message).subject(subject.to_string())
    }

    fn deviation(&mut self, object: &str, d: &Deviation) {
        let field: String = d
            .field
            .split('/')
            .map(|s| if s.parse::<u64>().is_ok() { "*" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let finding = d.to_finding(Property::LayoutAndMetadata, object, self.step);
        self.tally
            .add(&format!("deviation {field} {}", d.problem), finding);
    }
}

impl StoreChecker {
    pub fn new(expect: StoreExpect) -> StoreChecker {
        StoreChecker {
            expect,
            chunk_size_of: HashMap::new(),
            dump: DumpMode::default(),
            chunk_cache: ChunkCache::default(),
            heads: HashMap::new(),
            texts: HashMap::new(),
        }
    }

    /// Replaces the stream check (`btrfs receive --dump` by default).
    pub fn with_dump(mut self, dump: DumpMode) -> StoreChecker {
        self.dump = dump;
        self
    }

    pub fn expect(&self) -> &StoreExpect {
        &self.expect
    }

    /// The tool was reconfigured: manifests first seen from now on must record
    /// `chunk_size`; those seen before keep the size they were judged against.
    pub fn set_chunk_size(&mut self, chunk_size: u64) {
        self.expect.chunk_size = chunk_size;
    }

    /// Chunk bodies downloaded so far by this checker.
    pub fn chunk_downloads(&self) -> u64 {
        self.chunk_cache.downloads
    }

    /// Checks the whole prefix. `Err` only when the store cannot be listed or inspected
    /// at all (a harness problem, not a finding).
    pub fn check(
        &mut self,
        store: &dyn StoreView,
        step: Option<usize>,
    ) -> Result<StoreReport, StoreError> {
        let snapshot = StoreSnapshot {
            prefix: self.expect.prefix.clone(),
            ..Default::default()
        };
        let mut run = Run {
            step,
            tally: Tally::default(),
            undecided: Vec::new(),
            snapshot,
            roles: BTreeMap::new(),
            loaded: BTreeMap::new(),
        };
        self.observe(store, &mut run)?;
        let manifest_keys: Vec<String> = run
            .roles
            .iter()
            .filter(|(_, r)| matches!(r, KeyRole::Manifest { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        for key in manifest_keys {
            self.load(store, &mut run, &key);
        }
        let pointer_keys: Vec<(String, String)> = run
            .roles
            .iter()
            .filter(|(_, r)| matches!(r, KeyRole::Pointer { .. }))
            .map(|(k, r)| (k.clone(), r.subvolume().to_string()))
            .collect();
        for (key, subvolume) in pointer_keys {
            self.pointer(store, &mut run, &key, &subvolume);
        }
        self.verify_all_chunks(store, &mut run);
        judge_chunks(&mut run);
        finish_leftovers(store, &self.expect.prefix, &mut run)?;
        Ok(StoreReport {
            snapshot: run.snapshot,
            findings: run.tally.into_findings(),
            undecided: run.undecided,
        })
    }

    /// Lists the prefix, heads every object, checks key layout and metadata.
    fn observe(&mut self, store: &dyn StoreView, run: &mut Run) -> Result<(), StoreError> {
        for listed in store.list(&self.expect.prefix)? {
            let print = fingerprint(&listed);
            let info = match self.heads.get(&print) {
                Some(info) => info.clone(),
                None => match store.head(&listed.key) {
                    Ok(info) => info,
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                },
            };
            let role = layout::check_object(&self.expect, &info, &mut run.tally, run.step);
            if matches!(role, Some(KeyRole::Chunk { .. } | KeyRole::Manifest { .. })) {
                self.heads.insert(print, info.clone());
            }
            if let Some(role) = role {
                if matches!(role, KeyRole::Chunk { .. }) {
                    run.snapshot.chunk_keys.insert(info.key.clone());
                }
                run.roles.insert(info.key.clone(), role);
            }
            run.snapshot.objects.insert(info.key.clone(), info);
        }
        Ok(())
    }

    /// Reads and judges one manifest (once per check) and returns how chains see it.
    fn load(&mut self, store: &dyn StoreView, run: &mut Run, key: &str) -> Lookup {
        if let Some(seen) = run.loaded.get(key) {
            return seen.clone();
        }
        let lookup = match self.manifest_bytes(store, run, key) {
            Ok(bytes) => {
                let check = check_manifest(&bytes);
                self.judge_manifest(run, key, &check);
                match (check.link, check.unreadable) {
                    (Some(link), _) => Lookup::Found(link),
                    (None, reason) => Lookup::Unreadable(reason.unwrap_or_default()),
                }
            }
            Err(StoreError::NotFound(_)) => Lookup::Missing,
            Err(e) => Lookup::Error(e.to_string()),
        };
        if let Lookup::Unreadable(reason) = &lookup {
            run.snapshot
                .unreadable_manifests
                .insert(key.to_string(), reason.clone());
        }
        run.loaded.insert(key.to_string(), lookup.clone());
        lookup
    }

    fn manifest_bytes(
        &mut self,
        store: &dyn StoreView,
        run: &Run,
        key: &str,
    ) -> Result<Vec<u8>, StoreError> {
        let print = run.snapshot.objects.get(key).map(fingerprint);
        if let Some(bytes) = print.as_ref().and_then(|p| self.texts.get(p)) {
            return Ok(bytes.clone());
        }
        let bytes = store.get(key)?;
        if let Some(print) = print {
            self.texts.insert(print, bytes.clone());
        }
        Ok(bytes)
    }

    /// P7 for one manifest: schema deviations and agreement with its key and the config.
    fn judge_manifest(&mut self, run: &mut Run, key: &str, check: &ManifestCheck) {
        if let Some(reason) = check.unreadable.as_ref().filter(|_| check.link.is_none()) {
            let f = run.p7(format!("manifest cannot be read: {reason}"), key);
            run.tally.push(f);
        }
        for d in &check.deviations {
            run.deviation(key, d);
        }
        if let Some(manifest) = &check.manifest {
            self.manifest_vs_config(run, key, manifest);
            run.snapshot
                .manifests
                .insert(key.to_string(), manifest.clone());
        }
        let (Some(link), Some(role)) = (&check.link, run.roles.get(key).cloned()) else {
            return;
        };
        let KeyRole::Manifest {
            subvolume,
            kind,
            ts,
        } = role
        else {
            return;
        };
        let expect = |what: &str, want: String, seen: String| (what.to_string(), want, seen);
        let mut mismatches = Vec::new();
        if link.kind != kind {
            mismatches.push(expect(
                "kind differs from the K segment of its key",
                kind.as_str().into(),
                link.kind.as_str().into(),
            ));
        }
        if let Some(m) = &check.manifest {
            if m.created_at != ts {
                mismatches.push(expect(
                    "created_at differs from the TS of its key",
                    ts.clone(),
                    m.created_at.clone(),
                ));
            }
            if m.subvolume != subvolume {
                mismatches.push(expect(
                    "subvolume differs from the N of its key",
                    subvolume.clone(),
                    m.subvolume.clone(),
                ));
            }
        }
        for (what, want, seen) in mismatches {
            let f = run
                .p7(format!("manifest {what}"), key)
                .expected_seen(want, seen);
            run.tally.add(&format!("manifest {what}"), f);
        }
        self.chunk_keys_vs_manifest_key(run, key, link, (&subvolume, kind, &ts));
    }

    fn manifest_vs_config(&mut self, run: &mut Run, key: &str, m: &Manifest) {
        let configured = *self
            .chunk_size_of
            .entry(key.to_string())
            .or_insert(self.expect.chunk_size);
        if m.chunk_size != configured {
            let f = run
                .p7(
                    "manifest chunk_size is not the configured s3.chunk_size_bytes".into(),
                    key,
                )
                .expected_seen(configured.to_string(), m.chunk_size.to_string());
            run.tally.add("manifest chunk_size", f);
        }
        if m.s3.storage_class != self.expect.storage_class_chunks {
            let f = run
                .p7(
                    "manifest s3.storage_class is not the configured s3.storage_class_chunks"
                        .into(),
                    key,
                )
                .expected_seen(
                    self.expect.storage_class_chunks.clone(),
                    m.s3.storage_class.clone(),
                );
            run.tally.add("manifest s3.storage_class", f);
        }
    }

    /// Chunk i of manifest `subvol/N/K/manifest-TS.json` must be `subvol/N/K/chunk-TS-i.bin`,
    /// and an incremental's parent must be a manifest key of the same subvolume under the
    /// prefix.
    fn chunk_keys_vs_manifest_key(
        &self,
        run: &mut Run,
        key: &str,
        link: &super::manifest::ChainLink,
        at: (&str, super::manifest::BackupKind, &str),
    ) {
        let (subvolume, kind, ts) = at;
        for (i, chunk) in link.chunks.iter().enumerate() {
            let want = chunk_key(&self.expect.prefix, subvolume, kind, ts, i);
            if chunk.key != want {
                let f = run
                    .p7(
                        format!("manifest {key}: chunk {i} has the wrong key (order, index or TS)"),
                        &chunk.key,
                    )
                    .expected_seen(want, chunk.key.clone());
                run.tally.add(&format!("chunk key of {key}"), f);
            }
        }
        let Some(parent) = &link.parent_manifest else {
            return;
        };
        let same_subvolume = matches!(parse_key(&self.expect.prefix, parent), Ok(KeyRole::Manifest { subvolume: s, .. }) if s == subvolume);
        if !same_subvolume || parent == key {
            let f = run.p7(format!("manifest {key}: parent_manifest is not another manifest key of {subvolume} under the prefix"), key)
                .expected_seen(format!("{}subvol/{subvolume}/K/manifest-TS.json", self.expect.prefix), parent.clone());
            run.tally.add("parent_manifest layout", f);
        }
    }

    /// One `current.json`: its document (P7), the key it names (P7), its chain (P2).
    fn pointer(&mut self, store: &dyn StoreView, run: &mut Run, key: &str, subvolume: &str) {
        let body = match store.get(key) {
            Ok(body) => body,
            Err(StoreError::NotFound(_)) => return,
            Err(e) => return run.undecided(key, format!("current.json could not be read: {e}")),
        };
        let check = check_pointer(&body);
        for d in &check.deviations {
            run.deviation(key, d);
        }
        let Some(target) = check.manifest_key.clone() else {
            let reason = check.unreadable.unwrap_or_default();
            let f = Finding::new(
                Property::NoPartialPublish,
                run.step,
                format!("current.json of {subvolume} names no manifest: {reason}"),
            )
            .subject(key.to_string());
            return run.tally.push(f);
        };
        if let Some(p) = &check.pointer {
            let want = manifest_key(&self.expect.prefix, subvolume, p.kind, &p.created_at);
            if target != want {
                let f = run.p7(format!("current.json of {subvolume}: manifest_key does not match its subvolume, kind and created_at"), key)
                    .expected_seen(want, target.clone());
                run.tally.add("pointer manifest_key", f);
            }
            run.snapshot
                .pointers
                .insert(subvolume.to_string(), p.clone());
        }
        let chain = walk(&target, &mut |k: &str| self.load(store, run, k));
        if let Some(problem) = chain.problem() {
            let f = Finding::new(
                Property::NoPartialPublish,
                run.step,
                format!("current.json of {subvolume}: {problem}"),
            )
            .subject(key.to_string())
            .expected_seen("a chain of existing manifests ending in a full", problem);
            run.tally.push(f);
        }
        if let chain::ChainEnd::Undecided { key: at, reason } = &chain.end {
            run.undecided(at, format!("chain of {subvolume} not followed: {reason}"));
        }
        run.snapshot.chains.insert(subvolume.to_string(), chain);
    }

    fn verify_all_chunks(&mut self, store: &dyn StoreView, run: &mut Run) {
        let prefix = self.expect.prefix.clone();
        for (key, lookup) in &run.loaded {
            let Lookup::Found(link) = lookup else {
                continue;
            };
            let objects = &run.snapshot.objects;
            let mut info_of = |k: &str| {
                if k.starts_with(&prefix) {
                    objects.get(k).cloned()
                } else {
                    store.head(k).ok()
                }
            };
            let verdict =
                verify_chunks(store, link, &mut info_of, &mut self.chunk_cache, &self.dump);
            run.snapshot.chunk_verdicts.insert(key.clone(), verdict);
        }
    }
}

/// Turns chunk verdicts into findings: P2 along pointer chains, P7 elsewhere and for
/// streams `btrfs receive --dump` rejects; undecided entries for what was not checked.
fn judge_chunks(run: &mut Run) {
    let in_chain = judge_chains(run);
    let verdicts: Vec<(String, ChunkVerdict)> = run
        .snapshot
        .chunk_verdicts
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (manifest, verdict) in verdicts {
        if !in_chain.contains(&manifest) {
            for (_, chunk, problem) in &verdict.problems {
                let (what, want, seen) = describe_problem(problem);
                let message = format!(
                    "manifest {manifest} (not published by any current.json): chunk {what}"
                );
                let f = run.p7(message, chunk).expected_seen(want, seen);
                run.tally
                    .add(&format!("unpublished manifest chunk {what}"), f);
            }
        }
        judge_stream(run, &manifest, &verdict);
        judge_etags(run, &manifest, &verdict);
    }
}

/// One P2 finding per pointer whose chain has a bad chunk, naming the first in restore
/// order (oldest manifest first). Returns the manifests on pointer chains.
fn judge_chains(run: &mut Run) -> BTreeSet<String> {
    let mut in_chain = BTreeSet::new();
    let chains: Vec<(String, Chain)> = run
        .snapshot
        .chains
        .iter()
        .map(|(s, c)| (s.clone(), c.clone()))
        .collect();
    for (subvolume, chain) in chains {
        in_chain.extend(chain.manifest_keys.iter().cloned());
        let verdicts = &run.snapshot.chunk_verdicts;
        let mut problems = chain.manifest_keys.iter().rev().flat_map(|m| {
            let problems = verdicts
                .get(m)
                .map(|v| v.problems.as_slice())
                .unwrap_or(&[]);
            problems.iter().map(move |p| (m, p))
        });
        let Some((manifest, (_, chunk, problem))) = problems.next() else {
            continue;
        };
        let more = problems.count();
        let (what, want, seen) = describe_problem(problem);
        let mut message =
            format!("current.json of {subvolume}: chunk {chunk} of manifest {manifest} {what}");
        if more > 0 {
            message.push_str(&format!(" [and {more} more chunk problems in this chain]"));
        }
        let f = Finding::new(Property::NoPartialPublish, run.step, message)
            .subject(chunk.clone())
            .expected_seen(want, seen);
        run.tally.push(f);
    }
    in_chain
}

/// A recorded ETag must be the object's, for chunks that are otherwise intact (a
/// corrupted chunk is reported once, by its size or hash, not again by its ETag).
fn judge_etags(run: &mut Run, manifest: &str, verdict: &ChunkVerdict) {
    let Some(Lookup::Found(link)) = run.loaded.get(manifest) else {
        return;
    };
    let bad: BTreeSet<usize> = verdict.problems.iter().map(|(i, _, _)| *i).collect();
    let mut mismatches = Vec::new();
    for (i, chunk) in link
        .chunks
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad.contains(i))
    {
        let actual = run
            .snapshot
            .objects
            .get(&chunk.key)
            .and_then(|o| o.etag.clone());
        if let (Some(recorded), Some(actual)) = (&chunk.etag, actual) {
            if *recorded != actual {
                mismatches.push((i, chunk.key.clone(), recorded.clone(), actual));
            }
        }
    }
    for (i, key, recorded, actual) in mismatches {
        let f = run
            .p7(
                format!("manifest {manifest}: chunk {i} etag is not the object's ETag"),
                &key,
            )
            .expected_seen(actual, recorded);
        run.tally.add("chunk etag", f);
    }
}

fn describe_problem(problem: &ChunkProblem) -> (&'static str, String, String) {
    match problem {
        ChunkProblem::Missing => (
            "does not exist",
            "the chunk object".to_string(),
            "no such object".to_string(),
        ),
        ChunkProblem::Size { manifest, object } => (
            "has the wrong size",
            manifest.to_string(),
            object.to_string(),
        ),
        ChunkProblem::Sha256 { manifest, object } => {
            ("has the wrong SHA-256", manifest.clone(), object.clone())
        }
    }
}

fn judge_stream(run: &mut Run, manifest: &str, verdict: &ChunkVerdict) {
    match &verdict.dump {
        DumpOutcome::Accepted => {}
        DumpOutcome::Rejected { status, stderr } => {
            let first = stderr.lines().next().unwrap_or("(no message)");
            let f = run
                .p7(format!("btrfs receive --dump rejects the concatenated chunks of manifest {manifest}"), manifest)
                .expected_seen("a valid send stream", format!("{status}: {first}"));
            run.tally.push(f);
        }
        DumpOutcome::NotRun(reason) => run.undecided(manifest, reason.clone()),
    }
    if let Some((first, reason)) = verdict.unverified.first() {
        let n = verdict.unverified.len();
        run.undecided(
            manifest,
            format!("{n} chunk(s) not hashed; first {first}: {reason}"),
        );
    }
}

/// Orphan chunks and incomplete multipart uploads, for the leftovers count (P14).
fn finish_leftovers(store: &dyn StoreView, prefix: &str, run: &mut Run) -> Result<(), StoreError> {
    let referenced: BTreeSet<&String> = run
        .loaded
        .values()
        .filter_map(|l| match l {
            Lookup::Found(link) => Some(link.chunks.iter().map(|c| &c.key)),
            _ => None,
        })
        .flatten()
        .collect();
    run.snapshot.orphan_chunks = run
        .snapshot
        .chunk_keys
        .iter()
        .filter(|k| !referenced.contains(k))
        .cloned()
        .collect();
    run.snapshot.uploads = store.uploads(prefix)?;
    Ok(())
}
