//! From a [`Skeleton`] to a concrete [`Plan`]: the tool settings, the subvolumes'
//! initial trees and the steps, replaying every operation on one model per subvolume
//! (see `gen::ops`). Besides keeping operations valid, the builder makes the plan
//! useful: restores only name subvolumes that some earlier normal backup included
//! (others are dropped), faults only ride on normal backups, kill points count
//! events and requests within what the run can reach, and a killed or failed backup
//! may be followed at once by its recovery (the same backup, `--once`, no fault),
//! within the profile's `steps_max`.
//!
//! One abstract step expands into a pattern of concrete steps: `ExactChunks` becomes
//! `chunk_size_from_last_full`, `force_full` and a `--once` backup of that subvolume,
//! so the new full's send stream (same tree, same length) is an exact multiple of the
//! chunk size. When the subvolume changed since its last full the builder knows of, a
//! forced full backup goes first, so that "the last full" is of the current tree.

use std::collections::BTreeSet;

use super::choices::{Choices, NEAR_PUT, PUT_THRESHOLD};
use super::ops::apply_op;
use super::plan::*;
use super::profile::GenProfile;
use super::skeleton::{AbsBackup, AbsFault, AbsRestore, AbsSettings, AbsStep, FaultKind, Skeleton};
use crate::model::ModelTree;

const MIB: u64 = 1024 * 1024;

/// Subvolume names: dashes, underscores, dots, a double underscore (the separator of
/// snapshot names), case twins.
pub const SUBVOLUME_NAMES: &[&str] = &[
    "data",
    "home",
    "srv",
    "var_lib",
    "photos-2024",
    "Data",
    "my__vol",
    "x.y",
    "a",
    "backup.d",
    "Mail",
    "vol-1",
];
/// Backup log events a kill may wait for (CONTRACT.md section 2).
pub const BACKUP_KILL_EVENTS: &[&str] =
    &["command_start", "snapshot_created", "backup_metrics", "backup_uploaded"];
/// Restore log events a kill may wait for.
pub const RESTORE_KILL_EVENTS: &[&str] = &["command_start", "restore_metrics"];

/// The concrete plan of a skeleton.
pub(crate) fn build(sk: &Skeleton, seed: u64, case: u64, profile: &GenProfile) -> Plan {
    let tool = tool_settings(&sk.settings, profile);
    let choices = Choices { profile, chunk: tool.chunk_size_bytes };
    let drawn = usize::from(sk.first_backup) + sk.steps.len() + usize::from(sk.final_restore.is_some());
    let mut b = Builder {
        c: &choices,
        names: Vec::new(),
        models: Vec::new(),
        backed_up: BTreeSet::new(),
        clean_full: BTreeSet::new(),
        steps: Vec::new(),
        spare: (profile.steps_max as usize).saturating_sub(drawn),
        later: 0,
        skip: false,
    };
    let mut subvolumes = Vec::new();
    for s in &sk.subvols {
        let name = b.fresh_name(s.name);
        let mut model = ModelTree::new();
        let initial = s.init.iter().flat_map(|op| apply_op(op, &mut model, &choices)).collect();
        subvolumes.push(SubvolumePlan { name: name.clone(), initial });
        b.names.push(name);
        b.models.push(model);
    }
    if sk.first_backup {
        b.backed_up.extend(0..b.names.len());
        b.clean_full.extend(0..b.names.len());
        b.steps.push(Step::Backup(BackupStep {
            gap_ms: 0,
            subvolumes: Vec::new(),
            once: false,
            mode: BackupMode::Normal,
            fault: None,
        }));
    }
    for (i, s) in sk.steps.iter().enumerate() {
        if std::mem::take(&mut b.skip) {
            continue;
        }
        b.later = sk.steps.len() - i - 1 + usize::from(sk.final_restore.is_some());
        b.step(s);
    }
    if let Some(sel) = sk.final_restore.filter(|_| !b.skip) {
        b.final_restore(sel);
    }
    Plan {
        format: PLAN_FORMAT,
        seed: Some(seed),
        case: Some(case),
        name: String::new(),
        tool,
        subvolumes,
        steps: b.steps,
    }
}

