//! The tool config file the harness writes: valid TOML holding exactly the keys of
//! CONTRACT.md section 3, with the spec's values and absolute paths, whatever characters
//! the paths contain.

use std::collections::BTreeSet;
use std::path::PathBuf;

use b2s3_harness::gen::plan::{ToolSettings, VerifyMode};
use b2s3_harness::tool::{ToolConfigError, ToolConfigSpec};
use toml::{Table, Value};

const SECTION_3_KEYS: [&str; 26] = [
    "global.log_level",
    "global.state_path",
    "global.lock_path",
    "global.spool_dir",
    "global.spool_size_bytes",
    "schedule.full_every_days",
    "schedule.incremental_every_days",
    "schedule.run_at",
    "snapshots.base_dir",
    "snapshots.retain",
    "subvolumes.paths",
    "s3.bucket",
    "s3.region",
    "s3.prefix",
    "s3.chunk_size_bytes",
    "s3.storage_class_chunks",
    "s3.storage_class_manifest",
    "s3.concurrency",
    "s3.spool_enabled",
    "s3.sse",
    "restore.target_base_dir",
    "restore.verify_mode",
    "restore.sample_max_files",
    "restore.wait_for_restore",
    "restore.restore_timeout_seconds",
    "restore.restore_tier",
];

fn settings() -> ToolSettings {
    ToolSettings {
        chunk_size_bytes: 3 * 1024 * 1024 + 7,
        retain: 3,
        storage_class_chunks: "DEEP_ARCHIVE".into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
        concurrency: 2,
        spool_enabled: true,
        spool_size_bytes: 6 * 1024 * 1024,
        full_every_days: 30,
        incremental_every_days: 1,
        verify_mode: VerifyMode::Sample,
        sample_max_files: 17,
        wait_for_restore: false,
        restore_timeout_seconds: 90,
    }
}

/// A spec whose paths contain spaces, quotes, a backslash and a `#`.
fn spec(root: &str) -> ToolConfigSpec {
    let p = |rel: &str| PathBuf::from(format!("{root}/{rel}"));
    ToolConfigSpec {
        subvolume_paths: vec![p("mnt/src/data"), p("mnt/src/my \"home\"")],
        snapshots_dir: p("mnt/src/.snap shots"),
        state_path: p("state dir/state.json"),
        lock_path: p("lock#1/b2s3.lock"),
        spool_dir: p("spool\\dir"),
        restore_target_base_dir: p("restore"),
        log_level: "info".into(),
        bucket: "b2s3-test".into(),
        region: "eu-west-1".into(),
        prefix: "b2s3-harness/20260101T000000Z-0000abcd/case-3".into(),
        restore_tier: "Bulk".into(),
        settings: settings(),
    }
}

fn keys(table: &Table) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (section, value) in table {
        let Value::Table(inner) = value else {
            panic!("top-level key {section} is not a section")
        };
        out.extend(inner.keys().map(|k| format!("{section}.{k}")));
    }
    out
}

fn get<'a>(table: &'a Table, dotted: &str) -> &'a Value {
    let (section, key) = dotted.split_once('.').unwrap();
    &table[section][key]
}

#[test]
fn the_written_config_parses_and_has_exactly_the_contract_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tool config.toml");
    spec("/run/case 1").write(&file).expect("write");
    let table: Table = std::fs::read_to_string(&file)
        .unwrap()
        .parse()
        .expect("valid TOML");
    let expected: BTreeSet<String> = SECTION_3_KEYS.iter().map(|k| k.to_string()).collect();
    assert_eq!(keys(&table), expected);
}

#[test]
fn paths_with_spaces_quotes_and_backslashes_round_trip_as_absolute_paths() {
    let table: Table = spec("/run/case 1").render().unwrap().parse().unwrap();
    assert_eq!(
        get(&table, "global.state_path").as_str(),
        Some("/run/case 1/state dir/state.json")
    );
    assert_eq!(
        get(&table, "global.spool_dir").as_str(),
        Some("/run/case 1/spool\\dir")
    );
    assert_eq!(
        get(&table, "global.lock_path").as_str(),
        Some("/run/case 1/lock#1/b2s3.lock")
    );
    let subvolumes: Vec<&str> = get(&table, "subvolumes.paths")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        subvolumes,
        [
            "/run/case 1/mnt/src/data",
            "/run/case 1/mnt/src/my \"home\""
        ]
    );
    for key in [
        "global.state_path",
        "global.lock_path",
        "global.spool_dir",
        "snapshots.base_dir",
        "restore.target_base_dir",
    ] {
        assert!(
            get(&table, key).as_str().unwrap().starts_with('/'),
            "{key} not absolute"
        );
    }
}

