//! `verify retention [--subvolume NAME]...`: the oracle's retention check (P8) over the
//! run's snapshots dir and the tool's state file (`<run_dir>/tool/state.json`): each
//! selected subvolume (default: all configured) keeps at most `retain` snapshots plus
//! the parent of its latest incremental, and the state's `last_snapshot` exists and is
//! read-only. The state file's own shape is checked too (P6). The incremental parent is
//! the snapshot named by the parent manifest of the subvolume's `current.json`.

use std::path::Path;

use crate::config::Config;
use crate::fixture::btrfs;
use crate::fixture::record::Role;
use crate::fixture::setup::SNAPSHOTS_DIR;
use crate::oracle::local::{check_retention, check_state, RetentionInput, State, StateExpect};
use crate::oracle::manifest::{check_manifest, check_pointer, BackupKind};
use crate::oracle::store::layout::pointer_key;
use crate::oracle::store::Undecided;
use crate::s3::view::StoreView;

use super::super::context::{existing_run, tool_dir, ExistingRun};
use super::super::{load_config, CommandError};
use super::{select_subvolumes, Report};

/// `verify retention`.
pub fn verify_retention(config_path: &Path, subvolumes: &[String]) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let selected = select_subvolumes(&config.btrfs.subvolumes, subvolumes)?;
    let run = existing_run(&config)?;
    let snapshots_dir = Role::Source
        .mount_point(&config.paths.run_dir)
        .join(SNAPSHOTS_DIR);
    let names = snapshot_names(&snapshots_dir)?;
    let mut report = Report::default();
    let state = read_state(&config, &run, &mut report);
    let dir_text = snapshots_dir.to_string_lossy().into_owned();
    let read_only = |p: &str| {
        Path::new(p)
            .exists()
            .then(|| btrfs::is_read_only(Path::new(p)).ok())
            .flatten()
    };
    for name in &selected {
        let parent = incremental_parent(&run, name, &mut report.undecided);
        let last = state
            .as_ref()
            .and_then(|s| s.subvolumes.get(name))
            .map(|s| s.last_snapshot.as_str());
        let input = RetentionInput {
            subvolume: name,
            snapshots_dir: &dir_text,
            snapshot_names: &names,
            retain: config.backup.retain,
            incremental_parent: parent.as_deref(),
            last_snapshot: last,
        };
        report
            .findings
            .extend(check_retention(&input, &read_only, None));
        let count = crate::oracle::local::snapshots_of(&names, name).len();
        report.checked.push(format!(
            "{name}: {count} snapshot(s) in {dir_text}, retain {}",
            config.backup.retain
        ));
    }
    Ok(report.finish("retention"))
}

fn snapshot_names(dir: &Path) -> Result<Vec<String>, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CommandError::Usage(format!(
            "cannot list the snapshots dir {} ({e}): is the fixture set up (`setup`)?",
            dir.display()
        ))
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// The state file, judged for shape (P6); `None` when absent or unreadable.
fn read_state(config: &Config, run: &ExistingRun, report: &mut Report) -> Option<State> {
    let path = tool_dir(config).join("state.json");
    let shown = path.to_string_lossy().into_owned();
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            report
                .checked
                .push(format!("state file {shown}: not readable ({e})"));
            return None;
        }
    };
    let snapshots_dir = Role::Source
        .mount_point(&config.paths.run_dir)
        .join(SNAPSHOTS_DIR);
    let expect = StateExpect {
        prefix: run.record.prefix.clone(),
        snapshots_dir: snapshots_dir.to_string_lossy().into_owned(),
        fresh: Vec::new(),
    };
    let checked = check_state(&bytes, &shown, &expect, None);
    report.checked.push(format!("state file {shown}"));
    report.findings.extend(checked.findings);
    checked.state
}

/// The snapshot basename of the parent manifest of `name`'s `current.json`, when that
/// names an incremental; what cannot be read is noted as undecided.
fn incremental_parent(
    run: &ExistingRun,
    name: &str,
    undecided: &mut Vec<Undecided>,
) -> Option<String> {
    let key = pointer_key(&run.record.prefix, name);
    let pointer = match run.client.get(&key) {
        Ok(body) => check_pointer(&body),
        Err(crate::s3::view::StoreError::NotFound(_)) => return None,
        Err(e) => {
            let reason = format!("incremental parent unknown: {e}");
            undecided.push(Undecided {
                subject: key,
                reason,
            });
            return None;
        }
    };
    let manifest_key = pointer.manifest_key?;
    let link = check_manifest(&run.client.get(&manifest_key).ok()?).link?;
    if link.kind != BackupKind::Incremental {
        return None;
    }
    let parent_key = link.parent_manifest?;
    let parent = run
        .client
        .get(&parent_key)
        .ok()
        .and_then(|b| check_manifest(&b).manifest);
    if parent.is_none() {
        let reason = "parent manifest unreadable: incremental parent unknown".to_string();
        undecided.push(Undecided {
            subject: parent_key,
            reason,
        });
    }
    parent.map(|p| p.snapshot.name)
}
