//! Chunking and uploading a `btrfs send` stream (CONTRACT.md section 9): chunk i is bytes
//! `[i*chunk_size, (i+1)*chunk_size)`, uploaded in order, each as one PutObject when it
//! holds at most 5 MiB and as a multipart upload (part size `min(chunk, 5 GiB)`, or the
//! spool size when spooling) otherwise, with the chunks' storage class and SSE on every
//! write. Memory is bounded by one part (or 5 MiB when spooling), never by the stream. A
//! failed multipart upload is aborted. This module must not publish manifests or touch
//! the state; the one place where the stream's end is known early is reported to the
//! caller through `at_end` (used only by the `pointer-before-last-chunk` defect).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::bugs::{self, Bug};
use crate::manifest::ChunkRecord;
use crate::s3::{PartBody, PutOptions, Store};

/// Largest chunk sent as a single PutObject.
pub const SMALL_OBJECT_MAX: u64 = 5 * 1024 * 1024;
/// Largest multipart part S3 accepts.
pub const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;
const READ_BLOCK: usize = 1024 * 1024;

/// Where multipart parts are staged when `s3.spool_enabled` is set.
#[derive(Clone, Debug)]
pub struct Spool {
    pub dir: PathBuf,
    pub size_bytes: u64,
}

/// Called once when the stream is known to end inside the chunk being uploaded, with the
/// records uploaded so far and the record the last chunk will have, before it is sent.
pub type AtEnd<'a> = dyn FnMut(&[ChunkRecord], &ChunkRecord) -> Result<(), String> + 'a;

/// Uploads a stream as chunks.
pub struct Chunker<'a> {
    pub store: &'a Store,
    pub chunk_size: u64,
    pub put: PutOptions<'a>,
    pub spool: Option<Spool>,
}

impl Chunker<'_> {
    /// Reads `stream` to its end, uploading chunk i to `key_for(i)`; returns the records.
    pub fn upload_all(
        &self,
        stream: &mut dyn Read,
        key_for: &dyn Fn(usize) -> String,
        at_end: &mut AtEnd,
    ) -> Result<Vec<ChunkRecord>, String> {
        let mut records: Vec<ChunkRecord> = Vec::new();
        loop {
            let key = key_for(records.len());
            let mut announce = |last: &ChunkRecord| at_end(&records, last);
            match self.upload_chunk(stream, &key, &mut announce)? {
                Uploaded::Chunk { record, stream_ended } => {
                    records.push(record);
                    if stream_ended {
                        return Ok(records);
                    }
                }
                Uploaded::Nothing => {
                    if bugs::on(Bug::EmptyTrailingChunk) && !records.is_empty() {
                        // Defect: the loop uploads whatever it read, even nothing.
                        records.push(self.put_small(&key, Vec::new(), &Sha256::new())?);
                    }
                    return Ok(records);
                }
            }
        }
    }

    /// Uploads the next chunk of the stream, if any bytes are left.
    fn upload_chunk(&self, stream: &mut dyn Read, key: &str, at_end: &mut dyn FnMut(&ChunkRecord) -> Result<(), String>) -> Result<Uploaded, String> {
        let mut hasher = Sha256::new();
        let want = self.chunk_size.min(SMALL_OBJECT_MAX + 1);
        let mut head = Vec::new();
        let (read, eof) = fill(stream, want, &mut hasher, &mut |b| {
            head.extend_from_slice(b);
            Ok(())
        })?;
        if read == 0 {
            return Ok(Uploaded::Nothing);
        }
        if read > SMALL_OBJECT_MAX {
            return self.upload_multipart(stream, key, head, hasher, at_end);
        }
        let stream_ended = eof;
        if stream_ended && read < self.chunk_size && bugs::on(Bug::DropLastPartialChunk) {
            // Defect: only whole chunks are uploaded; the short tail is lost.
            return Ok(Uploaded::Nothing);
        }
        if stream_ended {
            let predicted = record(key, predicted_etag(&head), &hasher, read);
            at_end(&predicted)?;
        }
        let record = self.put_small(key, head, &hasher)?;
        Ok(Uploaded::Chunk { record, stream_ended })
    }

    fn put_small(&self, key: &str, data: Vec<u8>, hasher: &Sha256) -> Result<ChunkRecord, String> {
        let size = data.len() as u64;
        let etag = self.store.put(key, Bytes::from(data), self.put)?;
        Ok(record(key, etag, hasher, size))
    }

    /// The multipart part size for this configuration.
    fn part_size(&self) -> Result<u64, String> {
        let mut part = self.chunk_size.min(MAX_PART);
        if let Some(spool) = &self.spool {
            if spool.size_bytes < SMALL_OBJECT_MAX {
                return Err("spool_size_bytes must be >= 5 MiB".to_string());
            }
            part = part.min(spool.size_bytes);
        }
        Ok(part)
    }

    fn upload_multipart(
        &self,
        stream: &mut dyn Read,
        key: &str,
        head: Vec<u8>,
        hasher: Sha256,
        at_end: &mut dyn FnMut(&ChunkRecord) -> Result<(), String>,
    ) -> Result<Uploaded, String> {
        let part_size = self.part_size()?;
        let upload_id = self.store.create_multipart(key, self.put)?;
        let mut upload = Multipart { chunker: self, key, upload_id: &upload_id, part_size, hasher, parts: Vec::new() };
        let outcome = upload.send_parts(stream, head, at_end);
        let finished = match outcome {
            Ok(Some((size, stream_ended))) => self
                .store
                .complete_multipart(key, &upload_id, &upload.parts)
                .map(|()| Uploaded::Chunk { record: record(key, None, &upload.hasher, size), stream_ended }),
            Ok(None) => Ok(Uploaded::Nothing),
            Err(e) => Err(e),
        };
        if !matches!(finished, Ok(Uploaded::Chunk { .. })) {
            self.store.abort_multipart(key, &upload_id);
        }
        finished
    }
}

