//! Plans from seeds: determinism, validity by construction, validity under shrinking.

use b2s3_harness::gen::plan::{BackupFault, Mutation, Plan, Step};
use b2s3_harness::gen::shrink::{self, OpRef};
use b2s3_harness::gen::{generate, normalize, render, GenProfile, PlanTree};
use b2s3_harness::model::ModelTree;

fn json(p: &Plan) -> String {
    serde_json::to_string_pretty(p).unwrap()
}

/// Replays a plan on fresh models, failing on the first operation the model refuses.
fn assert_replays(plan: &Plan) {
    let mut models: Vec<(String, ModelTree)> = Vec::new();
    for s in &plan.subvolumes {
        let mut m = ModelTree::new();
        for op in &s.initial {
            m.apply(op).unwrap_or_else(|e| panic!("initial op {op:?} of {}: {e}", s.name));
        }
        models.push((s.name.clone(), m));
    }
    for (i, step) in plan.steps.iter().enumerate() {
        if let Step::Mutate { subvolume, ops } = step {
            let (_, m) = models.iter_mut().find(|(n, _)| n == subvolume).expect("known subvolume");
            for op in ops {
                m.apply(op).unwrap_or_else(|e| panic!("step {i} op {op:?}: {e}"));
            }
        }
    }
}

