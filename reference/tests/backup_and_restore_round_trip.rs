//! End-to-end: full backups of three subvolumes, mutations, `--once` incrementals (a
//! chain of two for one subvolume), then restores through `current.json` and through
//! every manifest key into a separate btrfs, each compared with the tests' own scan of
//! the source as it was at that backup. Along the way every published object is checked
//! against the contract field by field.

mod support;

use support::contract::{self, Published};
use support::tree::{self, Tree};
use support::{Settings, World};

const MIB: u64 = 1024 * 1024;

/// Restores `key` (or `current.json` when None) into a fresh target and compares it.
fn restore_and_compare(w: &World, subvolume: &str, key: Option<&str>, label: &str, expected: &Tree) {
    let target = w.target(label);
    let flags: Vec<&str> = key.map_or(vec![], |k| vec!["--manifest-key", k]);
    let out = w.restore(subvolume, &target, &flags);
    out.expect_code(0);
    assert!(out.has("restore_metrics") && out.has("restore_complete"), "{}", out.stderr);
    assert!(out.has("restore_verify_complete") || out.has("restore_verify_source_missing"), "{}", out.stderr);
    if let Some(diff) = tree::first_difference(expected, &tree::scan(&target)) {
        panic!("restore of {subvolume} {key:?} differs from the source at backup time: {diff}");
    }
    assert!(!support::fixture::BtrfsImage::is_readonly(&target), "the restored target must be writable");
}

fn scan_all(w: &World, names: &[&str]) -> Vec<Tree> {
    names.iter().map(|n| tree::scan(&w.vol(n))).collect()
}

#[test]
fn full_and_incremental_backups_restore_to_the_source_as_it_was_at_each_backup() {
    // 6 MiB chunks: "media" holds a 13 MiB file, so its stream has multipart chunks
    // (over 5 MiB, etag null) and a short PutObject tail.
    let settings = Settings { chunk_size: 6 * MIB, retain: 1, ..Settings::default() };
    let names = ["data", "home", "media"];
    let w = World::new("roundtrip", &names, settings);
    tree::populate(&w.vol("data"), 1, 0);
    tree::populate(&w.vol("home"), 2, 300_000);
    tree::populate(&w.vol("media"), 3, 13 * MIB as usize);

    let fulls = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full"), ("home", "full"), ("media", "full")], &[]);
    let at_full = scan_all(&w, &names);
    assert!(fulls[2].manifest["chunks"].as_array().unwrap().len() >= 3, "media must span several chunks");
    for n in names {
        assert_eq!(w.snapshots(n).len(), 1, "retain=1 keeps one snapshot after a full");
    }

    let before = w.s3.keys("");
    let idle = w.backup(&[]);
    idle.expect_code(0);
    assert_eq!(idle.events("backup_not_due").len(), 4, "three per-subvolume lines and one summary: {}", idle.stderr);
    assert!(!idle.has("snapshot_created"));
    assert_eq!(w.s3.keys(""), before, "a run with nothing due uploads nothing");

    for (i, n) in names.iter().enumerate() {
        tree::mutate(&w.vol(n), 10 + i as u64);
    }
    let parents: Vec<(&str, &str)> = fulls.iter().map(|p| (p.subvolume.as_str(), p.manifest_key.as_str())).collect();
    let incs = contract::check_backup_run(&w, &w.backup(&["--once"]), &[("data", "inc"), ("home", "inc"), ("media", "inc")], &parents);
    let at_inc = scan_all(&w, &names);
    for n in names {
        assert_eq!(w.snapshots(n).len(), 2, "retain=1 keeps the new snapshot and its parent");
    }

    tree::mutate(&w.vol("data"), 30);
    let second = contract::check_backup_run(&w, &w.backup(&["--once", "--subvolume", "data"]), &[("data", "inc")], &[("data", &incs[0].manifest_key)]);
    let data_at_second = tree::scan(&w.vol("data"));
    assert_eq!(w.snapshots("data").len(), 2);
    assert!(w.snapshots("data").iter().all(|s| s.ends_with("__inc")), "the full snapshot was pruned");

    for (i, n) in names.iter().enumerate() {
        let mut published: Vec<&Published> = vec![&fulls[i], &incs[i]];
        let mut expected = vec![&at_full[i], &at_inc[i]];
        if *n == "data" {
            published.push(&second[0]);
            expected.push(&data_at_second);
        }
        let manifests: Vec<&serde_json::Value> = published.iter().map(|p| &p.manifest).collect();
        let keys: Vec<&str> = published.iter().map(|p| p.manifest_key.as_str()).collect();
        contract::check_no_stray_keys(&w, n, &manifests, &keys);
        restore_and_compare(&w, n, None, &format!("{n}-current"), expected.last().unwrap());
        for (j, p) in published.iter().enumerate() {
            restore_and_compare(&w, n, Some(&p.manifest_key), &format!("{n}-{j}"), expected[j]);
        }
    }
}