enum Uploaded {
    Chunk { record: ChunkRecord, stream_ended: bool },
    Nothing,
}

/// One multipart upload in progress.
struct Multipart<'a> {
    chunker: &'a Chunker<'a>,
    key: &'a str,
    upload_id: &'a str,
    part_size: u64,
    hasher: Sha256,
    parts: Vec<(i32, String)>,
}

impl Multipart<'_> {
    /// Sends the chunk's parts; returns (chunk size, stream ended) or None if dropped.
    fn send_parts(
        &mut self,
        stream: &mut dyn Read,
        mut carry: Vec<u8>,
        at_end: &mut dyn FnMut(&ChunkRecord) -> Result<(), String>,
    ) -> Result<Option<(u64, bool)>, String> {
        let chunk_size = self.chunker.chunk_size;
        let mut consumed = 0u64;
        loop {
            let target = self.part_size.min(chunk_size - consumed);
            let mut part = PartData::new(self.chunker.spool.as_ref(), target)?;
            let rest = carry.split_off(carry.len().min(target as usize));
            part.append(&carry)?;
            carry = rest;
            let want = target - part.len();
            let (_, eof) = fill(stream, want, &mut self.hasher, &mut |b| part.append(b))?;
            consumed += part.len();
            let stream_ended = eof && carry.is_empty();
            let chunk_done = stream_ended || consumed == chunk_size;
            if stream_ended && consumed < chunk_size && bugs::on(Bug::DropLastPartialChunk) {
                return Ok(None);
            }
            if stream_ended {
                at_end(&record(self.key, None, &self.hasher, consumed))?;
            }
            if part.len() > 0 || self.parts.is_empty() {
                let number = self.parts.len() as i32 + 1;
                let etag = self.chunker.store.upload_part(self.key, self.upload_id, number, part.take_body()?)?;
                self.parts.push((number, etag));
            }
            if chunk_done {
                return Ok(Some((consumed, stream_ended)));
            }
        }
    }
}

