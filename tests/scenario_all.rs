//! `b2s3-harness scenario ...` as a maintainer runs it, with the reference tool on real
//! btrfs and a real moto server: `scenario all` passes, prints its table, keeps every
//! scenario's logs, tears the run down and leaves nothing under the run's prefix, which
//! `cleanup` still addresses (refusing without `--yes`); bad names and options are
//! usage errors.

#[path = "scenario_support/mod.rs"]
mod support;

use b2s3_harness::s3::view::StoreView;
use b2s3_harness::s3::{Endpoint, PutOptions, S3Client, S3Options};
use b2s3_harness::scenario::all::selected;
use support::{ScenarioWorld, Store};

/// The scenarios `scenario all` runs (the catalog without the large ones).
fn scenarios() -> Vec<&'static str> {
    selected(false).iter().map(|s| s.name).collect()
}

fn client(world: &ScenarioWorld) -> S3Client {
    let url = world.server.as_ref().expect("the test's own server").url();
    let options = S3Options {
        endpoint: Endpoint::Url(url),
        bucket: "b2s3-harness".into(),
        region: "us-east-1".into(),
        credentials: None,
    };
    S3Client::new(options).unwrap()
}

fn keys(client: &S3Client, prefix: &str) -> Vec<String> {
    client.list(prefix).unwrap().into_iter().map(|o| o.key).collect()
}

#[test]
fn scenario_all_passes_on_the_reference_tears_down_and_cleanup_then_empties_the_prefix() {
    let world = ScenarioWorld::new("all", Store::Own);
    let run = world.harness(&["scenario", "all"], &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    let table: Vec<&str> = run.stdout.lines().skip_while(|l| !l.starts_with("scenario ")).collect();
    for name in scenarios() {
        let row = table.iter().find(|l| l.split_whitespace().next() == Some(name));
        let row = row.unwrap_or_else(|| panic!("no row for {name}:\n{}", run.stdout));
        assert!(row.contains(" pass ") && row.ends_with(" s"), "{row}");
        let logs = world.world.run_dir.join("logs").join(format!("scenario-{name}"));
        for file in ["report.json", "plan.txt", "expectations.txt", "result.txt", "001-step0-backup.stderr.log"] {
            assert!(logs.join(file).is_file(), "{} missing", logs.join(file).display());
        }
    }
    assert!(
        table
            .last()
            .unwrap()
            .starts_with(&format!("{0} scenario(s): {0} passed, 0 failed, 0 error(s) in ", scenarios().len())),
        "{}",
        run.stdout
    );
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounted.contains(&*world.world.dir.to_string_lossy()), "scenario all left a mount");
    let (s3, prefix) = (client(&world), world.prefix());
    assert_eq!(keys(&s3, &prefix), Vec::<String>::new(), "scenario all left objects");
    let marker = format!("{prefix}left-by-hand");
    s3.put_object(&marker, b"x".to_vec(), &PutOptions::default()).unwrap();
    let refused = world.harness(&["cleanup"], &[]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(refused.stderr.contains("add --yes"), "{}", refused.text());
    assert_eq!(keys(&s3, &prefix), vec![marker]);
    let done = world.harness(&["cleanup", "--yes"], &[]);
    assert_eq!(done.code, 0, "{}", done.text());
    assert!(done.stdout.starts_with("deleted 1 objects"), "{}", done.text());
    assert_eq!(keys(&s3, &prefix), Vec::<String>::new());
}

#[test]
fn an_unknown_scenario_and_keep_with_all_are_usage_errors_that_set_nothing_up() {
    let world = ScenarioWorld::new("usage", Store::Embedded);
    let unknown = world.harness(&["scenario", "nonesuch"], &[]);
    assert_eq!(unknown.code, 2, "{}", unknown.text());
    assert!(unknown.stderr.contains("no scenario \"nonesuch\": use one of full, incremental"), "{}", unknown.text());
    let keep = world.harness(&["scenario", "all", "--keep"], &[]);
    assert_eq!(keep.code, 2, "{}", keep.text());
    assert!(keep.stderr.contains("--keep applies to one scenario"), "{}", keep.text());
    std::fs::remove_file(world.world.dir.join("test_archive.toml")).unwrap();
    let missing = world.harness(&["scenario", "archive"], &[]);
    assert_eq!(missing.code, 2, "{}", missing.text());
    assert!(missing.stderr.contains("test_archive.toml, expected next to the harness config"), "{}", missing.text());
    assert!(!world.world.run_dir.join("session.json").exists(), "a usage error must not set the run up");
}

#[test]
fn scenario_list_names_every_scenario_with_its_settings_source() {
    let world = ScenarioWorld::new("list", Store::Embedded);
    let list = world.harness(&["scenario", "list"], &[]);
    assert_eq!(list.code, 0, "{}", list.text());
    for name in scenarios() {
        assert!(list.stdout.lines().any(|l| l.starts_with(&format!("{name} "))), "{name}: {}", list.stdout);
    }
    assert!(list.stdout.contains("multi-chunk-large  (test_large.toml, --include-large)"), "{}", list.stdout);
    assert!(list.stdout.contains("archive            (test_archive.toml)"), "{}", list.stdout);
}