fn tool_settings(s: &AbsSettings, p: &GenProfile) -> ToolSettings {
    let chunk_size_bytes = if s.near_put {
        PUT_THRESHOLD.saturating_add_signed(NEAR_PUT[s.chunk as usize % NEAR_PUT.len()])
    } else {
        p.chunk_size_min + u64::from(s.chunk) % (p.chunk_size_max - p.chunk_size_min + 1)
    };
    let storage_class_chunks = match s.archive {
        None => "STANDARD",
        Some(false) => "GLACIER",
        Some(true) => "DEEP_ARCHIVE",
    };
    let (spool_enabled, spool_size_bytes) = match s.spool {
        None => (false, 256 * MIB),
        Some((true, n)) => (true, MIB + u64::from(n) % (4 * MIB)),
        Some((false, n)) => (true, 8 * MIB + u64::from(n) % (56 * MIB)),
    };
    ToolSettings {
        chunk_size_bytes,
        retain: s.retain,
        storage_class_chunks: storage_class_chunks.into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
        concurrency: s.concurrency,
        spool_enabled,
        spool_size_bytes,
        full_every_days: 180,
        incremental_every_days: 7,
        verify_mode: s.verify,
        sample_max_files: [1, 2, 5, 1000][s.sample as usize % 4],
        wait_for_restore: !s.no_wait,
        restore_timeout_seconds: 120,
    }
}

struct Builder<'a> {
    c: &'a Choices<'a>,
    names: Vec<String>,
    models: Vec<ModelTree>,
    /// Subvolumes some normal backup has included so far.
    backed_up: BTreeSet<usize>,
    /// Subvolumes whose last published full (with the correct tool) is of their current
    /// tree: a full with no fault and no mutation since.
    clean_full: BTreeSet<usize>,
    steps: Vec<Step>,
    /// Steps that may still be added beyond the skeleton's (recovery backups) without
    /// going over `steps_max`.
    spare: usize,
    /// Skeleton steps after the one being built, the final restore included.
    later: usize,
    /// The next skeleton step (or the final restore) gave its place to a recovery
    /// backup: skip it.
    skip: bool,
}

