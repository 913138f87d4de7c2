//! The model against reality: generated trees and mutation sequences, applied by the
//! executor to real directories, scan exactly as the model says; and a btrfs send and
//! receive of a snapshot gives exactly the model's backup view.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use b2s3_harness::fixture::scan::scan;
use b2s3_harness::gen::plan::{Mutation, Plan, Step};
use b2s3_harness::gen::{generate, GenProfile};
use b2s3_harness::model::{exec, ModelTree};
use common::{assert_tree_eq, Btrfs};

/// Seeds per test: 200, or `B2S3_LIVE_SEEDS` when set (starting at `B2S3_LIVE_FIRST_SEED`).
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let first = var("B2S3_LIVE_FIRST_SEED", 0);
    first..first + var("B2S3_LIVE_SEEDS", 200)
}

/// Every `op` tag of `Mutation`.
const ALL_KINDS: &[&str] = &[
    "mkdir",
    "write",
    "write_sparse",
    "overwrite",
    "append",
    "truncate",
    "punch_hole",
    "remove",
    "rmdir",
    "rename",
    "chmod",
    "chown",
    "symlink",
    "retarget",
    "hardlink",
    "set_xattr",
    "remove_xattr",
    "touch",
    "reflink",
    "create_subvolume",
    "delete_subvolume",
];

fn kinds(plan: &Plan) -> BTreeSet<String> {
    let initial = plan.subvolumes.iter().flat_map(|s| s.initial.iter());
    let steps = plan.steps.iter().flat_map(|s| match s {
        Step::Mutate { ops, .. } => ops.as_slice(),
        _ => &[],
    });
    initial
        .chain(steps)
        .map(|m| serde_json::to_value(m).unwrap()["op"].as_str().unwrap().to_owned())
        .collect()
}

/// The PR profile (or the nightly one with `B2S3_LIVE_PROFILE=nightly`) with small files
/// (this test is about tree shapes, not volume) and more mutations; without nested
/// subvolumes where the directory is not on btrfs.
fn profile(btrfs: bool) -> GenProfile {
    let nightly = std::env::var("B2S3_LIVE_PROFILE").is_ok_and(|v| v == "nightly");
    let mut p = if nightly { GenProfile::nightly() } else { GenProfile::pr() };
    p.max_file_size = 256 * 1024;
    p.medium_file_max = 128 * 1024;
    p.small_file_max = 16 * 1024;
    p.sizes.near_put = 0;
    p.steps.mutate = 8;
    p.mutate_ops_max = 10;
    if !btrfs {
        p.initial.subvolume = 0;
        p.mutations.subvolume_create = 0;
        p.mutations.subvolume_delete = 0;
    }
    p
}

/// Scans `root` and panics with the first difference from the model.
fn assert_matches(root: &Path, expected: &b2s3_harness::fixture::tree::Tree, what: &str) {
    let seen = scan(root).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_tree_eq(expected, &seen, what);
}

fn apply(root: &Path, model: &mut ModelTree, ops: &[Mutation], what: &str) {
    for op in ops {
        model.apply(op).unwrap_or_else(|e| panic!("{what}: the model refused {op:?}: {e}"));
        exec::apply(root, op).unwrap_or_else(|e| panic!("{what}: executing {op:?}: {e}"));
    }
}

/// Replays the whole plan into one root per subvolume (made by `make_root`), checking
/// the scan after the initial tree and after every `Mutate` step. `after_initial` runs
/// once every initial tree is in place.
fn replay(
    plan: &Plan,
    seed: u64,
    make_root: impl Fn(&str) -> PathBuf,
    mut after_initial: impl FnMut(&[(String, PathBuf, ModelTree)]),
) -> Vec<(String, PathBuf, ModelTree)> {
    let mut subs = Vec::new();
    for s in &plan.subvolumes {
        let root = make_root(&s.name);
        let mut model = ModelTree::new();
        let what = format!("seed {seed} subvolume {:?} initial tree", s.name);
        apply(&root, &mut model, &s.initial, &what);
        assert_matches(&root, &model.to_tree(), &what);
        subs.push((s.name.clone(), root, model));
    }
    after_initial(&subs);
    for (i, step) in plan.steps.iter().enumerate() {
        let Step::Mutate { subvolume, ops } = step else {
            continue;
        };
        let (_, root, model) =
            subs.iter_mut().find(|(n, _, _)| n == subvolume).expect("known subvolume");
        let what = format!("seed {seed} step {i}");
        apply(root, model, ops, &what);
        assert_matches(root, &model.to_tree(), &what);
    }
    subs
}

#[test]
fn on_btrfs_the_scan_equals_the_model_and_a_received_snapshot_equals_the_backup_view() {
    let Some(fs) = Btrfs::new(4096) else { return };
    let p = profile(true);
    let (mut ops, mut nested, mut seen) = (0usize, 0usize, BTreeSet::new());
    for seed in seeds() {
        let plan = generate(seed, 0, &p);
        seen.extend(kinds(&plan));
        let first_sub = plan.subvolumes[0].name.clone();
        let mut before = None;
        let subs = replay(
            &plan,
            seed,
            |name| fs.subvolume(&format!("s{seed}-{name}")),
            |subs| {
                let (_, root, model) = &subs[0];
                before = Some((fs.snapshot(root, &format!("snap{seed}-a")), model.backup_view()));
            },
        );
        let (_, root, model) = subs.iter().find(|(n, _, _)| *n == first_sub).unwrap();
        let after = fs.snapshot(root, &format!("snap{seed}-b"));
        let (snap_a, view_a) = before.expect("first snapshot taken");
        let into = fs.mount().join(format!("recv{seed}"));
        let full = fs.send_receive(&snap_a, None, &into);
        assert_matches(&full, &view_a, &format!("seed {seed}: full send of the initial tree"));
        let inc = fs.send_receive(&after, Some(&snap_a), &into);
        assert_matches(
            &inc,
            &model.backup_view(),
            &format!("seed {seed}: incremental send of the final tree"),
        );
        ops += plan.subvolumes.iter().map(|s| s.initial.len()).sum::<usize>();
        nested += subs
            .iter()
            .map(|(_, _, m)| m.entries().filter(|e| e.subvolume_root).count())
            .sum::<usize>();
    }
    eprintln!(
        "seeds {:?}: {ops} initial operations, {nested} nested subvolumes at the end",
        seeds()
    );
    assert!(nested > 0, "the generator made no nested subvolume in seeds {:?}", seeds());
}

#[test]
fn on_a_plain_directory_the_scan_equals_the_model() {
    let dir = tempfile::Builder::new().prefix("b2s3-genmodel-plain-").tempdir().unwrap();
    let p = profile(false);
    let mut seen = BTreeSet::new();
    for seed in seeds() {
        let plan = generate(seed, 0, &p);
        seen.extend(kinds(&plan));
        replay(
            &plan,
            seed,
            |name| {
                let root = dir.path().join(format!("s{seed}-{name}"));
                std::fs::create_dir(&root).unwrap();
                root
            },
            |_| {},
        );
    }
    let nested = ["create_subvolume", "delete_subvolume"];
    let missing: Vec<_> =
        ALL_KINDS.iter().filter(|k| !nested.contains(k) && !seen.contains(**k)).collect();
    assert!(missing.is_empty(), "never exercised: {missing:?}");
}
