//! The chunk-size-from-last-full step: its JSON form, the chunk size it picks, and the
//! pattern the generator builds around it (reconfigure, force a full, back that
//! subvolume up), which must survive shrinking as a valid plan.

use b2s3_harness::gen::plan::{chunk_size_dividing, BackupMode, Plan, Step};
use b2s3_harness::gen::render::step_line;
use b2s3_harness::gen::shrink;
use b2s3_harness::gen::{generate, normalize, render, GenProfile, PlanTree};

fn reconfigurations(plan: &Plan) -> Vec<usize> {
    let at = |(i, s): (usize, &Step)| matches!(s, Step::ChunkSizeFromLastFull { .. }).then_some(i);
    plan.steps.iter().enumerate().filter_map(at).collect()
}

/// Generated plans with the step, from the first `n` seeds of `profile`.
fn plans_with_the_step(profile: &GenProfile, n: u64) -> Vec<(u64, Plan)> {
    (0..n)
        .map(|seed| (seed, generate(seed, 0, profile)))
        .filter(|(_, plan)| !reconfigurations(plan).is_empty())
        .collect()
}

/// Step `i` is a `--once` backup of exactly `subvolume`, with no fault.
fn is_plain_backup_of(step: Option<&Step>, subvolume: &str) -> bool {
    matches!(step, Some(Step::Backup(b))
        if b.once && b.fault.is_none() && b.mode == BackupMode::Normal && b.subvolumes == [subvolume])
}

/// Every reconfiguration is followed by a forced full backup of its subvolume.
fn assert_pattern(plan: &Plan, context: &str) {
    for i in reconfigurations(plan) {
        let Step::ChunkSizeFromLastFull { subvolume, parts } = &plan.steps[i] else {
            unreachable!()
        };
        assert!((1..=4).contains(parts), "{context}: parts {parts}");
        assert!(
            matches!(plan.steps.get(i + 1), Some(Step::ForceFull { subvolume: s }) if s == subvolume),
            "{context}: step {} is not a force full of {subvolume}",
            i + 1
        );
        assert!(is_plain_backup_of(plan.steps.get(i + 2), subvolume), "{context}: step {}", i + 2);
    }
}

