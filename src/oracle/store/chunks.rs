//! Chunk verification for one manifest: every chunk exists with the manifest's size and
//! SHA-256 (downloaded and hashed; archived chunks by size only), and the chunks, in
//! order, form a stream `btrfs receive --dump` accepts. One download serves both checks,
//! and results are cached by key, size and ETag, since the tool never overwrites a chunk.
//!
//! This module reads objects and spawns `btrfs receive --dump` (which only parses its
//! stdin); it writes nothing anywhere.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;

use crate::oracle::manifest::{sha256_hex, ChainLink};
use crate::s3::view::{ObjectInfo, StoreError, StoreView};

/// Identity of an object's content: key, size and ETag.
pub(super) type Fingerprint = (String, u64, Option<String>);

pub(super) fn fingerprint(info: &ObjectInfo) -> Fingerprint {
    (info.key.clone(), info.size, info.etag.clone())
}

/// What is wrong with one chunk of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkProblem {
    Missing,
    Size { manifest: u64, object: u64 },
    Sha256 { manifest: String, object: String },
}

/// What `btrfs receive --dump` said about a manifest's concatenated chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpOutcome {
    Accepted,
    Rejected {
        status: String,
        stderr: String,
    },
    /// The check could not be made; the reason says why.
    NotRun(String),
}

/// The verdict on the chunks of one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkVerdict {
    /// (chunk index, key, problem), in chunk order.
    pub problems: Vec<(usize, String, ChunkProblem)>,
    /// Chunks whose SHA-256 could not be checked, with the reason (archived, S3 error).
    pub unverified: Vec<(String, String)>,
    pub dump: DumpOutcome,
}

/// How the stream check is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpMode {
    /// Run this command (default `btrfs receive --dump`) with the stream on stdin.
    Run(Vec<String>),
    /// Skip it, and say so in every report.
    Off,
}

impl Default for DumpMode {
    fn default() -> Self {
        DumpMode::Run(vec!["btrfs".into(), "receive".into(), "--dump".into()])
    }
}

/// Hashes and stream verdicts kept between invocations of one case.
#[derive(Debug, Default)]
pub(super) struct ChunkCache {
    hashes: HashMap<Fingerprint, String>,
    dumps: HashMap<Vec<Fingerprint>, DumpOutcome>,
    /// Number of chunk bodies downloaded so far (for reports and tests).
    pub downloads: u64,
}

/// Verifies the chunks of one manifest. `info_of` gives the object's metadata, `None`
/// when it does not exist.
pub(super) fn verify_chunks(
    store: &dyn StoreView,
    link: &ChainLink,
    info_of: &mut dyn FnMut(&str) -> Option<ObjectInfo>,
    cache: &mut ChunkCache,
    mode: &DumpMode,
) -> ChunkVerdict {
    let mut verdict = ChunkVerdict {
        problems: Vec::new(),
        unverified: Vec::new(),
        dump: DumpOutcome::Accepted,
    };
    let prints = presence(link, info_of, &mut verdict);
    let all: Option<Vec<Fingerprint>> = prints.iter().cloned().collect();
    let mut sink = match (&all, mode) {
        (_, DumpMode::Off) => Sink::idle("stream check disabled"),
        (None, _) => Sink::idle("a chunk is missing or has the wrong size"),
        (Some(all), _) if cache.dumps.contains_key(all) => Sink::Cached(cache.dumps[all].clone()),
        (Some(_), DumpMode::Run(argv)) => Sink::start(argv),
    };
    for (index, (chunk, print)) in link.chunks.iter().zip(&prints).enumerate() {
        let Some(print) = print else { continue };
        let hash = match cache.hashes.get(print).filter(|_| !sink.wants_bytes()) {
            Some(hash) => hash.clone(),
            None => match download(store, &chunk.key, cache, &mut sink) {
                Ok(hash) => {
                    cache.hashes.insert(print.clone(), hash.clone());
                    hash
                }
                Err(reason) => {
                    sink.abandon(&format!("chunk {} could not be read", chunk.key));
                    verdict.unverified.push((chunk.key.clone(), reason));
                    continue;
                }
            },
        };
        if hash != chunk.sha256 {
            sink.abandon(&format!("chunk {} does not match its sha256", chunk.key));
            let problem = ChunkProblem::Sha256 {
                manifest: chunk.sha256.clone(),
                object: hash,
            };
            verdict.problems.push((index, chunk.key.clone(), problem));
        }
    }
    verdict.dump = sink.finish();
    if let (Some(all), DumpOutcome::Accepted | DumpOutcome::Rejected { .. }) = (all, &verdict.dump)
    {
        cache.dumps.insert(all, verdict.dump.clone());
    }
    verdict
}