/// One part's bytes, in memory or in a spool file.
enum PartData {
    Memory(Vec<u8>, u64),
    Spooled(SpoolFile),
}

impl PartData {
    fn new(spool: Option<&Spool>, target: u64) -> Result<PartData, String> {
        match spool {
            None => Ok(PartData::Memory(Vec::new(), target)),
            Some(s) => SpoolFile::create(&s.dir).map(PartData::Spooled),
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self {
            PartData::Memory(buf, target) => {
                let needed = buf.len() + bytes.len();
                if needed > buf.capacity() {
                    let grown = (buf.capacity() * 2).max(needed).min((*target as usize).max(needed));
                    buf.reserve_exact(grown - buf.len());
                }
                buf.extend_from_slice(bytes);
                Ok(())
            }
            PartData::Spooled(file) => file.append(bytes),
        }
    }

    fn len(&self) -> u64 {
        match self {
            PartData::Memory(buf, _) => buf.len() as u64,
            PartData::Spooled(file) => file.len,
        }
    }

    /// The body to upload; a spool file stays on disk until this `PartData` is dropped.
    fn take_body(&mut self) -> Result<PartBody, String> {
        match self {
            PartData::Memory(buf, _) => Ok(PartBody::Memory(Bytes::from(std::mem::take(buf)))),
            PartData::Spooled(file) => file.body(),
        }
    }
}

/// A staged part on disk; the file is removed when this is dropped.
struct SpoolFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl SpoolFile {
    fn create(dir: &Path) -> Result<SpoolFile, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create spool_dir {}: {e}", dir.display()))?;
        remove_dead_spool_files(dir);
        let n = SPOOL_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("b2s3-ref-{}-{n}.part", std::process::id()));
        let file = File::create(&path).map_err(|e| format!("cannot create spool file {}: {e}", path.display()))?;
        Ok(SpoolFile { path, file, len: 0 })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.file.write_all(bytes).map_err(|e| format!("cannot write spool file {}: {e}", self.path.display()))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn body(&mut self) -> Result<PartBody, String> {
        self.file.flush().map_err(|e| format!("cannot flush spool file {}: {e}", self.path.display()))?;
        Ok(PartBody::File(self.path.clone()))
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

static SPOOL_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Removes spool files left by killed runs (their PID is gone).
fn remove_dead_spool_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix("b2s3-ref-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if matches!(pid, Some(p) if p != std::process::id() && !crate::lock::pid_alive(p)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads up to `want` bytes, hashing them and handing them to `sink` in blocks.
/// Returns (bytes read, whether the stream ended before `want`).
fn fill(
    stream: &mut dyn Read,
    want: u64,
    hasher: &mut Sha256,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<(u64, bool), String> {
    let mut block = vec![0u8; READ_BLOCK.min(want.max(1) as usize)];
    let mut got = 0u64;
    while got < want {
        let room = block.len().min((want - got) as usize);
        let n = match stream.read(&mut block[..room]) {
            Ok(0) => return Ok((got, true)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read the btrfs send stream: {e}")),
        };
        hasher.update(&block[..n]);
        sink(&block[..n])?;
        got += n as u64;
    }
    Ok((got, false))
}

fn record(key: &str, etag: Option<String>, hasher: &Sha256, size: u64) -> ChunkRecord {
    ChunkRecord { etag, key: key.to_string(), sha256: hex::encode(hasher.clone().finalize()), size }
}

/// The ETag S3 gives a single-part SSE-S3 object: its MD5 in quotes.
fn predicted_etag(data: &[u8]) -> Option<String> {
    use md5::Digest as _;
    Some(format!("\"{}\"", hex::encode(md5::Md5::digest(data))))
}
