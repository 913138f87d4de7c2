//! Restore's refusals and failures (P9, P11) and its verification modes (P13): an
//! existing target is refused and left unchanged; a corrupt or missing chunk fails with
//! the contract's message, leaves nothing at the target, and a retry to the same target
//! succeeds once the object is back; a killed restore does not block a retry; `none`,
//! `sample`, a missing source and a real mismatch are reported as documented.

mod support;

use std::time::Duration;

use support::contract::{self, Published};
use support::fixture::BtrfsImage;
use support::tree;
use support::{Settings, World};

/// A world with a full and an incremental of "data"; returns both publications.
fn chain_world(label: &str, settings: Settings) -> (World, Vec<Published>) {
    let w = World::new(label, &["data"], settings);
    tree::populate(&w.vol("data"), 11, 200_000);
    let full = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    tree::mutate(&w.vol("data"), 12);
    let inc = contract::check_backup_run(&w, &w.backup(&["--once"]), &[("data", "inc")], &[("data", &full[0].manifest_key)]);
    (w, vec![full[0].clone(), inc[0].clone()])
}

fn dst_entries(w: &World) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&w.dst.mnt).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_restore_onto_an_existing_target_exits_1_and_leaves_it_unchanged() {
    let (w, _) = chain_world("exists", Settings::default());
    let dir_target = w.target("plain-dir");
    std::fs::create_dir_all(dir_target.join("keep")).unwrap();
    std::fs::write(dir_target.join("keep/me.txt"), b"precious").unwrap();
    let subvol_target = w.dst.create_subvolume("a-subvolume");
    std::fs::write(subvol_target.join("x"), b"also precious").unwrap();
    for target in [&dir_target, &subvol_target] {
        let before = tree::scan(target);
        let out = w.restore("data", target, &[]);
        out.expect_code(1);
        assert_eq!(out.event("restore_failed").get("error"), format!("target path already exists: {}", target.display()));
        assert_eq!(tree::first_difference(&before, &tree::scan(target)), None, "P9: target changed");
    }
    assert_eq!(dst_entries(&w), ["a-subvolume", "plain-dir"], "nothing else appeared next to the targets");
}

#[test]
fn a_corrupt_chunk_fails_with_hash_mismatch_leaves_nothing_and_a_retry_succeeds() {
    let (w, published) = chain_world("corrupt", Settings::default());
    let key = published[1].manifest["chunks"][0]["key"].as_str().unwrap().to_string();
    let original = w.s3.get(&key);
    let mut bad = original.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x55;
    w.s3.put(&key, bad);
    let target = w.target("restored");
    let out = w.restore("data", &target, &[]);
    out.expect_code(1);
    assert_eq!(out.event("restore_failed").get("error"), format!("restore stream failed: hash mismatch for {key}"));
    assert!(dst_entries(&w).is_empty(), "P11: nothing may be left next to the target: {:?}", dst_entries(&w));

    w.s3.delete(&key);
    let missing = w.restore("data", &target, &[]);
    missing.expect_code(1);
    assert_eq!(missing.event("restore_failed").get("error"), format!("restore stream failed: missing object {key}"));
    assert!(dst_entries(&w).is_empty());

    w.s3.put(&key, original);
    w.restore("data", &target, &[]).expect_code(0);
    assert_eq!(tree::first_difference(&tree::scan(&w.vol("data")), &tree::scan(&target)), None);
}

#[test]
fn a_killed_restore_does_not_block_a_retry_to_the_same_target() {
    let w = World::new("killrestore", &["data"], Settings { chunk_size: 1024 * 1024, ..Settings::default() });
    tree::populate(&w.vol("data"), 13, 60 * 1024 * 1024);
    contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    let target = w.target("t");
    let config = w.config_path();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_b2s3-ref"));
    cmd.args(["restore", "--subvolume", "data", "--target", target.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    cmd.envs(w.env()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let _ = child.kill();
    child.wait().unwrap();
    if target.exists() {
        // The kill came too late: the restore had finished. Start over from nothing.
        BtrfsImage::delete_subvolume(&target);
    }
    let out = w.restore("data", &target, &[]);
    out.expect_code(0);
    assert_eq!(dst_entries(&w), ["t"], "a dead restore's staging directory is cleaned up");
    assert_eq!(tree::first_difference(&tree::scan(&w.vol("data")), &tree::scan(&target)), None);
}

#[test]
fn verification_modes_and_a_missing_source_are_reported_as_documented() {
    let (w, published) = chain_world("verify", Settings::default());
    let none = w.restore("data", &w.target("none"), &["--verify", "none"]);
    none.expect_code(0);
    assert_eq!(none.event("restore_verify_skipped").get("mode"), "none");
    let sample = w.restore("data", &w.target("sample"), &["--verify", "sample"]);
    sample.expect_code(0);
    let done = sample.event("restore_verify_complete");
    assert_eq!((done.get("status"), done.get("mode")), ("ok", "sample"));
    assert_eq!(sample.names().last(), Some(&"restore_complete"));
    let metrics = sample.event("restore_metrics");
    let total: u64 = published.iter().map(|p| p.manifest["total_bytes"].as_u64().unwrap()).sum();
    assert_eq!((metrics.get("subvolume"), metrics.get("total_bytes")), ("data", total.to_string().as_str()));

    let source = published[1].manifest["snapshot"]["path"].as_str().unwrap();
    BtrfsImage::delete_subvolume(std::path::Path::new(source));
    let gone = w.restore("data", &w.target("gone"), &[]);
    gone.expect_code(0);
    assert_eq!(gone.event("restore_verify_source_missing").get("path"), source);
}

#[test]
fn a_restore_that_differs_from_its_source_snapshot_fails_verification() {
    let (w, published) = chain_world("mismatch", Settings::default());
    let source = std::path::PathBuf::from(published[1].manifest["snapshot"]["path"].as_str().unwrap());
    let status = std::process::Command::new("btrfs").args(["property", "set", "-ts"]).arg(&source).args(["ro", "false"]).status().unwrap();
    assert!(status.success());
    std::fs::write(source.join("docs/file2.txt"), b"changed after the backup").unwrap();
    let out = w.restore("data", &w.target("m"), &[]);
    out.expect_code(1);
    let error = out.event("restore_verify_failed").get("error").to_string();
    assert!(error == "size mismatch for docs/file2.txt" || error == "hash mismatch for docs/file2.txt", "{error}");
}
