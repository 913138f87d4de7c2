//! `verify manifest|s3|retention|restore` through the real binary, after real backups
//! and restores by the reference tool: each is clean (exit 0) on what the tool made,
//! and reports a finding with its property id (exit 1) after a corruption by hand.

mod cli_support;

use std::path::Path;

use b2s3_harness::fixture::btrfs;
use b2s3_harness::s3::view::StoreView;
use b2s3_harness::s3::PutOptions;
use cli_support::World;

/// Rewrites the full manifest of `data`: chunks 0 and 1 swapped, `total_bytes` removed.
fn put_bad_data_manifest(w: &World) {
    let (client, prefix) = w.store();
    let listed = client.list(&format!("{prefix}subvol/data/full/")).unwrap();
    let key = listed
        .into_iter()
        .map(|o| o.key)
        .find(|k| k.contains("manifest-"))
        .unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&client.get(&key).unwrap()).unwrap();
    let chunks = manifest["chunks"].as_array_mut().unwrap();
    assert!(
        chunks.len() >= 3,
        "a 3 MiB subvolume makes several 1 MiB chunks"
    );
    chunks.swap(0, 1);
    manifest.as_object_mut().unwrap().remove("total_bytes");
    let body = serde_json::to_vec_pretty(&manifest).unwrap();
    client
        .put_object(&key, body, &PutOptions::default())
        .unwrap();
}

#[test]
fn verify_manifest_is_clean_after_a_backup_and_names_the_missing_key_and_chunk_order_of_a_bad_manifest(
) {
    let w = World::seeded_and_backed_up("vmanifest", "3M");
    let clean = w.ok(&["verify", "manifest"]);
    assert_eq!(
        clean.stdout.matches("checked: ").count(),
        6,
        "3 manifests, 3 pointers:\n{}",
        clean.text()
    );
    clean.assert_says(&["verify manifest: clean"]);

    put_bad_data_manifest(&w);
    let found = w.expect(1, &["verify", "manifest"]);
    found.assert_says(&[
        "[P7 layout-and-metadata violation]",
        "\"total_bytes\" is a required property",
        "/chunks/0: wrong chunk order",
    ]);
    let min = w.expect(1, &["verify", "manifest", "--schema", "min"]);
    min.assert_says(&["total_bytes", "manifest.min.json"]);
}

#[test]
fn verify_s3_is_clean_after_a_backup_and_reports_a_deleted_chunk() {
    let w = World::seeded_and_backed_up("vs3", "2M");
    w.ok(&["verify", "s3"]).assert_says(&["verify s3: clean"]);

    let (client, prefix) = w.store();
    let listed = client.list(&format!("{prefix}subvol/home/")).unwrap();
    let chunk = listed
        .into_iter()
        .map(|o| o.key)
        .find(|k| k.ends_with("-1.bin"))
        .unwrap();
    client.delete_object(&chunk).unwrap();
    let found = w.expect(1, &["verify", "s3"]);
    found.assert_says(&[
        "[P2 no-partial-publish violation] current.json of home",
        &chunk,
        "does not exist",
    ]);
}

#[test]
fn verify_s3_reports_a_configured_subvolume_that_was_never_backed_up() {
    let w = World::new("vs3-missing");
    w.ok(&["seed", "--size", "64K"]);
    w.ok(&["run", "--", "backup", "--subvolume", "data"]);
    w.ok(&["verify", "s3", "--subvolume", "data"]);
    let found = w.expect(1, &["verify", "s3"]);
    found.assert_says(&[
        "[P6 schedule violation] configured subvolume root has no current.json",
        "subvolume home has no current.json",
    ]);
}

#[test]
fn verify_retention_is_clean_after_a_backup_and_reports_a_deleted_snapshot() {
    let w = World::seeded_and_backed_up("vretention", "256K");
    w.ok(&["verify", "retention"])
        .assert_says(&["verify retention: clean"]);

    let snapshots = std::fs::read_dir(w.snapshots_dir())
        .unwrap()
        .map(|e| e.unwrap().path());
    let root = snapshots.into_iter().find(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("root__")
    });
    btrfs::delete_subvolume(&root.unwrap()).unwrap();
    let found = w.expect(1, &["verify", "retention"]);
    found.assert_says(&["[P8 retention violation] the state's last_snapshot of root is missing"]);
    w.ok(&[
        "verify",
        "retention",
        "--subvolume",
        "data",
        "--subvolume",
        "home",
    ]);
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn verify_restore_is_clean_after_a_real_restore_and_reports_a_modified_restored_file() {
    let w = World::seeded_and_backed_up("vrestore", "2M");
    let target = w.restore_mount().join("data");
    let t = target.to_str().unwrap();
    w.ok(&["run", "--", "restore", "--subvolume", "data", "--target", t]);
    let clean = w.ok(&["verify", "restore", "--subvolume", "data", "--target", t]);
    clean.assert_says(&["snapshot.path of the newest manifest", "no differences"]);
    let sample = [
        "verify",
        "restore",
        "--subvolume",
        "data",
        "--target",
        t,
        "--mode",
        "sample",
        "--sample-max",
        "4",
    ];
    w.ok(&sample).assert_says(&["4 file(s) hashed"]);

    flip_byte(&target.join("media/medium.bin"), 100);
    let found = w.expect(
        1,
        &["verify", "restore", "--subvolume", "data", "--target", t],
    );
    found.assert_says(&[
        "[P1 round-trip violation] restored data at",
        "first: content media/medium.bin",
    ]);
    let all = w.expect(
        2,
        &[
            "verify",
            "restore",
            "--target",
            w.restore_mount().to_str().unwrap(),
        ],
    );
    all.assert_says(&["restore/root is not a directory"]);
}

#[test]
fn verify_without_a_run_is_a_usage_error_that_says_what_to_do() {
    let w = World::new("vnone");
    for what in ["manifest", "s3", "retention"] {
        w.expect(2, &["verify", what])
            .assert_says(&["no run is set up", "run `setup`"]);
    }
    let bad = w.expect(
        2,
        &[
            "verify",
            "restore",
            "--target",
            "/nonexistent",
            "--subvolume",
            "nosuch",
        ],
    );
    bad.assert_says(&["nosuch is not a configured subvolume"]);
}

#[test]
fn verify_restore_of_all_subvolumes_checks_each_one_under_the_target() {
    let w = World::seeded_and_backed_up("vrestore-all", "512K");
    let all = w.restore_mount().join("all");
    std::fs::create_dir(&all).unwrap();
    for name in ["data", "root", "home"] {
        let target = all.join(name);
        w.ok(&[
            "run",
            "--",
            "restore",
            "--subvolume",
            name,
            "--target",
            target.to_str().unwrap(),
        ]);
    }
    let clean = w.ok(&[
        "verify",
        "restore",
        "--target",
        all.to_str().unwrap(),
        "--mode",
        "sample",
    ]);
    clean.assert_says(&[
        "checked: data:",
        "checked: root:",
        "checked: home:",
        "verify restore: clean",
    ]);

    std::fs::remove_file(all.join("home/secret.key")).unwrap();
    let found = w.expect(
        1,
        &[
            "verify",
            "restore",
            "--target",
            all.to_str().unwrap(),
            "--mode",
            "sample",
        ],
    );
    found.assert_says(&[
        "[P1 round-trip violation] restored home",
        "first: missing secret.key",
        "verify restore: 1 finding(s)",
    ]);
}
