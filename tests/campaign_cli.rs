//! The campaign's command line without running a case: profile errors exit 2 naming the
//! file and the dotted key, bad flags exit 2, and `plan` prints the same plan for the
//! same seed, case and profile.

mod campaign_support;

use std::path::PathBuf;
use std::process::{Command, Output};

use campaign_support::{repo, text, BIN};

fn harness(config: &PathBuf, args: &[&str]) -> Output {
    Command::new(BIN).arg("--config").arg(config).args(args).output().unwrap()
}

/// config/test.toml plus a `[profile.bad]` table holding `extra`.
fn config_with(dir: &tempfile::TempDir, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config/test.toml")).unwrap();
    let text = format!("{text}\n[profile.bad]\n{extra}\n");
    let path = dir.path().join("harness.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_bad_profile_key_exits_2_naming_the_file_and_the_dotted_key() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("workers_count = 2", "`profile.bad.workers_count`"),
        ("fail_on = [\"fatal\"]", "`profile.bad.fail_on[0]`"),
        ("cases = -1", "`profile.bad.cases`"),
        ("workers = 0", "`profile.bad.workers`"),
    ] {
        let config = config_with(&dir, extra);
        let out = harness(&config, &["fuzz", "--profile", "bad"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra}: {}", text(&out));
        assert!(stderr.contains(key) && stderr.contains(&config.display().to_string()), "{extra}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing ran, not even the seed line: {}", text(&out));
    }
    let gen = config_with(&dir, "[profile.bad.gen]\nsteps_min = 9\nsteps_max = 2\n");
    let out = harness(&gen, &["plan", "--seed", "1", "--profile", "bad"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("profile.bad.gen.steps_min"), "{}", text(&out));
}

#[test]
fn an_unknown_profile_or_a_bad_shard_exits_2() {
    let config = repo().join("config/test.toml");
    let out = harness(&config, &["fuzz", "--profile", "weekly"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`profile.weekly`"));
    for shard in ["0/3", "4/3", "x"] {
        let out = harness(&config, &["fuzz", "--shard", shard]);
        assert_eq!(out.status.code(), Some(2), "{shard}: {}", text(&out));
    }
}

#[test]
fn plan_prints_the_same_plan_for_the_same_seed_case_and_profile() {
    let config = repo().join("config/test.toml");
    let a = harness(&config, &["plan", "--seed", "123", "--case", "4"]);
    let b = harness(&config, &["plan", "--seed", "123", "--case", "4", "--profile", "pr"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(a.stdout, b.stdout);
    let plan: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!((plan["seed"].as_u64(), plan["case"].as_u64()), (Some(123), Some(4)));
    let other = harness(&config, &["plan", "--seed", "123", "--case", "5"]);
    assert_ne!(a.stdout, other.stdout);
    let rendered = harness(&config, &["plan", "--seed", "123", "--case", "4", "--render"]);
    assert!(String::from_utf8_lossy(&rendered.stdout).starts_with("plan seed 123 case 4"));
    let nightly = harness(&config, &["plan", "--seed", "123", "--case", "4", "--profile", "nightly"]);
    assert_ne!(a.stdout, nightly.stdout, "the nightly generator draws other plans");
}

#[test]
fn the_pr_and_nightly_tables_of_both_shipped_configs_load() {
    for file in ["config/test.toml", "config/reference.toml"] {
        let config = b2s3_harness::config::Config::load_with_env(&repo().join(file), |_| None).unwrap();
        for name in ["pr", "nightly"] {
            let p = b2s3_harness::campaign::profile::load(&config, name).unwrap_or_else(|e| panic!("{file} {name}: {e}"));
            assert_eq!(p.regressions, repo().join("proptest-regressions/campaign.txt"), "{file} {name}");
            assert!(p.cases >= 20 && p.workers >= 1, "{file} {name}");
        }
    }
}
