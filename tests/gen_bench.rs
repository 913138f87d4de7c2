//! Benchmark, not a test: time to generate a plan and to run the model over it, per
//! case, for the PR and nightly profiles. Run with
//! `cargo test --release --test gen_bench -- --ignored --nocapture`
//! (or without `--release` for the dev profile the test suite uses).

use std::time::{Duration, Instant};

use b2s3_harness::gen::plan::{Plan, Step};
use b2s3_harness::gen::{generate, GenProfile};
use b2s3_harness::model::ModelTree;

/// Replays the plan on the model the way the engine will: every operation, plus the
/// expected tree (`backup_view`) at every backup and the live tree after every step.
fn model_run(plan: &Plan) -> usize {
    let mut models: Vec<(String, ModelTree)> = Vec::new();
    for s in &plan.subvolumes {
        let mut m = ModelTree::new();
        s.initial.iter().for_each(|op| m.apply(op).unwrap());
        models.push((s.name.clone(), m));
    }
    let mut entries = 0;
    for step in &plan.steps {
        match step {
            Step::Mutate { subvolume, ops } => {
                let (_, m) = models.iter_mut().find(|(n, _)| n == subvolume).unwrap();
                ops.iter().for_each(|op| m.apply(op).unwrap());
                entries += m.to_tree().entries.len();
            }
            Step::Backup(_) => {
                entries += models.iter().map(|(_, m)| m.backup_view().entries.len()).sum::<usize>()
            }
            _ => {}
        }
    }
    entries
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let total: Duration = v.iter().sum();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "mean {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms(total / v.len() as u32),
        ms(v[v.len() / 2]),
        ms(v[v.len() * 95 / 100]),
        ms(v[v.len() - 1])
    )
}

fn bench(name: &str, profile: &GenProfile, cases: u64) {
    let (mut gen_t, mut model_t) = (Vec::new(), Vec::new());
    let (mut steps, mut files, mut bytes) = (0usize, 0usize, 0u64);
    for case in 0..cases {
        let t = Instant::now();
        let plan = generate(0xB2, case, profile);
        gen_t.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(model_run(&plan));
        model_t.push(t.elapsed());
        steps += plan.steps.len();
        files += plan.files_written();
        bytes += plan.bytes_written();
    }
    let n = cases as usize;
    println!(
        "{name}: {cases} cases; per case {} steps, {} files written, {:.1} MiB described",
        steps / n,
        files / n,
        bytes as f64 / n as f64 / (1 << 20) as f64
    );
    println!("  generate: {}", stats(gen_t));
    println!("  model:    {}", stats(model_t));
}

#[test]
#[ignore = "benchmark; run explicitly with --ignored --nocapture"]
fn benchmark_plan_generation_and_model_time_per_case() {
    bench("pr", &GenProfile::pr(), 200);
    bench("nightly", &GenProfile::nightly(), 50);
}