#[test]
fn every_setting_of_the_case_is_written_with_its_value() {
    let table: Table = spec("/r").render().unwrap().parse().unwrap();
    let int = |k: &str| get(&table, k).as_integer().unwrap();
    let text = |k: &str| get(&table, k).as_str().unwrap().to_string();
    let flag = |k: &str| get(&table, k).as_bool().unwrap();
    assert_eq!(int("s3.chunk_size_bytes"), 3 * 1024 * 1024 + 7);
    assert_eq!((int("snapshots.retain"), int("s3.concurrency")), (3, 2));
    assert_eq!(
        (
            int("schedule.full_every_days"),
            int("schedule.incremental_every_days")
        ),
        (30, 1)
    );
    assert_eq!(
        (int("global.spool_size_bytes"), flag("s3.spool_enabled")),
        (6 * 1024 * 1024, true)
    );
    assert_eq!(
        (
            text("s3.storage_class_chunks"),
            text("s3.storage_class_manifest")
        ),
        ("DEEP_ARCHIVE".into(), "STANDARD".into())
    );
    assert_eq!(
        (text("s3.sse"), text("s3.bucket"), text("s3.region")),
        ("AES256".into(), "b2s3-test".into(), "eu-west-1".into())
    );
    assert_eq!(
        text("s3.prefix"),
        "b2s3-harness/20260101T000000Z-0000abcd/case-3"
    );
    assert_eq!(
        (text("restore.verify_mode"), int("restore.sample_max_files")),
        ("sample".into(), 17)
    );
    assert_eq!(
        (
            flag("restore.wait_for_restore"),
            int("restore.restore_timeout_seconds")
        ),
        (false, 90)
    );
    assert_eq!(
        (text("restore.restore_tier"), text("global.log_level")),
        ("Bulk".into(), "info".into())
    );
    assert_eq!(text("schedule.run_at"), "02:00");
}

#[test]
fn a_relative_path_is_refused_naming_the_key() {
    let mut bad = spec("/r");
    bad.lock_path = PathBuf::from("run/lock");
    let err = bad.render().expect_err("relative lock path");
    assert!(
        matches!(
            err,
            ToolConfigError::BadPath {
                field: "global.lock_path",
                ..
            }
        ),
        "{err:?}"
    );
    let mut bad = spec("/r");
    bad.subvolume_paths.push(PathBuf::from("data"));
    assert!(matches!(
        bad.render(),
        Err(ToolConfigError::BadPath {
            field: "subvolumes.paths",
            ..
        })
    ));
}

#[test]
fn values_the_format_cannot_hold_are_refused() {
    let mut bad = spec("/r");
    bad.settings.chunk_size_bytes = u64::MAX;
    let err = bad.render().expect_err("too big for TOML");
    assert!(
        matches!(
            err,
            ToolConfigError::BadValue {
                field: "s3.chunk_size_bytes",
                ..
            }
        ),
        "{err:?}"
    );
    let mut bad = spec("/r");
    bad.log_level = "verbose".into();
    assert!(matches!(
        bad.render(),
        Err(ToolConfigError::BadValue {
            field: "global.log_level",
            ..
        })
    ));
    let mut bad = spec("/r");
    bad.subvolume_paths.clear();
    assert!(matches!(
        bad.render(),
        Err(ToolConfigError::BadValue {
            field: "subvolumes.paths",
            ..
        })
    ));
}

#[test]
fn writing_into_a_missing_directory_fails_naming_the_file() {
    let err = spec("/r")
        .write(std::path::Path::new("/nonexistent-dir/tool.toml"))
        .expect_err("no dir");
    assert!(
        err.to_string().contains("/nonexistent-dir/tool.toml"),
        "{err}"
    );
}
