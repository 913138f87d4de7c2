//! One test per `B2S3_REF_BUG` variant, each showing the documented misbehaviour
//! directly (and naming the property of PROPERTIES.md it breaks), so that the tester's
//! selfcheck can rely on every variant being reachable by a black-box scenario.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::contract;
use support::tree;
use support::world::{bug, PREFIX};
use support::{Settings, World};

const MIB: usize = 1024 * 1024;

fn pointer_key(subvolume: &str) -> String {
    format!("{PREFIX}subvol/{subvolume}/current.json")
}

/// A world whose "data" has one full backup made by the correct tool.
fn with_full(label: &str, settings: Settings) -> (World, String) {
    let w = World::new(label, &["data"], settings);
    tree::populate(&w.vol("data"), 31, 150_000);
    let full = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    (w, full[0].manifest_key.clone())
}

/// An endpoint where nothing listens: every upload fails after the snapshot is made.
fn dead_endpoint() -> (&'static str, String) {
    ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9".to_string())
}

fn manifest_of(w: &World, out: &support::Outcome) -> (String, Value) {
    out.expect_code(0);
    let key = out.event("backup_uploaded").get("manifest_key").to_string();
    let m = w.s3.json(&key);
    (key, m)
}

/// Starts a backup with `variant`, kills it as soon as `current.json` exists, and returns
/// the pointer it left behind.
fn kill_once_pointer_appears(w: &World, variant: &str) -> Value {
    let log = w.scratch.join("victim.log");
    let mut child = w.spawn_backup(&[], &[bug(variant)], &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.s3.try_get(&pointer_key("data")).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "the backup ended before publishing: {}", std::fs::read_to_string(&log).unwrap());
        assert!(Instant::now() < deadline, "no pointer within 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    w.s3.json(&pointer_key("data"))
}

#[test]
fn no_lock_ignores_a_live_holder_and_lets_two_backups_overlap() {
    // P5: a backup started while another holds the lock must exit 1 and do nothing.
    let w = World::new("bug-nolock", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 1, 0);
    std::fs::create_dir_all(w.lock_path().parent().unwrap()).unwrap();
    std::fs::write(w.lock_path(), format!("{}\n", std::process::id())).unwrap();
    let out = w.backup_env(&[], &[bug("no-lock")]);
    out.expect_code(0);
    assert!(!out.has("backup_lock_failed") && out.has("backup_uploaded"), "{}", out.stderr);
    std::fs::remove_file(w.lock_path()).unwrap();
    std::fs::remove_file(w.state_path()).unwrap();
    let (log_a, log_b) = (w.scratch.join("a.log"), w.scratch.join("b.log"));
    let mut a = w.spawn_backup(&[], &[bug("no-lock")], &log_a);
    let mut b = w.spawn_backup(&[], &[bug("no-lock")], &log_b);
    let started = Instant::now();
    a.wait().unwrap();
    b.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    // Both got past the lock and raced each other (often for the same snapshot name).
    for log in [&log_a, &log_b] {
        let text = std::fs::read_to_string(log).unwrap();
        let progressed = text.contains("event=snapshot_created") || text.contains("event=backup_snapshot_failed");
        assert!(progressed && !text.contains("backup_lock_failed"), "both made progress: {text}");
    }
}

#[test]
fn stale_lock_never_taken_blocks_every_backup_after_a_crash() {
    // P5 (a stale lock never blocks a later backup) and P4 (recovery without cleanup).
    let w = World::new("bug-stale", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 2, 0);
    std::fs::create_dir_all(w.lock_path().parent().unwrap()).unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(w.lock_path(), format!("{pid}\n")).unwrap();
    let out = w.backup_env(&[], &[bug("stale-lock-never-taken")]);
    out.expect_code(1);
    assert_eq!(out.event("backup_lock_failed").get("error"), format!("lock already held by pid {pid}"));
    w.backup(&[]).expect_code(0);
}

#[test]
fn pointer_before_manifest_leaves_a_dangling_pointer_when_killed() {
    // P2/P3: the pointer must never name a manifest that does not exist.
    let w = World::new("bug-ptr-manifest", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 3, 0);
    let pointer = kill_once_pointer_appears(&w, "pointer-before-manifest");
    let key = pointer["manifest_key"].as_str().unwrap();
    assert!(w.s3.try_get(key).is_err(), "the pointer names {key}, which does not exist");
    let out = w.restore("data", &w.target("t"), &[]);
    out.expect_code(1);
    assert_eq!(out.event("restore_manifest_failed").get("error"), format!("missing object {key}"));
}

#[test]
fn pointer_before_last_chunk_publishes_a_manifest_whose_last_chunk_is_missing() {
    // P2: every chunk of the named manifest must exist with its size and SHA-256.
    let w = World::new("bug-ptr-chunk", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 4, 0);
    let pointer = kill_once_pointer_appears(&w, "pointer-before-last-chunk");
    let m = w.s3.json(pointer["manifest_key"].as_str().unwrap());
    let chunks = m["chunks"].as_array().unwrap();
    let last = chunks.last().unwrap()["key"].as_str().unwrap();
    assert!(w.s3.try_get(last).is_err(), "the last chunk {last} must be missing after the kill");
    w.restore("data", &w.target("t"), &[]).expect_code(1);
}

#[test]
fn wrong_parent_manifest_links_the_second_incremental_to_the_full() {
    // P6 (parent_manifest is the previous manifest) and P1 (the chain restores).
    let (w, full_key) = with_full("bug-wrong-parent", Settings::default());
    tree::mutate(&w.vol("data"), 5);
    let (first_key, _) = manifest_of(&w, &w.backup_env(&["--once"], &[bug("wrong-parent-manifest")]));
    tree::mutate(&w.vol("data"), 6);
    let (_, second) = manifest_of(&w, &w.backup_env(&["--once"], &[bug("wrong-parent-manifest")]));
    assert_eq!(second["parent_manifest"].as_str(), Some(full_key.as_str()));
    assert_ne!(second["parent_manifest"].as_str(), Some(first_key.as_str()));
    let out = w.restore("data", &w.target("t"), &[]);
    out.expect_code(1);
    assert!(out.event("restore_failed").get("error").starts_with("btrfs receive failed"), "{}", out.stderr);
}

#[test]
fn send_wrong_parent_sends_against_a_failed_runs_leftover_snapshot() {
    // P4/P1: after a failed run, the next incremental must still restore.
    let (w, full_key) = with_full("bug-send-parent", Settings::default());
    tree::mutate(&w.vol("data"), 7);
    let failed = w.backup_env(&["--once"], &[bug("send-wrong-parent"), dead_endpoint()]);
    failed.expect_code(1);
    assert_eq!(w.snapshots("data").len(), 2, "the failed run left its snapshot");
    tree::mutate(&w.vol("data"), 8);
    let (_, m) = manifest_of(&w, &w.backup_env(&["--once"], &[bug("send-wrong-parent")]));
    assert_eq!(m["parent_manifest"].as_str(), Some(full_key.as_str()), "the recorded chain is fine...");
    let out = w.restore("data", &w.target("t"), &[]);
    out.expect_code(1);
    assert!(out.event("restore_failed").get("error").starts_with("btrfs receive failed"), "...but the stream is not: {}", out.stderr);
}

#[test]
fn drop_last_partial_chunk_loses_the_end_of_the_stream() {
    // P7 (the chunks form a complete send stream) and P1.
    let w = World::new("bug-drop-tail", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 9, 0);
    let (_, m) = manifest_of(&w, &w.backup_env(&[], &[bug("drop-last-partial-chunk")]));
    let sizes: Vec<u64> = m["chunks"].as_array().unwrap().iter().map(|c| c["size"].as_u64().unwrap()).collect();
    assert!(sizes.iter().all(|s| *s == w.settings.chunk_size), "only full chunks: {sizes:?}");
    let target = w.target("t");
    let out = w.restore("data", &target, &[]);
    out.expect_code(1);
    assert!(!target.exists());
}

#[test]
fn empty_trailing_chunk_uploads_an_empty_object_at_an_exact_multiple() {
    // P7 / CONTRACT.md 9: an exact multiple gives no empty trailing chunk.
    let (mut w, full_key) = with_full("bug-empty-tail", Settings::default());
    let total = w.s3.json(&full_key)["total_bytes"].as_u64().unwrap();
    w.settings.chunk_size = total;
    w.write_config();
    std::fs::remove_file(w.state_path()).unwrap();
    let (_, m) = manifest_of(&w, &w.backup_env(&[], &[bug("empty-trailing-chunk")]));
    assert_eq!(m["total_bytes"].as_u64(), Some(total), "same tree, same stream length");
    let sizes: Vec<u64> = m["chunks"].as_array().unwrap().iter().map(|c| c["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, vec![total, 0]);
}

#[test]
fn wrong_manifest_size_records_the_short_last_chunk_as_full_sized() {
    // P7: sizes and total_bytes must match the objects.
    let w = World::new("bug-size", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 10, 0);
    let (_, m) = manifest_of(&w, &w.backup_env(&[], &[bug("wrong-manifest-size")]));
    let last = m["chunks"].as_array().unwrap().last().unwrap();
    let actual = w.s3.head(last["key"].as_str().unwrap()).size as u64;
    assert!(actual < w.settings.chunk_size);
    assert_eq!(last["size"].as_u64(), Some(w.settings.chunk_size), "recorded size differs from the object's {actual}");
    let sum: u64 = m["chunks"].as_array().unwrap().iter().map(|c| w.s3.head(c["key"].as_str().unwrap()).size as u64).sum();
    assert_ne!(m["total_bytes"].as_u64(), Some(sum));
}

#[test]
fn prune_parent_deletes_the_snapshot_the_state_needs_for_the_next_incremental() {
    // P8 (last_snapshot exists) and P6 (the next --once is an incremental).
    let (w, _) = with_full("bug-prune", Settings { retain: 1, ..Settings::default() });
    tree::mutate(&w.vol("data"), 11);
    w.backup_env(&["--once"], &[bug("prune-parent")]).expect_code(0);
    let state = w.state().unwrap();
    let last = state["subvolumes"]["data"]["last_snapshot"].as_str().unwrap().to_string();
    assert!(!Path::new(&last).exists(), "the state's last_snapshot {last} was pruned");
    tree::mutate(&w.vol("data"), 12);
    let next = w.backup_env(&["--once"], &[bug("prune-parent")]);
    next.expect_code(0);
    assert_eq!(next.event("backup_parent_missing").get("path"), last);
    assert_eq!(next.event("snapshot_created").get("kind"), "full", "a full instead of an incremental");
}

#[test]
fn state_before_upload_records_a_manifest_that_was_never_published() {
    // P4 (recovery) and P2 (the next pointer's chain must be complete).
    let (w, _) = with_full("bug-state-early", Settings::default());
    tree::mutate(&w.vol("data"), 13);
    w.backup_env(&["--once"], &[bug("state-before-upload"), dead_endpoint()]).expect_code(1);
    let recorded = w.state().unwrap()["subvolumes"]["data"]["last_manifest"].as_str().unwrap().to_string();
    assert!(w.s3.try_get(&recorded).is_err(), "state names {recorded}, which was never uploaded");
    let (_, m) = manifest_of(&w, &w.backup_env(&["--once"], &[bug("state-before-upload")]));
    assert_eq!(m["parent_manifest"].as_str(), Some(recorded.as_str()));
    let out = w.restore("data", &w.target("t"), &[]);
    out.expect_code(1);
    assert_eq!(out.event("restore_manifest_failed").get("error"), format!("missing object {recorded}"));
}

#[test]
fn restore_full_only_ignores_the_incrementals_and_still_says_ok() {
    // P1: the restore must equal the tree at the newest backup of the chain.
    let (w, _) = with_full("bug-full-only", Settings::default());
    let at_full = tree::scan(&w.vol("data"));
    tree::mutate(&w.vol("data"), 14);
    w.backup(&["--once"]).expect_code(0);
    let target = w.target("t");
    let out = w.restore_env("data", &target, &[], &[bug("restore-full-only")]);
    out.expect_code(0);
    let restored = tree::scan(&target);
    assert_eq!(tree::first_difference(&at_full, &restored), None, "it restored the full");
    assert!(tree::first_difference(&tree::scan(&w.vol("data")), &restored).is_some());
}

#[test]
fn restore_skip_hash_feeds_a_forged_chunk_to_btrfs_receive() {
    // P1: a chunk that does not match its SHA-256 must never be applied.
    let w = World::new("bug-skip-hash", &["data"], Settings { chunk_size: 64 * MIB as u64, ..Settings::default() });
    tree::populate(&w.vol("data"), 15, 0);
    let (_, m) = manifest_of(&w, &w.backup(&[]));
    let key = m["chunks"][0]["key"].as_str().unwrap().to_string();
    w.s3.put(&key, sendstream::forge_first_write(&w.s3.get(&key)));
    let correct = w.restore("data", &w.target("checked"), &["--verify", "none"]);
    correct.expect_code(1);
    assert_eq!(correct.event("restore_failed").get("error"), format!("restore stream failed: hash mismatch for {key}"));
    let target = w.target("t");
    let out = w.restore_env("data", &target, &["--verify", "none"], &[bug("restore-skip-hash")]);
    out.expect_code(0);
    let diff = tree::first_difference(&tree::scan(&w.vol("data")), &tree::scan(&target));
    assert!(diff.is_some(), "the forged content was restored and reported ok");
}

#[test]
fn restore_leave_partial_leaves_the_target_behind_and_blocks_the_retry() {
    // P11: after a failed restore, the same command must succeed once the cause is gone.
    let (w, _) = with_full("bug-partial", Settings::default());
    tree::mutate(&w.vol("data"), 16);
    let (_, m) = manifest_of(&w, &w.backup(&["--once"]));
    let key = m["chunks"][0]["key"].as_str().unwrap().to_string();
    let original = w.s3.get(&key);
    w.s3.put(&key, b"garbage".to_vec());
    let target = w.target("t");
    let out = w.restore_env("data", &target, &[], &[bug("restore-leave-partial")]);
    out.expect_code(1);
    assert!(target.exists(), "the full's subvolume stays at the target");
    w.s3.put(&key, original);
    let retry = w.restore_env("data", &target, &[], &[bug("restore-leave-partial")]);
    retry.expect_code(1);
    assert_eq!(retry.event("restore_failed").get("error"), format!("target path already exists: {}", target.display()));
}

#[test]
fn archive_no_wait_fails_an_archived_restore_even_when_asked_to_wait() {
    // P12: a restore that waits must succeed.
    let w = World::new("bug-archive", &["data"], Settings { storage_class_chunks: "GLACIER".into(), ..Settings::default() });
    tree::populate(&w.vol("data"), 17, 0);
    w.backup(&[]).expect_code(0);
    let target = w.target("t");
    let out = w.restore_env("data", &target, &["--wait-restore"], &[bug("archive-no-wait")]);
    out.expect_code(1);
    assert!(out.event("restore_failed").get("error").contains("InvalidObjectState"), "{}", out.stderr);
    w.restore("data", &target, &["--wait-restore"]).expect_code(0);
}

#[test]
fn manifest_chunk_class_archives_the_manifest_and_pointer_too() {
    // P7 (documents use storage_class_manifest) and P12 (a waiting restore succeeds).
    let w = World::new("bug-doc-class", &["data"], Settings { storage_class_chunks: "DEEP_ARCHIVE".into(), ..Settings::default() });
    tree::populate(&w.vol("data"), 18, 0);
    let out = w.backup_env(&[], &[bug("manifest-chunk-class")]);
    out.expect_code(0);
    let key = out.event("backup_uploaded").get("manifest_key").to_string();
    assert_eq!(w.s3.head(&key).storage_class.as_deref(), Some("DEEP_ARCHIVE"));
    assert_eq!(w.s3.head(&pointer_key("data")).storage_class.as_deref(), Some("DEEP_ARCHIVE"));
    let restore = w.restore("data", &w.target("t"), &["--wait-restore"]);
    restore.expect_code(1);
    assert!(restore.event("restore_current_failed").get("error").contains("InvalidObjectState"), "{}", restore.stderr);
}

#[test]
fn missing_sse_stores_manifest_and_pointer_unencrypted() {
    // P7: every object carries SSE AES256.
    let w = World::new("bug-sse", &["data"], Settings::default());
    tree::populate(&w.vol("data"), 19, 0);
    let (key, m) = manifest_of(&w, &w.backup_env(&[], &[bug("missing-sse")]));
    assert_eq!(w.s3.head(&key).sse, None);
    assert_eq!(w.s3.head(&pointer_key("data")).sse, None);
    let chunk = m["chunks"][0]["key"].as_str().unwrap();
    assert_eq!(w.s3.head(chunk).sse.as_deref(), Some("AES256"), "chunks still have it");
}

/// Just enough of the btrfs send-stream format to forge a chunk btrfs accepts.
mod sendstream {
    const HEADER: usize = 17; // "btrfs-stream\0" + u32 version
    const CMD_HEADER: usize = 10; // u32 len, u16 cmd, u32 crc
    const CMD_WRITE: u16 = 15;
    const ATTR_DATA: u16 = 19;

    fn u16_at(s: &[u8], i: usize) -> u16 {
        u16::from_le_bytes([s[i], s[i + 1]])
    }

    fn u32_at(s: &[u8], i: usize) -> u32 {
        u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]])
    }

    /// Flips a byte of the first file-data write and fixes that command's CRC, so that
    /// only the chunk's SHA-256 can reveal the change.
    pub fn forge_first_write(stream: &[u8]) -> Vec<u8> {
        let mut out = stream.to_vec();
        let mut at = HEADER;
        while at + CMD_HEADER <= out.len() {
            let len = u32_at(&out, at) as usize;
            if u16_at(&out, at + 4) == CMD_WRITE {
                let mut tlv = at + CMD_HEADER;
                while tlv + 4 <= at + CMD_HEADER + len {
                    let (kind, tlv_len) = (u16_at(&out, tlv), u16_at(&out, tlv + 2) as usize);
                    if kind == ATTR_DATA && tlv_len > 0 {
                        out[tlv + 4] ^= 0xff;
                        out[at + 6..at + 10].copy_from_slice(&[0; 4]);
                        let crc = btrfs_crc(&out[at..at + CMD_HEADER + len]);
                        out[at + 6..at + 10].copy_from_slice(&crc.to_le_bytes());
                        return out;
                    }
                    tlv += 4 + tlv_len;
                }
            }
            at += CMD_HEADER + len;
        }
        panic!("no write command with data in the stream");
    }

    /// The command CRC of btrfs-progs: CRC-32C over the command with its crc field zeroed,
    /// seeded with 0 and without the final inversion.
    fn btrfs_crc(bytes: &[u8]) -> u32 {
        let mut crc = 0u32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            }
        }
        crc
    }
}
