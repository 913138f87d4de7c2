//! The abstract plan ("skeleton") that proptest generates and shrinks, and its
//! strategies. A skeleton holds only choices: kinds, size classes, indices into "the
//! existing paths of the right kind", seeds. `gen::build` turns it into a concrete
//! [`Plan`](super::plan::Plan) by replaying it on the model, so whatever proptest
//! shrinks (fewer steps, fewer ops, smaller indices, earlier kinds), the plan it maps to
//! is valid by construction: an index picks among the paths that exist at that moment,
//! and an op with nothing to pick is dropped.
//!
//! Weighted choices list the simplest option first, because a proptest union shrinks
//! towards its first option; options with weight 0 are left out entirely, so shrinking
//! never produces a kind the profile disabled.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::strategy::Union;

use super::names::{NameSel, TargetSel};
use super::plan::{BackupMode, VerifyMode};
use super::profile::GenProfile;

/// Every kind of abstract operation; the last three only build initial trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Create,
    Rewrite,
    Overwrite,
    Append,
    TruncateDown,
    TruncateUp,
    PunchHole,
    Sparse,
    Remove,
    RenameFile,
    RenameDir,
    Mkdir,
    Rmdir,
    Chmod,
    Chown,
    Symlink,
    Retarget,
    Hardlink,
    UnlinkLink,
    SetXattr,
    RemoveXattr,
    Touch,
    Reflink,
    SubvolumeCreate,
    SubvolumeDelete,
    DeepChain,
    FanOut,
    ManySmall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeClass {
    Zero,
    One,
    Tiny,
    Small,
    Medium,
    NearPut,
    ChunkMultiple,
    SeveralChunks,
}