#[test]
fn the_same_seed_and_case_always_give_the_same_plan_json() {
    let p = GenProfile::pr();
    for seed in [0u64, 1, 42, u64::MAX] {
        let a = json(&generate(seed, 3, &p));
        let b = json(&generate(seed, 3, &p));
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn different_seeds_or_cases_give_different_plans() {
    let p = GenProfile::pr();
    let plans: Vec<String> = (0..20).map(|s| json(&generate(s, 0, &p))).collect();
    for i in 0..plans.len() {
        for j in i + 1..plans.len() {
            assert_ne!(plans[i], plans[j], "seeds {i} and {j}");
        }
    }
    assert_ne!(json(&generate(7, 0, &p)), json(&generate(7, 1, &p)));
}

#[test]
fn generated_plans_replay_without_error_and_normalize_leaves_them_unchanged() {
    for profile in [GenProfile::pr(), GenProfile::nightly()] {
        for seed in 0..150 {
            let plan = generate(seed, 0, &profile);
            assert_replays(&plan);
            assert_eq!(normalize(&plan), plan, "seed {seed}");
            assert!(
                !plan.subvolumes.is_empty()
                    && plan.subvolumes.len() <= profile.subvolumes_max as usize
            );
            // A chunk-size pattern is one generator step that expands into up to five.
            let patterns = plan
                .steps
                .iter()
                .filter(|s| matches!(s, Step::ChunkSizeFromLastFull { .. }))
                .count();
            assert!(
                plan.steps.len() <= profile.steps_max as usize + 4 * patterns,
                "seed {seed}: {} steps",
                plan.steps.len()
            );
        }
    }
}

#[test]
fn most_pr_plans_start_with_a_backup_and_contain_a_restore() {
    let p = GenProfile::pr();
    let plans: Vec<Plan> = (0..100).map(|s| generate(s, 0, &p)).collect();
    let first_backup =
        plans.iter().filter(|p| matches!(p.steps.first(), Some(Step::Backup(_)))).count();
    let with_restore =
        plans.iter().filter(|p| p.steps.iter().any(|s| matches!(s, Step::Restore(_)))).count();
    assert!(first_backup >= 85, "{first_backup} of 100 start with a backup");
    assert!(with_restore >= 80, "{with_restore} of 100 restore");
}

#[test]
fn every_shrink_step_of_a_plan_tree_is_a_valid_plan() {
    let p = GenProfile::pr();
    for seed in 0..25 {
        let mut tree = PlanTree::new(seed, 0, &p);
        let mut steps = 0;
        // Pretend every candidate still fails: simplify as far as proptest goes.
        while tree.simplify() && steps < 400 {
            let plan = tree.current();
            assert_replays(&plan);
            assert_eq!(normalize(&plan), plan, "seed {seed} after {steps} simplifications");
            steps += 1;
        }
        // And pretend every candidate passes: complicate must also stay valid.
        let mut tree = PlanTree::new(seed, 0, &p);
        for _ in 0..50 {
            if !tree.simplify() {
                break;
            }
            tree.complicate();
            let plan = tree.current();
            assert_eq!(normalize(&plan), plan, "seed {seed} after complicate");
        }
    }
}

#[test]
fn shrinking_all_the_way_makes_the_plan_smaller() {
    let p = GenProfile::pr();
    let mut tree = PlanTree::new(5, 0, &p);
    let before = tree.current();
    let mut n = 0;
    while tree.simplify() && n < 2000 {
        n += 1;
    }
    let after = tree.current();
    assert!(after.steps.len() <= before.steps.len());
    assert!(after.bytes_written() <= before.bytes_written());
    assert!(json(&after).len() < json(&before).len(), "shrinking did not shrink");
}

#[test]
fn every_shrink_helper_candidate_is_normalized_and_smaller() {
    let p = GenProfile::pr();
    for seed in 0..15 {
        let plan = generate(seed, 0, &p);
        let size = json(&plan).len();
        for c in shrink::candidates(&plan) {
            assert_ne!(c, plan);
            assert_eq!(normalize(&c), c, "seed {seed}");
            assert_replays(&c);
            assert!(json(&c).len() <= size, "seed {seed}: a candidate grew");
        }
    }
}

#[test]
fn removing_a_file_drops_every_later_operation_on_it() {
    let p = GenProfile::pr();
    let (plan, subvolume, path) = (0..200)
        .find_map(|seed| {
            let plan = generate(seed, 0, &p);
            let s = &plan.subvolumes[0];
            let path = s.initial.iter().find_map(|m| match m {
                Mutation::Write { path, .. } => Some(path.clone()),
                _ => None,
            })?;
            let touched_later = plan.steps.iter().any(|st| match st {
                Step::Mutate { subvolume, ops } => {
                    subvolume == &s.name && ops.iter().any(|m| m.paths().contains(&path.as_str()))
                }
                _ => false,
            });
            touched_later.then(|| (plan.clone(), s.name.clone(), path))
        })
        .expect("some seed mutates an initial file");
    let smaller = shrink::remove_path(&plan, &subvolume, &path);
    let mentions = |m: &Mutation| m.paths().contains(&path.as_str());
    assert!(!smaller.subvolumes[0].initial.iter().any(mentions));
    for st in &smaller.steps {
        if let Step::Mutate { ops, .. } = st {
            assert!(!ops.iter().any(mentions), "{path:?} still mutated");
        }
    }
    assert_eq!(normalize(&smaller), smaller);
}

#[test]
fn simplifying_a_kill_on_the_nth_request_walks_down_to_no_fault() {
    let p = GenProfile { fault_rate: 1.0, ..GenProfile::pr() };
    let (mut plan, idx) = (0..500)
        .find_map(|seed| {
            let plan = generate(seed, 0, &p);
            let idx = plan.steps.iter().position(|s| {
                matches!(s, Step::Backup(b) if matches!(b.fault, Some(BackupFault::Kill { .. })))
            })?;
            Some((plan, idx))
        })
        .expect("a plan with a killed backup");
    let mut rounds = 0;
    while let Some(next) = shrink::simplify_fault(&plan, idx) {
        plan = next;
        rounds += 1;
        assert!(rounds < 10);
    }
    assert!(matches!(&plan.steps[idx], Step::Backup(b) if b.fault.is_none()));
}

#[test]
fn a_killed_or_failed_backup_is_followed_by_its_once_recovery_when_the_rate_says_so() {
    let mut p = GenProfile::pr();
    p.fault_rate = 1.0;
    p.backup_retry_rate = 1.0;
    // The chunk-size pattern may expand past steps_max (it counts as one step): off here.
    p.steps.chunk_size_from_last_full = 0;
    let mut recovered = 0;
    for seed in 0..60 {
        let plan = generate(seed, 0, &p);
        assert!(plan.steps.len() <= p.steps_max as usize, "seed {seed}: {} steps", plan.steps.len());
        for (i, s) in plan.steps.iter().enumerate() {
            let Step::Backup(b) = s else { continue };
            if !matches!(b.fault, Some(BackupFault::Kill { .. } | BackupFault::S3Error { .. })) {
                continue;
            }
            let Some(next) = plan.steps.get(i + 1) else { continue };
            let Step::Backup(next) = next else {
                panic!("seed {seed}: step {} after the faulted backup {i} is not its recovery", i + 1)
            };
            assert!(next.once && next.fault.is_none(), "seed {seed}: step {}: {next:?}", i + 1);
            assert_eq!((&next.subvolumes, next.mode), (&b.subvolumes, b.mode), "seed {seed}");
            recovered += 1;
        }
    }
    assert!(recovered >= 20, "only {recovered} recoveries in 60 plans");
}

#[test]
fn halving_content_halves_the_bytes_of_that_operation() {
    let p = GenProfile::pr();
    let plan = (0..100).map(|s| generate(s, 0, &p)).find(|pl| {
        matches!(pl.subvolumes[0].initial.first(), Some(Mutation::Write { content, .. }) if content.len > 1)
    });
    let plan = plan.expect("a plan starting with a non-trivial write");
    let at = OpRef::Initial { subvolume: 0, index: 0 };
    let half = shrink::halve_content(&plan, at).unwrap();
    let len = |pl: &Plan| match &pl.subvolumes[0].initial[0] {
        Mutation::Write { content, .. } => content.len,
        other => panic!("{other:?}"),
    };
    assert_eq!(len(&half), len(&plan) / 2);
}

#[test]
fn the_rendering_has_one_line_per_operation_and_step() {
    let plan = generate(11, 0, &GenProfile::pr());
    let text = render(&plan);
    let ops: usize = plan.subvolumes.iter().map(|s| s.initial.len()).sum::<usize>()
        + plan
            .steps
            .iter()
            .map(|s| if let Step::Mutate { ops, .. } = s { ops.len() } else { 0 })
            .sum::<usize>();
    let expected = 2 + plan.subvolumes.len() + plan.steps.len() + ops;
    assert_eq!(text.lines().count(), expected, "{text}");
    assert!(text.starts_with("plan seed 11 case 0"));
}

#[test]
fn plan_statistics_count_files_and_bytes_of_initial_trees_and_mutate_steps() {
    use b2s3_harness::gen::plan::{Content, Mutation, Pattern, Step};
    let mut plan = b2s3_harness::gen::generate(7, 0, &b2s3_harness::gen::profile::GenProfile::pr());
    for sub in &mut plan.subvolumes {
        sub.initial.clear();
    }
    plan.steps.clear();
    let write = |path: &str, len: u64| Mutation::Write {
        path: path.into(),
        content: Content { len, pattern: Pattern::Zeros },
        mode: 0o644,
    };
    plan.subvolumes[0].initial = vec![write("a", 10), Mutation::Mkdir { path: "d".into(), mode: 0o755 }];
    let name = plan.subvolumes[0].name.clone();
    plan.steps.push(Step::Mutate { subvolume: name, ops: vec![write("b", 5), Mutation::Append { path: "a".into(), content: Content { len: 3, pattern: Pattern::Zeros } }] });
    assert_eq!(plan.files_written(), 2);
    assert_eq!(plan.bytes_written(), 18);
}
