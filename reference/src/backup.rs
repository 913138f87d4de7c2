//! The `backup` command (CONTRACT.md sections 1.1, 5-11): lock, state, plan, then per due
//! subvolume snapshot -> `btrfs send [-p]` -> chunks -> manifest -> `current.json` ->
//! retention, and finally the state file, once, if every subvolume succeeded. Every
//! failure ends in an `event=...` line and an exit code of section 1.3. This module owns
//! the order of those steps (the publish order is what keeps `current.json` valid at
//! every moment); it must not format JSON, build keys or run `btrfs` itself.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::bugs::{self, Bug};
use crate::config::{subvolume_name, Config};
use crate::lock::{self, AcquireError, LockGuard};
use crate::logging::{format_elapsed, format_throughput};
use crate::manifest::{ChunkRecord, Kind, Layout, Manifest, Pointer};
use crate::planner::{self, Decision, Fallback, Schedule};
use crate::s3::{self, PutOptions, Store};
use crate::snapshots;
use crate::state::{State, SubvolumeState};
use crate::upload::{Chunker, Spool};
use crate::{btrfs, event, timefmt};

/// Set (to anything) by the project's harness: back up only the first subvolume and
/// write a local `<dir>/manifest.json`.
pub const HARNESS_RUN_DIR: &str = "BTRFS_TO_S3_HARNESS_RUN_DIR";

/// Flags of `backup` after parsing.
#[derive(Clone, Debug, Default)]
pub struct BackupArgs {
    pub dry_run: bool,
    pub subvolumes: Vec<String>,
    pub once: bool,
    pub no_s3: bool,
}

/// Runs `backup`; returns the exit code.
pub fn run(cfg: &Config, args: &BackupArgs) -> i32 {
    let filter = if args.subvolumes.is_empty() { "None".to_string() } else { args.subvolumes.join(",") };
    event!(Info, "command_start", command = "backup", subvolume_filter = filter);
    if args.dry_run {
        event!(Info, "backup_dry_run", status = "skipped");
        return 0;
    }
    let selected = select_subvolumes(cfg, &args.subvolumes);
    if selected.is_empty() {
        event!(Error, "backup_no_subvolumes", status = "failed");
        return 2;
    }
    let (guard, took_over_stale) = match take_lock(&cfg.lock_path) {
        Ok(taken) => taken,
        Err(code) => return code,
    };
    if took_over_stale {
        // The dead holder may have started in this very second: make our run timestamp
        // and snapshot names strictly later than anything it created.
        snapshots::wait_for_next_second();
    }
    let layout = Layout { prefix: cfg.s3.prefix.clone() };
    let mut job = Run { cfg, args, now: Utc::now(), layout, latest_snapshot_second: None };
    let code = job.execute(&selected);
    if let Some(second) = job.latest_snapshot_second {
        // Hold the lock past the second of our snapshots (and so of our run timestamp):
        // the next run can then reuse neither a snapshot name nor an S3 key of ours.
        snapshots::wait_until_after(second);
    }
    if let Some(guard) = guard {
        guard.release();
    }
    code
}

/// Configured subvolumes kept by `--subvolume` (or the harness variable), in config order.
fn select_subvolumes(cfg: &Config, filter: &[String]) -> Vec<(String, PathBuf)> {
    let all = cfg.subvolumes.iter().filter_map(|p| subvolume_name(p).map(|n| (n, p.clone())));
    if !filter.is_empty() {
        all.filter(|(name, _)| filter.contains(name)).collect()
    } else if std::env::var_os(HARNESS_RUN_DIR).is_some() {
        all.take(1).collect()
    } else {
        all.collect()
    }
}

fn take_lock(path: &Path) -> Result<(Option<LockGuard>, bool), i32> {
    if bugs::on(Bug::NoLock) {
        // Defect: no lock at all. The pause stands for a long upload, so that two runs
        // started together really overlap.
        std::thread::sleep(bugs::NO_LOCK_OVERLAP);
        return Ok((None, false));
    }
    if bugs::on(Bug::StaleLockNeverTaken) {
        // Defect: any lock file counts as held, even one left by a dead process.
        if let Some(pid) = lock::existing_holder(path) {
            event!(Error, "backup_lock_failed", error = format!("lock already held by pid {pid}"));
            return Err(1);
        }
    }
    match lock::acquire(path) {
        Ok(acquired) => Ok((Some(acquired.guard), acquired.took_over_stale)),
        Err(AcquireError::Held(pid)) => {
            event!(Error, "backup_lock_failed", error = format!("lock already held by pid {pid}"));
            Err(1)
        }
        Err(AcquireError::Io(e)) => {
            event!(Error, "backup_lock_failed", error = e);
            Err(1)
        }
    }
}

