//! Archive storage classes for chunks (P12): chunks go up in GLACIER or DEEP_ARCHIVE while
//! manifests stay STANDARD; a restore without waiting fails with exit 1 and leaves nothing
//! at the target; a restore that requests and waits for the archive restores then
//! succeeds to the same target and equals the source. (moto completes archive restores at
//! once, so the timeout path cannot be exercised against it.)

mod support;

use support::contract;
use support::tree;
use support::{Settings, World};

fn archived_chain(label: &str, class: &str) -> World {
    let w = World::new(label, &["data"], Settings { storage_class_chunks: class.into(), ..Settings::default() });
    tree::populate(&w.vol("data"), 21, 250_000);
    let full = contract::check_backup_run(&w, &w.backup(&[]), &[("data", "full")], &[]);
    tree::mutate(&w.vol("data"), 22);
    contract::check_backup_run(&w, &w.backup(&["--once"]), &[("data", "inc")], &[("data", &full[0].manifest_key)]);
    w
}

fn no_wait_fails_then_wait_succeeds(w: &mut World, no_wait_flags: &[&str]) {
    let target = w.target("restored");
    let out = w.restore("data", &target, no_wait_flags);
    out.expect_code(1);
    let error = out.event("restore_failed").get("error").to_string();
    assert!(error.starts_with("restore stream failed:") && error.contains("InvalidObjectState"), "{error}");
    assert!(std::fs::read_dir(&w.dst.mnt).unwrap().next().is_none(), "P12: nothing may be left at the target");
    w.settings.wait_for_restore = false;
    w.write_config();
    let out = w.restore("data", &target, &["--wait-restore"]);
    out.expect_code(0);
    assert_eq!(tree::first_difference(&tree::scan(&w.vol("data")), &tree::scan(&target)), None);
}

#[test]
fn glacier_chunks_need_waiting_and_restore_once_waited_for() {
    let mut w = archived_chain("glacier", "GLACIER");
    no_wait_fails_then_wait_succeeds(&mut w, &["--no-wait-restore"]);
}

#[test]
fn deep_archive_chunks_fail_without_waiting_from_the_config_and_restore_with_the_flag() {
    let mut w = archived_chain("deeparchive", "DEEP_ARCHIVE");
    w.settings.wait_for_restore = false;
    w.write_config();
    no_wait_fails_then_wait_succeeds(&mut w, &[]);
}