impl Builder<'_> {
    fn fresh_name(&self, sel: u8) -> String {
        let n = SUBVOLUME_NAMES.len();
        (0..n)
            .map(|k| SUBVOLUME_NAMES[(sel as usize + k) % n])
            .find(|name| !self.names.iter().any(|t| t == name))
            .expect("more names than subvolumes")
            .to_owned()
    }

    fn index(&self, sel: u8) -> usize {
        sel as usize % self.names.len()
    }

    fn step(&mut self, s: &AbsStep) {
        let step = match s {
            AbsStep::Mutate { subvol, ops } => {
                let i = self.index(*subvol);
                let c = self.c;
                let model = &mut self.models[i];
                let ops: Vec<Mutation> = ops.iter().flat_map(|op| apply_op(op, model, c)).collect();
                if ops.is_empty() {
                    return;
                }
                self.clean_full.remove(&i);
                Step::Mutate { subvolume: self.names[i].clone(), ops }
            }
            AbsStep::Backup(b) => {
                let step = self.backup(b);
                let recovery = self.recovery(b, &step);
                self.steps.push(step);
                self.steps.extend(recovery);
                return;
            }
            AbsStep::Restore(r) => match self.restore(r) {
                Some(step) => step,
                None => return,
            },
            AbsStep::ForceFull { subvol } => {
                Step::ForceFull { subvolume: self.names[self.index(*subvol)].clone() }
            }
            AbsStep::DeleteSnapshot { subvol, newest } => Step::DeleteSnapshot {
                subvolume: self.names[self.index(*subvol)].clone(),
                which: if *newest { SnapshotPick::Newest } else { SnapshotPick::Oldest },
            },
            AbsStep::DeleteState => Step::DeleteState,
            AbsStep::ExactChunks { subvol, parts, gap } => {
                return self.exact_chunks(self.index(*subvol), *parts, *gap);
            }
        };
        self.steps.push(step);
    }

    /// The chunk-boundary pattern for subvolume `i` (see the module docs).
    fn exact_chunks(&mut self, i: usize, parts: u8, gap: u32) {
        let subvolume = self.names[i].clone();
        let p = self.c.profile;
        let gap_ms = p.gap_ms_min + u64::from(gap) % (p.gap_ms_max - p.gap_ms_min + 1);
        let full = |b: &mut Self| {
            b.steps.push(Step::ForceFull { subvolume: subvolume.clone() });
            b.steps.push(Step::Backup(BackupStep {
                gap_ms,
                subvolumes: vec![subvolume.clone()],
                once: true,
                mode: BackupMode::Normal,
                fault: None,
            }));
        };
        if !self.clean_full.contains(&i) {
            full(self);
        }
        self.steps.push(Step::ChunkSizeFromLastFull {
            subvolume: subvolume.clone(),
            parts: 1 + u32::from(parts) % 4,
        });
        full(self);
        self.backed_up.insert(i);
        self.clean_full.insert(i);
    }

    fn backup(&mut self, b: &AbsBackup) -> Step {
        let mut included: Vec<usize> = Vec::new();
        for sel in b.filter.iter().flatten() {
            let i = self.index(*sel);
            if !included.contains(&i) {
                included.push(i);
            }
        }
        let subvolumes = included.iter().map(|i| self.names[*i].clone()).collect();
        let in_run = if included.is_empty() { self.names.len() } else { included.len() } as u32;
        if included.is_empty() {
            included.extend(0..self.names.len());
        }
        let fault = match b.mode {
            BackupMode::Normal => {
                self.backed_up.extend(included);
                b.fault.map(|f| fault(&f, in_run))
            }
            _ => None,
        };
        let p = self.c.profile;
        let gap_ms = match b.short_gap {
            true => u64::from(b.gap) % 1000,
            false => p.gap_ms_min + u64::from(b.gap) % (p.gap_ms_max - p.gap_ms_min + 1),
        };
        Step::Backup(BackupStep { gap_ms, subvolumes, once: b.once, mode: b.mode, fault })
    }

    /// The recovery of a backup cut by a kill or an S3 error, if drawn: the same
    /// selection with `--once` (an incremental is due again) and no fault, after the
    /// same gap. P4: it must succeed and publish what P1 expects, and whatever the
    /// failed run left behind (snapshot, chunks, lock, state) must not break the chain
    /// it publishes (P2). It uses a spare step under `steps_max`, else it takes the
    /// place of the next skeleton step or of the final restore (the case's end
    /// restores every unverified pointer anyway); with neither, there is none.
    fn recovery(&mut self, b: &AbsBackup, step: &Step) -> Option<Step> {
        let Step::Backup(failing) = step else { return None };
        let cuts = matches!(failing.fault, Some(BackupFault::Kill { .. } | BackupFault::S3Error { .. }));
        if !(b.retry && cuts) {
            return None;
        }
        if self.spare > 0 {
            self.spare -= 1;
        } else if self.later > 0 {
            self.skip = true;
        } else {
            return None;
        }
        Some(Step::Backup(BackupStep { once: true, fault: None, ..failing.clone() }))
    }

    /// The subvolume a restore names: one some normal backup included.
    fn restored(&self, sel: u8) -> Option<String> {
        let done: Vec<usize> = self.backed_up.iter().copied().collect();
        (!done.is_empty()).then(|| self.names[done[sel as usize % done.len()]].clone())
    }

    fn restore(&self, r: &AbsRestore) -> Option<Step> {
        let kill = r.kill.map(|(kind, n)| match kind % 3 {
            0 => KillPoint::AfterDelay { ms: u64::from(n % 2000) },
            1 => {
                KillPoint::OnEvent { event: RESTORE_KILL_EVENTS[n as usize % 2].into(), nth: 1 }
            }
            _ => KillPoint::OnRequest {
                at: RequestPoint { object: ObjectClass::Chunk, nth: 1 + n % 4 },
                before: true,
            },
        });
        // A corrupted chunk and a kill are not combined: the kill could hide the failure.
        let fault = match (&kill, r.corrupt, r.existing) {
            (None, Some((from_end, pick)), false) => {
                Some(RestoreFault::CorruptChunk { from_end: u32::from(from_end), pick })
            }
            _ => None,
        };
        Some(Step::Restore(RestoreStep {
            subvolume: self.restored(r.subvol)?,
            source: r.back.map_or(RestoreSource::Current, |back| RestoreSource::Manifest {
                back: u32::from(back),
            }),
            verify: r.verify,
            wait: r.wait,
            existing_target: r.existing,
            retry: (kill.is_some() && r.retry) || fault.is_some(),
            kill,
            fault,
        }))
    }

    fn final_restore(&mut self, sel: u8) {
        if let Some(subvolume) = self.restored(sel) {
            self.steps.push(Step::Restore(RestoreStep {
                subvolume,
                source: RestoreSource::Current,
                verify: VerifyMode::Full,
                wait: None,
                existing_target: false,
                kill: None,
                fault: None,
                retry: false,
            }));
        }
    }
}