/// One subvolume's due backup.
struct Job {
    name: String,
    source: PathBuf,
    kind: Kind,
    parent_snapshot: Option<PathBuf>,
    parent_manifest: Option<String>,
    last_full_at: String,
}

/// One locked backup run.
struct Run<'a> {
    cfg: &'a Config,
    args: &'a BackupArgs,
    now: DateTime<Utc>,
    layout: Layout,
    /// Unix second of the newest snapshot this run made, if any.
    latest_snapshot_second: Option<i64>,
}

impl Run<'_> {
    fn ts(&self) -> String {
        timefmt::compact(self.now)
    }

    fn execute(&mut self, selected: &[(String, PathBuf)]) -> i32 {
        let mut state = match State::load(&self.cfg.state_path) {
            Ok(state) => state,
            Err(e) => {
                event!(Error, "backup_state_failed", error = e);
                return 1;
            }
        };
        let mut due = Vec::new();
        for (name, source) in selected {
            match self.decide(name, source, &state) {
                Ok(Some(job)) => due.push(job),
                Ok(None) => {}
                Err(e) => {
                    event!(Error, "backup_failed", subvolume = name, error = e);
                    return 1;
                }
            }
        }
        if due.is_empty() {
            event!(Info, "backup_not_due", status = "skipped");
            return 0;
        }
        if self.args.no_s3 || !s3::credentials_present() {
            event!(Info, "backup_no_s3", status = "skipped");
            return 0;
        }
        let store = match Store::connect(&self.cfg.s3.bucket, &self.cfg.s3.region) {
            Ok(store) => store,
            Err(e) => {
                event!(Error, "backup_failed", error = e);
                return 1;
            }
        };
        self.back_up_all(&store, &mut state, &due)
    }

    fn back_up_all(&mut self, store: &Store, state: &mut State, due: &[Job]) -> i32 {
        let mut done = Vec::new();
        for job in due {
            match self.back_up(store, state, job) {
                Ok(entry) => done.push((job.name.clone(), entry)),
                Err(()) => return 1,
            }
        }
        state.last_run_at = Some(self.ts());
        state.subvolumes.extend(done);
        if let Err(e) = state.save(&self.cfg.state_path) {
            event!(Error, "backup_state_failed", error = e);
            return 1;
        }
        0
    }

    /// Plans one subvolume and logs why it is skipped or falls back to a full.
    fn decide(&self, name: &str, source: &Path, state: &State) -> Result<Option<Job>, String> {
        let local = snapshots::list(&self.cfg.snapshots_base_dir, name)?;
        let schedule = Schedule {
            full_every_days: self.cfg.full_every_days,
            incremental_every_days: self.cfg.incremental_every_days,
            once: self.args.once,
        };
        let full = |fallback| {
            match fallback {
                Some(Fallback::ParentMissing(path)) => event!(Info, "backup_parent_missing", subvolume = name, path = path),
                Some(Fallback::ParentManifestMissing) => event!(Info, "backup_parent_manifest_missing", subvolume = name),
                None => {}
            }
            Job { name: name.into(), source: source.into(), kind: Kind::Full, parent_snapshot: None, parent_manifest: None, last_full_at: self.ts() }
        };
        match planner::plan(state.subvolumes.get(name), &local, self.now, schedule) {
            Decision::NotDue => {
                event!(Info, "backup_not_due", subvolume = name, reason = "incremental_not_due");
                Ok(None)
            }
            Decision::Full { fallback } => Ok(Some(full(fallback))),
            Decision::Incremental { parent_snapshot, parent_manifest, last_full_at } => {
                let parent_manifest = if bugs::on(Bug::WrongParentManifest) {
                    // Defect: links every incremental to the full, skipping the chain.
                    self.layout.manifest_key(name, Kind::Full, &last_full_at)
                } else {
                    parent_manifest
                };
                Ok(Some(Job {
                    name: name.into(),
                    source: source.into(),
                    kind: Kind::Incremental,
                    parent_snapshot: Some(parent_snapshot),
                    parent_manifest: Some(parent_manifest),
                    last_full_at,
                }))
            }
        }
    }

    /// Backs up one subvolume; Err after its failure event was logged.
    fn back_up(&mut self, store: &Store, state: &mut State, job: &Job) -> Result<SubvolumeState, ()> {
        let snapshot = snapshots::create(&self.cfg.snapshots_base_dir, &job.source, &job.name, job.kind.snapshot_suffix())
            .map_err(|e| event!(Error, "backup_snapshot_failed", subvolume = job.name, error = e))?;
        self.latest_snapshot_second = Some(Utc::now().timestamp());
        let kind = job.kind.snapshot_suffix();
        event!(Info, "snapshot_created", subvolume = job.name, path = snapshot.display(), kind = kind);
        let manifest_key = self.layout.manifest_key(&job.name, job.kind, &self.ts());
        let entry = SubvolumeState {
            last_full_at: Some(job.last_full_at.clone()),
            last_manifest: Some(manifest_key.clone()),
            last_snapshot: Some(snapshot.to_string_lossy().into_owned()),
        };
        if bugs::on(Bug::StateBeforeUpload) {
            // Defect: records the new backup before it exists in S3.
            state.subvolumes.insert(job.name.clone(), entry.clone());
            let _ = state.save(&self.cfg.state_path);
        }
        let started = Instant::now();
        let streamed = self.stream(store, job, &snapshot, &manifest_key)?;
        if !streamed.published {
            self.publish(store, &streamed.manifest, &manifest_key).map_err(|e| {
                event!(Error, "backup_stream_failed", subvolume = job.name, error = e, btrfs_send_error = "")
            })?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (total, count) = (streamed.stream_bytes, streamed.manifest.chunks.len());
        let (secs, rate) = (format_elapsed(elapsed), format_throughput(total, elapsed));
        event!(Info, "backup_metrics", subvolume = job.name, total_bytes = total, elapsed_seconds = secs, throughput = rate);
        event!(Info, "backup_uploaded", subvolume = job.name, manifest_key = manifest_key, chunk_count = count);
        write_harness_manifest(&streamed.manifest);
        for (path, e) in snapshots::prune(&self.cfg.snapshots_base_dir, &job.name, self.cfg.retain, job.parent_snapshot.as_deref()) {
            event!(Warning, "snapshot_prune_failed", subvolume = job.name, path = path.display(), error = e);
        }
        Ok(entry)
    }

    /// The `-p` parent given to `btrfs send`.
    fn send_parent(&self, job: &Job, snapshot: &Path) -> Option<PathBuf> {
        if bugs::on(Bug::SendWrongParent) && job.parent_snapshot.is_some() {
            // Defect: takes the newest local snapshot as parent instead of the recorded one.
            let local = snapshots::list(&self.cfg.snapshots_base_dir, &job.name).unwrap_or_default();
            return local.into_iter().rev().map(|s| s.path).find(|p| p != snapshot);
        }
        job.parent_snapshot.clone()
    }

    /// Streams `btrfs send` into chunks; Err after its failure event was logged.
    fn stream(&self, store: &Store, job: &Job, snapshot: &Path, manifest_key: &str) -> Result<Streamed, ()> {
        let fail = |e: &str, stderr: &str| {
            event!(Error, "backup_stream_failed", subvolume = job.name, error = e, btrfs_send_error = stderr)
        };
        let mut send = btrfs::Send::spawn(snapshot, self.send_parent(job, snapshot).as_deref()).map_err(|e| fail(&e, ""))?;
        let spool = self.cfg.s3.spool_enabled.then(|| Spool { dir: self.cfg.spool_dir.clone(), size_bytes: self.cfg.spool_size_bytes });
        let chunker = Chunker { store, chunk_size: self.cfg.s3.chunk_size_bytes, put: self.chunk_options(), spool };
        let ts = self.ts();
        let key_for = |i: usize| self.layout.chunk_key(&job.name, job.kind, &ts, i);
        let mut published = false;
        let mut at_end = |done: &[ChunkRecord], last: &ChunkRecord| {
            if !bugs::on(Bug::PointerBeforeLastChunk) {
                return Ok(());
            }
            // Defect: publishes as soon as the stream's end is read, before the last upload.
            let mut all = done.to_vec();
            all.push(last.clone());
            self.publish(store, &self.manifest(job, snapshot, all), manifest_key)?;
            published = true;
            std::thread::sleep(bugs::CRASH_WINDOW);
            Ok(())
        };
        let records = match chunker.upload_all(&mut send.stdout, &key_for, &mut at_end) {
            Ok(records) => records,
            Err(e) => {
                fail(&e, &send.stop());
                return Err(());
            }
        };
        if let Err(stderr) = send.finish() {
            event!(Error, "btrfs_send_failed", subvolume = job.name, error = stderr);
            return Err(());
        }
        let stream_bytes = records.iter().map(|c| c.size).sum();
        Ok(Streamed { manifest: self.manifest(job, snapshot, records), stream_bytes, published })
    }

    fn manifest(&self, job: &Job, snapshot: &Path, mut chunks: Vec<ChunkRecord>) -> Manifest {
        if bugs::on(Bug::WrongManifestSize) {
            // Defect: assumes every chunk is full-sized, the short last one included.
            chunks.iter_mut().for_each(|c| c.size = self.cfg.s3.chunk_size_bytes);
        }
        Manifest {
            subvolume: job.name.clone(),
            kind: job.kind,
            created_at: self.ts(),
            snapshot_name: snapshot.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            snapshot_path: snapshot.to_string_lossy().into_owned(),
            parent_manifest: job.parent_manifest.clone(),
            total_bytes: chunks.iter().map(|c| c.size).sum(),
            chunks,
            chunk_size: self.cfg.s3.chunk_size_bytes,
            storage_class: self.cfg.s3.storage_class_chunks.clone(),
        }
    }

    fn chunk_options(&self) -> PutOptions<'_> {
        PutOptions { storage_class: &self.cfg.s3.storage_class_chunks, sse: Some(&self.cfg.s3.sse), content_type: None }
    }

    fn document_options(&self) -> PutOptions<'_> {
        let s3 = &self.cfg.s3;
        PutOptions {
            // Defects: documents stored like chunks, or without SSE.
            storage_class: if bugs::on(Bug::ManifestChunkClass) { &s3.storage_class_chunks } else { &s3.storage_class_manifest },
            sse: if bugs::on(Bug::MissingSse) { None } else { Some(&s3.sse) },
            content_type: Some("application/json"),
        }
    }

    /// PUTs the manifest, then `current.json` (the pointer must never name a missing manifest).
    fn publish(&self, store: &Store, manifest: &Manifest, manifest_key: &str) -> Result<(), String> {
        let pointer = Pointer { created_at: self.ts(), kind: manifest.kind, manifest_key: manifest_key.to_string() };
        let pointer_key = self.layout.pointer_key(&manifest.subvolume);
        let manifest_body = Bytes::from(manifest.to_json().to_python_pretty());
        let pointer_body = Bytes::from(pointer.to_json().to_python_pretty());
        let opts = self.document_options();
        if bugs::on(Bug::PointerBeforeManifest) {
            // Defect: the pointer goes first; a crash before the manifest leaves it dangling.
            store.put(&pointer_key, pointer_body, opts)?;
            std::thread::sleep(bugs::CRASH_WINDOW);
            return store.put(manifest_key, manifest_body, opts).map(drop);
        }
        store.put(manifest_key, manifest_body, opts)?;
        store.put(&pointer_key, pointer_body, opts).map(drop)
    }
}

/// What streaming one subvolume produced.
struct Streamed {
    manifest: Manifest,
    /// Bytes read from `btrfs send` (what the metrics report).
    stream_bytes: u64,
    /// True if the manifest and pointer were already published.
    published: bool,
}

/// Writes `<BTRFS_TO_S3_HARNESS_RUN_DIR>/manifest.json` when the variable is set.
fn write_harness_manifest(manifest: &Manifest) {
    let Some(dir) = std::env::var_os(HARNESS_RUN_DIR) else { return };
    let dir = PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    if let Err(e) = std::fs::write(dir.join("manifest.json"), manifest.to_json().to_python_pretty()) {
        event!(Warning, "harness_manifest_failed", path = dir.join("manifest.json").display(), error = e);
    }
}