#[test]
fn spooled_parts_go_through_files_that_are_removed_afterwards() {
    // 12 MiB chunks staged in 5 MiB spool files: each chunk is a three-part upload.
    let settings = Settings { chunk_size: 12 * MIB, spool_size: Some(5 * MIB), ..Settings::default() };
    let w = World::new("spool", &["data"], settings);
    tree::populate(&w.vol("data"), 7, 20 * MIB as usize);
    let published = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    assert_eq!(std::fs::read_dir(w.spool_dir()).unwrap().count(), 0, "spool files must be removed");
    assert_eq!(w.s3.incomplete_uploads(), 0);
    let expected = tree::scan(&w.vol("data"));
    restore_and_compare(&w, "data", Some(&published[0].manifest_key), "spooled", &expected);
}

#[test]
fn a_spool_below_5_mib_fails_the_first_large_chunk_and_aborts_its_upload() {
    let settings = Settings { chunk_size: 8 * MIB, spool_size: Some(MIB), ..Settings::default() };
    let w = World::new("smallspool", &["data"], settings);
    tree::populate(&w.vol("data"), 8, 9 * MIB as usize);
    let out = w.backup(&[]);
    out.expect_code(1);
    let failed = out.event("backup_stream_failed");
    assert_eq!(failed.get("subvolume"), "data");
    assert!(failed.stderr_error().starts_with("spool_size_bytes must be >= 5 MiB"), "{}", out.stderr);
    assert_eq!(w.s3.incomplete_uploads(), 0, "no multipart upload may be left open");
    assert!(w.keys("data").iter().all(|k| !k.ends_with(".json")), "no manifest, no pointer");
    assert!(w.state().is_none(), "no state after a failed run");
}

#[test]
fn the_harness_run_dir_backs_up_only_the_first_subvolume_and_writes_its_manifest() {
    let w = World::new("harnessdir", &["first", "second"], Settings::default());
    tree::populate(&w.vol("first"), 5, 0);
    tree::populate(&w.vol("second"), 6, 0);
    let dir = w.scratch.join("harness");
    let out = w.backup_env(&[], &[("BTRFS_TO_S3_HARNESS_RUN_DIR", dir.to_string_lossy().into_owned())]);
    let published = contract::check_backup_run(&w, &out, &[("first", "full")], &[]);
    assert!(w.snapshots("second").is_empty() && w.keys("second").is_empty(), "only the first subvolume");
    let local = std::fs::read(dir.join("manifest.json")).expect("manifest.json in the harness run dir");
    assert_eq!(local, w.s3.get(&published[0].manifest_key));
}

#[test]
fn a_stream_of_an_exact_multiple_of_the_chunk_size_has_no_empty_trailing_chunk() {
    let w = World::new("exact", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 9, 0);
    let first = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    let total = first[0].manifest["total_bytes"].as_u64().unwrap();
    // A second full of the unchanged tree has a stream of the same length.
    let mut w = w;
    w.settings.chunk_size = total / 2 + total % 2;
    w.write_config();
    std::fs::remove_file(w.state_path()).unwrap();
    let again = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    let m = &again[0].manifest;
    assert_eq!(m["total_bytes"].as_u64(), Some(total), "the same tree must give a stream of the same length");
    if total.is_multiple_of(2) {
        assert_eq!(m["chunks"].as_array().unwrap().len(), 2, "exactly two chunks, no empty third");
    }
    w.settings.chunk_size = total;
    w.write_config();
    std::fs::remove_file(w.state_path()).unwrap();
    let single = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    assert_eq!(single[0].manifest["chunks"].as_array().unwrap().len(), 1, "one full chunk and nothing after it");
}
