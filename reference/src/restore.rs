//! The `restore` command (CONTRACT.md section 12): credentials gate, manifest key
//! (pointer or `--manifest-key`), chain, target check, apply, metrics, verification, with
//! the events of section 2 and exit 0 or 1. This module owns the order of those steps and
//! which event reports which failure; it must not read chunks or run `btrfs` itself.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::archive::ArchivePolicy;
use crate::config::{Config, VerifyMode};
use crate::logging::{format_elapsed, format_throughput};
use crate::manifest::{Layout, Manifest};
use crate::s3::{self, Store};
use crate::{apply, chain, event, verify};

/// Flags of `restore` after parsing.
#[derive(Clone, Debug)]
pub struct RestoreArgs {
    pub subvolume: String,
    pub target: PathBuf,
    pub manifest_key: Option<String>,
    pub restore_timeout: Option<i64>,
    pub wait_restore: Option<bool>,
    pub verify: Option<VerifyMode>,
}

/// Runs `restore`; returns the exit code.
pub fn run(cfg: &Config, args: &RestoreArgs) -> i32 {
    event!(Info, "command_start", command = "restore", subvolume_filter = args.subvolume);
    if !s3::credentials_present() {
        event!(Error, "restore_no_credentials", status = "failed");
        return 1;
    }
    let store = match Store::connect(&cfg.s3.bucket, &cfg.s3.region) {
        Ok(store) => store,
        Err(e) => return failed(e),
    };
    let head_key = match &args.manifest_key {
        Some(key) => key.clone(),
        None => match chain::read_pointer(&store, &Layout { prefix: cfg.s3.prefix.clone() }.pointer_key(&args.subvolume)) {
            Ok(key) => key,
            Err(e) => {
                event!(Error, "restore_current_failed", error = e);
                return 1;
            }
        },
    };
    let chain = match chain::resolve(&store, &head_key) {
        Ok(chain) => chain,
        Err(e) => {
            event!(Error, "restore_manifest_failed", error = e);
            return 1;
        }
    };
    if std::fs::symlink_metadata(&args.target).is_ok() {
        return failed(format!("target path already exists: {}", args.target.display()));
    }
    let started = Instant::now();
    if let Err(e) = apply::apply(&store, &chain, &args.target, &archive_policy(cfg, args)) {
        return failed(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = chain.iter().map(|m| m.total_bytes).sum();
    let (secs, rate) = (format_elapsed(elapsed), format_throughput(total, elapsed));
    event!(Info, "restore_metrics", subvolume = args.subvolume, total_bytes = total, elapsed_seconds = secs, throughput = rate);
    let mode = args.verify.unwrap_or(cfg.restore.verify_mode);
    if let Err(e) = run_verification(&chain, &args.target, mode, cfg.restore.sample_max_files) {
        event!(Error, "restore_verify_failed", error = e);
        return 1;
    }
    event!(Info, "restore_complete", status = "ok");
    0
}

fn failed(error: String) -> i32 {
    event!(Error, "restore_failed", error = error);
    1
}

fn archive_policy(cfg: &Config, args: &RestoreArgs) -> ArchivePolicy {
    let seconds = args.restore_timeout.map_or(cfg.restore.restore_timeout_seconds, |s| s.max(0) as u64);
    ArchivePolicy {
        wait: args.wait_restore.unwrap_or(cfg.restore.wait_for_restore),
        timeout: Duration::from_secs(seconds),
        tier: cfg.restore.restore_tier.clone(),
    }
}

/// Verifies the target against the newest manifest's snapshot, logging the outcome.
fn run_verification(chain: &[Manifest], target: &Path, mode: VerifyMode, sample_max: u64) -> Result<(), String> {
    if mode == VerifyMode::None {
        event!(Info, "restore_verify_skipped", mode = "none");
        return Ok(());
    }
    let newest = chain.last().expect("a resolved chain is never empty");
    let source = PathBuf::from(&newest.snapshot_path);
    if !source.is_dir() {
        event!(Info, "restore_verify_source_missing", path = source.display());
        return verify::check_metadata(target);
    }
    verify::compare(&source, target, mode, sample_max)?;
    event!(Info, "restore_verify_complete", status = "ok", mode = mode.name());
    Ok(())
}