/// A file size: a class and two free numbers that place it inside the class.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SizeSel {
    pub class: SizeClass,
    pub a: u32,
    pub b: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatKind {
    Zeros,
    Random,
    Repeat,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PatSel {
    pub kind: PatKind,
    pub seed: u64,
    pub block: u8,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ModeSel {
    pub odd: bool,
    pub n: u8,
}

/// One abstract operation. Every kind reads the fields it needs and ignores the rest.
#[derive(Debug, Clone)]
pub(crate) struct AbsOp {
    pub kind: OpKind,
    /// Index of the primary existing path.
    pub pick: u32,
    /// Index of a secondary path (destination directory, replaced target, offset).
    pub dest: u32,
    pub name: NameSel,
    pub size: SizeSel,
    pub pattern: PatSel,
    pub mode: ModeSel,
    pub flag: bool,
    /// A free number: depth, count, owner, time, xattr name.
    pub n: u32,
    pub target: TargetSel,
    /// Data ranges of a sparse file: (offset choice, size, pattern).
    pub ranges: Vec<(u32, SizeSel, PatSel)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    StaleLock,
    KillDelay,
    KillEvent,
    KillRequest,
    Contender,
    S3Error,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct AbsFault {
    pub kind: FaultKind,
    pub a: u32,
    pub b: u32,
    pub flag: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AbsBackup {
    pub short_gap: bool,
    pub gap: u32,
    pub filter: Option<Vec<u8>>,
    pub once: bool,
    pub mode: BackupMode,
    pub fault: Option<AbsFault>,
    /// Follow a kill or S3 error with a fault-free `--once` of the same subvolumes.
    pub retry: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AbsRestore {
    pub subvol: u8,
    pub back: Option<u8>,
    pub verify: VerifyMode,
    pub wait: Option<bool>,
    pub existing: bool,
    /// `(kind, number)`: kind % 3 is a delay, a log event or a chunk GET.
    pub kill: Option<(u8, u32)>,
    pub retry: bool,
    /// `(from_end, pick)` of a corrupted chunk.
    pub corrupt: Option<(u8, u64)>,
}

#[derive(Debug, Clone)]
pub(crate) enum AbsStep {
    Mutate { subvol: u8, ops: Vec<AbsOp> },
    Backup(AbsBackup),
    Restore(AbsRestore),
    ForceFull { subvol: u8 },
    DeleteSnapshot { subvol: u8, newest: bool },
    DeleteState,
    /// The chunk-boundary pattern (see `gen::build`): chunk size from the last full,
    /// force a full, back the subvolume up. `parts` picks the divisor, `gap` the wait.
    ExactChunks { subvol: u8, parts: u8, gap: u32 },
}

#[derive(Debug, Clone)]
pub(crate) struct AbsSettings {
    pub near_put: bool,
    pub chunk: u32,
    pub retain: u32,
    /// `Some(deep)`: an archive class, DEEP_ARCHIVE if `deep`, else GLACIER.
    pub archive: Option<bool>,
    pub concurrency: u32,
    /// `Some((small, n))`: spool on, below 5 MiB if `small`.
    pub spool: Option<(bool, u32)>,
    pub verify: VerifyMode,
    pub sample: u8,
    pub no_wait: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AbsSubvol {
    pub name: u8,
    pub init: Vec<AbsOp>,
}

/// The whole abstract plan.
#[derive(Debug, Clone)]
pub(crate) struct Skeleton {
    pub settings: AbsSettings,
    pub subvols: Vec<AbsSubvol>,
    pub first_backup: bool,
    pub steps: Vec<AbsStep>,
    pub final_restore: Option<u8>,
}

/// A weighted choice among constants, simplest first, zero weights left out.
fn weighted<T: Clone + Debug + 'static>(options: Vec<(u32, T)>) -> BoxedStrategy<T> {
    let options: Vec<(u32, BoxedStrategy<T>)> =
        options.into_iter().filter(|(w, _)| *w > 0).map(|(w, v)| (w, Just(v).boxed())).collect();
    assert!(!options.is_empty(), "a validated profile has a non-zero weight in every table");
    Union::new_weighted(options).boxed()
}

/// A rate as a pair of weights for `false`/`true`, `false` first (it shrinks there).
fn rate(p: f64) -> BoxedStrategy<bool> {
    let t = (p.clamp(0.0, 1.0) * 1_000_000.0).round() as u32;
    weighted(vec![(1_000_000 - t, false), (t, true)])
}

/// `Some` with probability `p` (0 and 1 allowed), shrinking towards `None`.
fn maybe<T: Clone + Debug + 'static>(
    p: f64,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    let t = (p.clamp(0.0, 1.0) * 1_000_000.0).round() as u32;
    let options: Vec<(u32, BoxedStrategy<Option<T>>)> =
        vec![(1_000_000 - t, Just(None).boxed()), (t, s.prop_map(Some).boxed())];
    Union::new_weighted(options.into_iter().filter(|(w, _)| *w > 0).collect()).boxed()
}

fn size_strategy(p: &GenProfile) -> BoxedStrategy<SizeSel> {
    let w = &p.sizes;
    let class = weighted(vec![
        (w.zero, SizeClass::Zero),
        (w.one, SizeClass::One),
        (w.tiny, SizeClass::Tiny),
        (w.small, SizeClass::Small),
        (w.medium, SizeClass::Medium),
        (w.near_put, SizeClass::NearPut),
        (w.chunk_multiple, SizeClass::ChunkMultiple),
        (w.several_chunks, SizeClass::SeveralChunks),
    ]);
    (class, any::<u32>(), any::<u32>()).prop_map(|(class, a, b)| SizeSel { class, a, b }).boxed()
}

fn pattern_strategy(p: &GenProfile) -> BoxedStrategy<PatSel> {
    let w = &p.patterns;
    let kind = weighted(vec![
        (w.zeros, PatKind::Zeros),
        (w.random, PatKind::Random),
        (w.repeat, PatKind::Repeat),
    ]);
    (kind, any::<u64>(), any::<u8>())
        .prop_map(|(kind, seed, block)| PatSel { kind, seed, block })
        .boxed()
}

fn name_strategy(p: &GenProfile) -> BoxedStrategy<NameSel> {
    (rate(p.stress_name_rate), any::<u8>(), any::<u32>())
        .prop_map(|(stress, class, n)| NameSel { stress, class, n })
        .boxed()
}

fn op_strategy(kinds: Vec<(u32, OpKind)>, p: &GenProfile) -> BoxedStrategy<AbsOp> {
    let mode = (rate(p.odd_mode_rate), any::<u8>()).prop_map(|(odd, n)| ModeSel { odd, n });
    let target = (any::<u8>(), any::<u32>()).prop_map(|(class, n)| TargetSel { class, n });
    let range = (any::<u32>(), size_strategy(p), pattern_strategy(p));
    (
        weighted(kinds),
        (any::<u32>(), any::<u32>()),
        name_strategy(p),
        size_strategy(p),
        pattern_strategy(p),
        mode,
        any::<bool>(),
        any::<u32>(),
        target,
        proptest::collection::vec(range, 0..=3),
    )
        .prop_map(|(kind, (pick, dest), name, size, pattern, mode, flag, n, target, ranges)| {
            AbsOp { kind, pick, dest, name, size, pattern, mode, flag, n, target, ranges }
        })
        .boxed()
}

fn initial_kinds(p: &GenProfile) -> Vec<(u32, OpKind)> {
    let w = &p.initial;
    vec![
        (w.file, OpKind::Create),
        (w.empty_dir, OpKind::Mkdir),
        (w.symlink, OpKind::Symlink),
        (w.hardlink, OpKind::Hardlink),
        (w.sparse, OpKind::Sparse),
        (w.xattr, OpKind::SetXattr),
        (w.chmod, OpKind::Chmod),
        (w.chown, OpKind::Chown),
        (w.touch, OpKind::Touch),
        (w.reflink, OpKind::Reflink),
        (w.deep_chain, OpKind::DeepChain),
        (w.fan_out, OpKind::FanOut),
        (w.many_small, OpKind::ManySmall),
        (w.subvolume, OpKind::SubvolumeCreate),
    ]
}

fn mutation_kinds(p: &GenProfile) -> Vec<(u32, OpKind)> {
    let w = &p.mutations;
    vec![
        (w.create, OpKind::Create),
        (w.rewrite, OpKind::Rewrite),
        (w.overwrite, OpKind::Overwrite),
        (w.append, OpKind::Append),
        (w.truncate_down, OpKind::TruncateDown),
        (w.truncate_up, OpKind::TruncateUp),
        (w.punch_hole, OpKind::PunchHole),
        (w.sparse, OpKind::Sparse),
        (w.remove, OpKind::Remove),
        (w.rename_file, OpKind::RenameFile),
        (w.rename_dir, OpKind::RenameDir),
        (w.mkdir, OpKind::Mkdir),
        (w.rmdir, OpKind::Rmdir),
        (w.chmod, OpKind::Chmod),
        (w.chown, OpKind::Chown),
        (w.symlink, OpKind::Symlink),
        (w.retarget, OpKind::Retarget),
        (w.hardlink, OpKind::Hardlink),
        (w.unlink_link, OpKind::UnlinkLink),
        (w.setxattr, OpKind::SetXattr),
        (w.removexattr, OpKind::RemoveXattr),
        (w.touch, OpKind::Touch),
        (w.reflink, OpKind::Reflink),
        (w.subvolume_create, OpKind::SubvolumeCreate),
        (w.subvolume_delete, OpKind::SubvolumeDelete),
    ]
}

fn verify_strategy(p: &GenProfile) -> BoxedStrategy<VerifyMode> {
    let w = &p.verify;
    weighted(vec![
        (w.full, VerifyMode::Full),
        (w.sample, VerifyMode::Sample),
        (w.none, VerifyMode::None),
    ])
}

fn fault_strategy(p: &GenProfile) -> BoxedStrategy<AbsFault> {
    let w = &p.faults;
    let kind = weighted(vec![
        (w.stale_lock, FaultKind::StaleLock),
        (w.kill_delay, FaultKind::KillDelay),
        (w.kill_event, FaultKind::KillEvent),
        (w.kill_request, FaultKind::KillRequest),
        (w.contender, FaultKind::Contender),
        (w.s3_error, FaultKind::S3Error),
    ]);
    (kind, any::<u32>(), any::<u32>(), any::<bool>())
        .prop_map(|(kind, a, b, flag)| AbsFault { kind, a, b, flag })
        .boxed()
}

fn backup_strategy(p: &GenProfile) -> BoxedStrategy<AbsBackup> {
    let scale = |r: f64| (r * 1_000_000.0).round() as u32;
    let mode = weighted(vec![
        (1_000_000 - scale(p.dry_run_rate) - scale(p.no_s3_rate), BackupMode::Normal),
        (scale(p.dry_run_rate), BackupMode::DryRun),
        (scale(p.no_s3_rate), BackupMode::NoS3),
    ]);
    let filter = maybe(p.filter_rate, proptest::collection::vec(any::<u8>(), 1..=2));
    let fault = maybe(p.fault_rate, fault_strategy(p));
    let retry = rate(p.backup_retry_rate);
    (rate(p.short_gap_rate), any::<u32>(), filter, rate(p.once_rate), mode, fault, retry)
        .prop_map(|(short_gap, gap, filter, once, mode, fault, retry)| AbsBackup {
            short_gap,
            gap,
            filter,
            once,
            mode,
            fault,
            retry,
        })
        .boxed()
}

fn restore_strategy(p: &GenProfile) -> BoxedStrategy<AbsRestore> {
    let back = maybe(p.restore_back_rate, 0u8..4);
    let wait = maybe(p.restore_wait_override_rate, any::<bool>());
    let kill = maybe(p.restore_kill_rate, (any::<u8>(), any::<u32>()));
    let corrupt = maybe(p.restore_corrupt_rate, (0u8..3, any::<u64>()));
    (
        any::<u8>(),
        back,
        verify_strategy(p),
        wait,
        rate(p.restore_existing_target_rate),
        kill,
        rate(p.restore_retry_rate),
        corrupt,
    )
        .prop_map(|(subvol, back, verify, wait, existing, kill, retry, corrupt)| AbsRestore {
            subvol,
            back,
            verify,
            wait,
            existing,
            kill,
            retry,
            corrupt,
        })
        .boxed()
}

fn step_strategy(p: &GenProfile) -> BoxedStrategy<AbsStep> {
    let w = &p.steps;
    let ops = proptest::collection::vec(
        op_strategy(mutation_kinds(p), p),
        p.mutate_ops_min as usize..=p.mutate_ops_max as usize,
    );
    let options: Vec<(u32, BoxedStrategy<AbsStep>)> = vec![
        (
            w.mutate,
            (any::<u8>(), ops).prop_map(|(subvol, ops)| AbsStep::Mutate { subvol, ops }).boxed(),
        ),
        (w.backup, backup_strategy(p).prop_map(AbsStep::Backup).boxed()),
        (w.restore, restore_strategy(p).prop_map(AbsStep::Restore).boxed()),
        (w.force_full, any::<u8>().prop_map(|subvol| AbsStep::ForceFull { subvol }).boxed()),
        (
            w.delete_snapshot,
            (any::<u8>(), any::<bool>())
                .prop_map(|(subvol, newest)| AbsStep::DeleteSnapshot { subvol, newest })
                .boxed(),
        ),
        (w.delete_state, Just(AbsStep::DeleteState).boxed()),
        (
            w.chunk_size_from_last_full,
            (any::<u8>(), any::<u8>(), any::<u32>())
                .prop_map(|(subvol, parts, gap)| AbsStep::ExactChunks { subvol, parts, gap })
                .boxed(),
        ),
    ];
    Union::new_weighted(options.into_iter().filter(|(w, _)| *w > 0).collect()).boxed()
}

fn settings_strategy(p: &GenProfile) -> BoxedStrategy<AbsSettings> {
    let archive = maybe(p.archive_rate, any::<bool>());
    let spool = maybe(p.spool_rate, (rate(p.small_spool_rate), any::<u32>()));
    (
        rate(p.chunk_near_put_rate),
        any::<u32>(),
        1..=p.retain_max,
        archive,
        1..=p.concurrency_max,
        spool,
        verify_strategy(p),
        any::<u8>(),
        rate(p.no_wait_rate),
    )
        .prop_map(
            |(near_put, chunk, retain, archive, concurrency, spool, verify, sample, no_wait)| {
                AbsSettings {
                    near_put,
                    chunk,
                    retain,
                    archive,
                    concurrency,
                    spool,
                    verify,
                    sample,
                    no_wait,
                }
            },
        )
        .boxed()
}

/// The strategy for a whole skeleton under profile `p` (which must be valid).
pub(crate) fn skeleton_strategy(p: &GenProfile) -> BoxedStrategy<Skeleton> {
    let init = proptest::collection::vec(
        op_strategy(initial_kinds(p), p),
        p.initial_ops_min as usize..=p.initial_ops_max as usize,
    );
    let subvol = (any::<u8>(), init).prop_map(|(name, init)| AbsSubvol { name, init });
    // The leading backup and the final restore count as steps.
    let middle = p.steps_min.saturating_sub(2) as usize..=p.steps_max.saturating_sub(2) as usize;
    (
        settings_strategy(p),
        proptest::collection::vec(subvol, 1..=p.subvolumes_max as usize),
        rate(p.first_backup_rate),
        proptest::collection::vec(step_strategy(p), middle),
        maybe(p.final_restore_rate, any::<u8>()),
    )
        .prop_map(|(settings, subvols, first_backup, steps, final_restore)| Skeleton {
            settings,
            subvols,
            first_backup,
            steps,
            final_restore,
        })
        .boxed()
}