/// A concrete fault for a run that backs up `in_run` subvolumes.
fn fault(f: &AbsFault, in_run: u32) -> BackupFault {
    let (a, b) = (f.a as usize, f.b);
    match f.kind {
        FaultKind::StaleLock => BackupFault::StaleLock {
            content: [StaleLock::DeadPid, StaleLock::Empty, StaleLock::Garbage][a % 3],
        },
        FaultKind::KillDelay => {
            let limit = [100, 500, 3000][b as usize % 3];
            BackupFault::Kill { at: KillPoint::AfterDelay { ms: u64::from(f.a % limit) } }
        }
        FaultKind::KillEvent => {
            let event = BACKUP_KILL_EVENTS[a % BACKUP_KILL_EVENTS.len()];
            let nth = if event == "command_start" { 1 } else { 1 + b % in_run };
            BackupFault::Kill { at: KillPoint::OnEvent { event: event.into(), nth } }
        }
        FaultKind::KillRequest => BackupFault::Kill {
            at: KillPoint::OnRequest { at: request(a, b, in_run), before: f.flag },
        },
        FaultKind::Contender => BackupFault::Contender { simultaneous: f.flag },
        FaultKind::S3Error => BackupFault::S3Error {
            at: error_request(a, b, in_run),
            status: [500, 503, 400, 403][(b / 7) as usize % 4],
        },
    }
}

/// A request point: chunks twice as often as manifests or pointers; chunk counts that
/// small trees reach, manifests and pointers within the run's subvolumes.
fn request(a: usize, b: u32, in_run: u32) -> RequestPoint {
    request_among(a, b, in_run, &[1, 1, 2, 3, 5])
}

/// The first failing request of a persistent S3 error: as [`request`], but the error
/// covers every later chunk request too, so a chunk error starts at the first or
/// second one (an incremental of a small change is often a single chunk, and an error
/// that never fires tests nothing).
fn error_request(a: usize, b: u32, in_run: u32) -> RequestPoint {
    request_among(a, b, in_run, &[1, 1, 2])
}

fn request_among(a: usize, b: u32, in_run: u32, chunk_nth: &[u32]) -> RequestPoint {
    let object =
        [ObjectClass::Chunk, ObjectClass::Chunk, ObjectClass::Manifest, ObjectClass::Pointer]
            [a % 4];
    let nth = match object {
        ObjectClass::Chunk => chunk_nth[b as usize % chunk_nth.len()],
        _ => 1 + b % in_run,
    };
    RequestPoint { object, nth }
}