#[test]
fn the_step_serialises_with_its_tag_and_parts_default_to_one() {
    let step = Step::ChunkSizeFromLastFull { subvolume: "data".into(), parts: 2 };
    let text = serde_json::to_string(&step).unwrap();
    assert_eq!(text, r#"{"step":"chunk_size_from_last_full","subvolume":"data","parts":2}"#);
    assert_eq!(serde_json::from_str::<Step>(&text).unwrap(), step);
    let old: Step =
        serde_json::from_str(r#"{"step":"chunk_size_from_last_full","subvolume":"x.y"}"#).unwrap();
    assert_eq!(old, Step::ChunkSizeFromLastFull { subvolume: "x.y".into(), parts: 1 });
    assert_eq!(step_line(&step), r#"chunk-size-from-last-full "data" / 2"#);
}

#[test]
fn the_chunk_size_divides_the_total_exactly_and_is_never_zero() {
    assert_eq!(chunk_size_dividing(1000, 1), Some(1000));
    assert_eq!(chunk_size_dividing(1000, 4), Some(250));
    assert_eq!(chunk_size_dividing(1001, 2), Some(1001), "no exact half: one chunk");
    assert_eq!(chunk_size_dividing(25642, 4), Some(12821), "no exact quarter: a half");
    assert_eq!(chunk_size_dividing(3, 4), Some(1));
    assert_eq!(chunk_size_dividing(5, 4), Some(5));
    assert_eq!(chunk_size_dividing(7, 0), Some(7), "parts 0 counts as 1");
    assert_eq!(chunk_size_dividing(0, 1), None, "no chunk size divides an empty stream");
    for total in 1..300u64 {
        for parts in 0..6 {
            let c = chunk_size_dividing(total, parts).unwrap();
            assert!(c > 0 && total % c == 0, "{total}/{parts} -> {c}");
        }
    }
}

#[test]
fn pr_and_nightly_generate_the_pattern_within_a_few_cases() {
    for (name, profile) in [("pr", GenProfile::pr()), ("nightly", GenProfile::nightly())] {
        let with = plans_with_the_step(&profile, 100);
        assert!(with.len() >= 10, "{name}: only {} of 100 plans reconfigure", with.len());
        assert!(with.len() <= 60, "{name}: {} of 100 plans reconfigure (not modest)", with.len());
        for (seed, plan) in &with {
            assert_pattern(plan, &format!("{name} seed {seed}"));
            assert_eq!(&normalize(plan), plan, "{name} seed {seed}");
            assert!(render(plan).contains("chunk-size-from-last-full"));
        }
    }
}

#[test]
fn no_mutation_of_the_subvolume_lies_between_its_last_full_and_the_reconfiguration() {
    for (seed, plan) in plans_with_the_step(&GenProfile::pr(), 200) {
        for i in reconfigurations(&plan) {
            let Step::ChunkSizeFromLastFull { subvolume, .. } = &plan.steps[i] else {
                unreachable!()
            };
            // The last full: the pattern's own leading forced full, or else the plan's
            // leading backup of every subvolume.
            let since = (1..i)
                .rev()
                .find(|&k| {
                    matches!(&plan.steps[k - 1], Step::ForceFull { subvolume: s } if s == subvolume)
                        && is_plain_backup_of(plan.steps.get(k), subvolume)
                })
                .unwrap_or(0);
            if since == 0 {
                assert!(
                    matches!(plan.steps.first(), Some(Step::Backup(b)) if b.fault.is_none() && b.subvolumes.is_empty()),
                    "seed {seed}: no full of {subvolume} before step {i}"
                );
            }
            let mutated = plan.steps[since..i]
                .iter()
                .any(|s| matches!(s, Step::Mutate { subvolume: m, .. } if m == subvolume));
            assert!(!mutated, "seed {seed}: {subvolume} mutated between step {since} and {i}");
        }
    }
}

#[test]
fn a_zero_weight_never_generates_the_step() {
    let mut profile = GenProfile::pr();
    profile.steps.chunk_size_from_last_full = 0;
    assert!(plans_with_the_step(&profile, 100).is_empty());
}

#[test]
fn shrinking_keeps_the_pattern_valid() {
    let p = GenProfile::pr();
    for (seed, _) in plans_with_the_step(&p, 60).into_iter().take(6) {
        let mut tree = PlanTree::new(seed, 0, &p);
        let mut n = 0;
        while tree.simplify() && n < 300 {
            let plan = tree.current();
            assert_eq!(normalize(&plan), plan, "seed {seed} after {n} simplifications");
            assert_pattern(&plan, &format!("seed {seed} after {n} simplifications"));
            n += 1;
        }
        let plan = generate(seed, 0, &p);
        for c in shrink::candidates(&plan) {
            assert_eq!(normalize(&c), c, "seed {seed}: a plan-level candidate");
        }
        let i = reconfigurations(&plan)[0];
        let without = shrink::remove_step(&plan, i);
        assert_eq!(without.steps.len(), plan.steps.len() - 1);
    }
}

#[test]
fn normalize_drops_the_step_for_an_unknown_subvolume_only() {
    let mut plan = generate(3, 0, &GenProfile::pr());
    let known = plan.subvolumes[0].name.clone();
    plan.steps = vec![
        Step::ChunkSizeFromLastFull { subvolume: "no-such".into(), parts: 1 },
        Step::ChunkSizeFromLastFull { subvolume: known.clone(), parts: 3 },
    ];
    let n = normalize(&plan);
    assert_eq!(n.steps, vec![Step::ChunkSizeFromLastFull { subvolume: known, parts: 3 }]);
}