/// Existence and size of each chunk; the fingerprint of those that pass.
fn presence(
    link: &ChainLink,
    info_of: &mut dyn FnMut(&str) -> Option<ObjectInfo>,
    verdict: &mut ChunkVerdict,
) -> Vec<Option<Fingerprint>> {
    let mut prints = Vec::new();
    for (index, chunk) in link.chunks.iter().enumerate() {
        let problem = match info_of(&chunk.key) {
            None => Some(ChunkProblem::Missing),
            Some(info) if info.size != chunk.size => Some(ChunkProblem::Size {
                manifest: chunk.size,
                object: info.size,
            }),
            Some(info) => {
                prints.push(Some(fingerprint(&info)));
                None
            }
        };
        if let Some(problem) = problem {
            verdict.problems.push((index, chunk.key.clone(), problem));
            prints.push(None);
        }
    }
    prints
}

fn download(
    store: &dyn StoreView,
    key: &str,
    cache: &mut ChunkCache,
    sink: &mut Sink,
) -> Result<String, String> {
    let body = store.get(key).map_err(|e| match e {
        StoreError::Archived(_) => {
            "archived and not restored: size checked by HeadObject only, SHA-256 not verified"
                .to_string()
        }
        other => format!("download failed, SHA-256 not verified: {other}"),
    })?;
    cache.downloads += 1;
    sink.feed(&body);
    Ok(sha256_hex(&body))
}

/// Where downloaded chunk bytes go for the stream check.
enum Sink {
    Idle(String),
    Cached(DumpOutcome),
    Running {
        child: Child,
        stdin: Option<ChildStdin>,
        stderr: Option<JoinHandle<String>>,
    },
}

impl Sink {
    fn idle(reason: &str) -> Sink {
        Sink::Idle(format!("btrfs receive --dump not run: {reason}"))
    }

    fn start(argv: &[String]) -> Sink {
        let Some((program, args)) = argv.split_first() else {
            return Sink::idle("empty dump command");
        };
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Err(e) => Sink::idle(&format!("could not start {}: {e}", argv.join(" "))),
            Ok(mut child) => {
                let stdin = child.stdin.take();
                let mut err = child.stderr.take();
                let stderr = std::thread::spawn(move || {
                    let mut text = String::new();
                    if let Some(err) = err.as_mut() {
                        let _ = err.read_to_string(&mut text);
                    }
                    text
                });
                Sink::Running {
                    child,
                    stdin,
                    stderr: Some(stderr),
                }
            }
        }
    }

    fn wants_bytes(&self) -> bool {
        matches!(self, Sink::Running { .. })
    }

    /// A write error means the process stopped reading: its exit status tells why.
    fn feed(&mut self, bytes: &[u8]) {
        if let Sink::Running {
            stdin: Some(pipe), ..
        } = self
        {
            if pipe.write_all(bytes).is_err() {
                if let Sink::Running { stdin, .. } = self {
                    *stdin = None;
                }
            }
        }
    }

    fn abandon(&mut self, reason: &str) {
        if let Sink::Running { child, stdin, .. } = self {
            *stdin = None;
            let _ = child.kill();
            let _ = child.wait();
        }
        if !matches!(self, Sink::Idle(_)) {
            *self = Sink::idle(reason);
        }
    }

    fn finish(self) -> DumpOutcome {
        match self {
            Sink::Idle(reason) => DumpOutcome::NotRun(reason),
            Sink::Cached(outcome) => outcome,
            Sink::Running {
                mut child,
                stdin,
                stderr,
            } => {
                drop(stdin);
                let status = child.wait();
                let text = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
                match status {
                    Ok(s) if s.success() => DumpOutcome::Accepted,
                    Ok(s) => DumpOutcome::Rejected {
                        status: s.to_string(),
                        stderr: text.trim().to_string(),
                    },
                    Err(e) => {
                        DumpOutcome::NotRun(format!("waiting for btrfs receive --dump failed: {e}"))
                    }
                }
            }
        }
    }
}
