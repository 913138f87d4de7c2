//! Archive-class handling before a restore reads chunks (CONTRACT.md section 12, step 4):
//! when waiting is on and a manifest's chunks are in GLACIER, DEEP_ARCHIVE or GLACIER_IR,
//! request a one-day restore of every chunk at the configured tier, then poll HeadObject
//! until each says `ongoing-request="false"`, or fail with `restore timeout waiting for
//! <keys>`. This module must not read chunk bodies or touch the filesystem.

use std::time::{Duration, Instant};

use crate::bugs::{self, Bug};
use crate::manifest::Manifest;
use crate::s3::{RestoreRequested, Store};

/// Storage classes whose objects must be restored before a GET.
pub const ARCHIVE_CLASSES: [&str; 3] = ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"];

/// How to treat archived chunks.
#[derive(Clone, Debug)]
pub struct ArchivePolicy {
    pub wait: bool,
    pub timeout: Duration,
    pub tier: String,
}

/// Makes every chunk of `manifest` readable, or explains why it could not.
pub fn make_readable(store: &Store, manifest: &Manifest, policy: &ArchivePolicy) -> Result<(), String> {
    if !policy.wait || !ARCHIVE_CLASSES.contains(&manifest.storage_class.as_str()) {
        return Ok(());
    }
    if bugs::on(Bug::ArchiveNoWait) {
        // Defect: archive restores are never requested nor waited for.
        return Ok(());
    }
    let mut pending = Vec::new();
    for chunk in &manifest.chunks {
        if store.request_restore(&chunk.key, &policy.tier)? == RestoreRequested::Pending {
            pending.push(chunk.key.clone());
        }
    }
    wait_until_restored(store, pending, policy.timeout)
}

fn wait_until_restored(store: &Store, mut pending: Vec<String>, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_secs(1);
    loop {
        let mut still = Vec::new();
        for key in pending {
            if !is_restored(store.restore_status(&key)?.as_deref()) {
                still.push(key);
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("restore timeout waiting for {}", pending.join(", ")));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

/// True if an `x-amz-restore` header says the restored copy is ready.
fn is_restored(header: Option<&str>) -> bool {
    header.is_some_and(|h| h.replace(' ', "").contains("ongoing-request=\"false\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_finished_restore_counts() {
        assert!(is_restored(Some("ongoing-request=\"false\", expiry-date=\"Sun, 22 Nov 2026 22:02:28 GMT\"")));
        assert!(!is_restored(Some("ongoing-request=\"true\"")));
        assert!(!is_restored(None));
    }
}
