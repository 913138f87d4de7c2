//! `bench` through the real binary: after a real backup and restore by the reference
//! tool it writes `benchmark.json` with positive bytes, seconds and throughput for each
//! backup and restore, per subvolume; with no metrics in the logs it says so (exit 2).

mod cli_support;

use cli_support::World;
use serde_json::Value;

fn positive(v: &Value) -> bool {
    v.as_f64().is_some_and(|x| x > 0.0)
}

#[test]
fn bench_writes_positive_numbers_for_every_backup_and_restore_per_subvolume() {
    let w = World::seeded_and_backed_up("bench", "4M");
    let target = w.restore_mount().join("home");
    w.ok(&[
        "run",
        "--",
        "restore",
        "--subvolume",
        "home",
        "--target",
        target.to_str().unwrap(),
    ]);
    w.ok(&["bench"])
        .assert_says(&["backup   data", "restore  home", "benchmark.json"]);

    let text = std::fs::read(w.run_dir.join("benchmark.json")).unwrap();
    let report: Value = serde_json::from_slice(&text).unwrap();
    let runs = report["runs"].as_array().unwrap();
    let seen: Vec<String> = runs
        .iter()
        .map(|r| format!("{} {}", r["operation"], r["subvolume"]))
        .collect();
    let expected = [
        "\"backup\" \"data\"",
        "\"backup\" \"root\"",
        "\"backup\" \"home\"",
        "\"restore\" \"home\"",
    ];
    assert_eq!(seen, expected);
    for r in runs {
        assert!(r["total_bytes"].as_u64().unwrap() > 4_000_000, "{r}");
        assert!(
            positive(&r["elapsed_seconds"]) && positive(&r["throughput_bytes_per_second"]),
            "{r}"
        );
        assert!(r["throughput"].as_str().unwrap().ends_with("/s"), "{r}");
    }
    let totals = &report["summary"]["backup"]["root"];
    assert_eq!(totals["count"], 1);
    assert!(positive(&totals["throughput_bytes_per_second"]), "{totals}");

    let elsewhere = w.dir.join("elsewhere.json");
    w.ok(&["bench", "--output", elsewhere.to_str().unwrap()]);
    assert!(elsewhere.is_file());
}

#[test]
fn bench_without_metrics_in_the_logs_is_a_usage_error() {
    let w = World::new("bench-empty");
    std::fs::create_dir_all(w.run_dir.join("logs")).unwrap();
    std::fs::write(
        w.run_dir.join("logs/run-x-backup.stderr.log"),
        "botocore chatter only\n",
    )
    .unwrap();
    w.expect(2, &["bench"])
        .assert_says(&["no backup_metrics or restore_metrics events"]);
    assert!(!w.run_dir.join("benchmark.json").exists());
}
