//! `verify restore --target T [--mode full|sample] [--subvolume NAME|all]
//! [--source SNAPSHOT] [--sample-max N]`: compares a restored tree with the snapshot it
//! was made from (P1), by scanning both and diffing them with the oracle: paths, entry
//! types, sizes, content SHA-256, symlink targets, permission bits, owners, hardlink
//! groups, user xattrs and mtimes of regular files. The first difference is the finding.
//!
//! - `--subvolume NAME`: `T` is the restored subvolume of `NAME`. `all` (the default):
//!   `T/<name>` for every configured subvolume.
//! - The source is `--source` (only with one subvolume), else the `snapshot.path` of the
//!   subvolume's newest manifest under the run's prefix (when it exists on this host),
//!   else the state file's `last_snapshot`.
//! - `full` hashes every regular file. `sample` compares all metadata but hashes only a
//!   deterministic sample: the regular files of the source in sorted path order, every
//!   k-th one from the first, with k = ceil(files / N), at most N (`--sample-max`,
//!   default `restore.sample_max_files` of the config).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::fixture::scan::{scan, scan_metadata, sha256_file};
use crate::fixture::tree::{EntryKind, Tree};
use crate::oracle::diff::{diff, TreeDiff};
use crate::oracle::local::State;
use crate::oracle::manifest::check_manifest;
use crate::oracle::store::layout::{parse_key, KeyRole};
use crate::s3::view::StoreView;

use super::super::context::{existing_run, tool_dir};
use super::super::{load_config, CommandError};
use super::Report;

/// How much of the content to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareMode {
    /// Hash every regular file on both sides.
    Full,
    /// Compare all metadata, hash a deterministic sample of regular files.
    Sample,
}

/// The arguments of `verify restore`.
#[derive(Debug, Clone)]
pub struct RestoreCheck {
    pub target: PathBuf,
    pub mode: CompareMode,
    /// A configured subvolume name, or `all`.
    pub subvolume: String,
    pub source: Option<PathBuf>,
    pub sample_max: Option<usize>,
}

/// One restored tree and the snapshot it is compared with.
struct Pair {
    name: String,
    restored: PathBuf,
    source: PathBuf,
    source_from: &'static str,
}

/// `verify restore`.
pub fn verify_restore(config_path: &Path, args: &RestoreCheck) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let pairs = resolve(&config, args)?;
    let cap = args
        .sample_max
        .unwrap_or(config.restore.sample_max_files as usize)
        .max(1);
    let mut report = Report::default();
    for pair in pairs {
        let (d, hashed) = compare(&pair.restored, &pair.source, args.mode, cap)?;
        report.checked.push(format!(
            "{}: {} vs {} ({}), {hashed} file(s) hashed: {}",
            pair.name,
            pair.restored.display(),
            pair.source.display(),
            pair.source_from,
            d.summary()
        ));
        let context = format!(
            "restored {} at {} vs snapshot {}",
            pair.name,
            pair.restored.display(),
            pair.source.display()
        );
        if let Some(finding) = d.to_finding(None, &context) {
            report.findings.push(finding);
            report.details.push(d.render(10));
        }
    }
    Ok(report.finish("restore"))
}

fn resolve(config: &Config, args: &RestoreCheck) -> Result<Vec<Pair>, CommandError> {
    let configured = &config.btrfs.subvolumes;
    let single = args.subvolume != "all";
    if single && !configured.contains(&args.subvolume) {
        return Err(CommandError::Usage(format!(
            "{} is not a configured subvolume (configured: {}; or all)",
            args.subvolume,
            configured.join(", ")
        )));
    }
    if !single && args.source.is_some() {
        return Err(CommandError::Usage(
            "--source needs one --subvolume NAME, not all".into(),
        ));
    }
    let names = if single {
        vec![args.subvolume.clone()]
    } else {
        configured.clone()
    };
    let mut pairs = Vec::new();
    for name in names {
        let restored = if single {
            args.target.clone()
        } else {
            args.target.join(&name)
        };
        if !restored.is_dir() {
            let layout = if single {
                ""
            } else {
                " (with --subvolume all, --target holds one restored subvolume per configured name)"
            };
            return Err(CommandError::Usage(format!(
                "restored tree {} is not a directory{layout}",
                restored.display()
            )));
        }
        let (source, source_from) = match &args.source {
            Some(path) if path.is_dir() => (path.clone(), "--source"),
            Some(path) => {
                return Err(CommandError::Usage(format!(
                    "--source {} is not a directory",
                    path.display()
                )))
            }
            None => default_source(config, &name)?,
        };
        pairs.push(Pair {
            name,
            restored,
            source,
            source_from,
        });
    }
    Ok(pairs)
}

/// The snapshot of the newest manifest (if it exists here), else the state's
/// `last_snapshot`.
fn default_source(config: &Config, name: &str) -> Result<(PathBuf, &'static str), CommandError> {
    if let Some(path) = newest_manifest_snapshot(config, name).filter(|p| p.is_dir()) {
        return Ok((path, "snapshot.path of the newest manifest"));
    }
    let state_path = tool_dir(config).join("state.json");
    let state: Option<State> = std::fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match state.and_then(|s| {
        s.subvolumes
            .get(name)
            .map(|e| PathBuf::from(&e.last_snapshot))
    }) {
        Some(path) if path.is_dir() => Ok((path, "last_snapshot of the state file")),
        _ => Err(CommandError::Usage(format!(
            "no source snapshot of {name} found (no manifest whose snapshot.path exists here, \
             no last_snapshot in {}); pass --source SNAPSHOT",
            state_path.display()
        ))),
    }
}

fn newest_manifest_snapshot(config: &Config, name: &str) -> Option<PathBuf> {
    let run = existing_run(config).ok()?;
    let prefix = &run.record.prefix;
    let listed = run.client.list(&format!("{prefix}subvol/{name}/")).ok()?;
    let newest = listed
        .iter()
        .filter_map(|o| match parse_key(prefix, &o.key) {
            Ok(KeyRole::Manifest { ts, .. }) => Some((ts, o.key.clone())),
            _ => None,
        })
        .max()?;
    let manifest = check_manifest(&run.client.get(&newest.1).ok()?).manifest?;
    Some(PathBuf::from(manifest.snapshot.path))
}

/// Diffs the source (expected) with the restored tree (seen); returns the diff and how
/// many files were hashed on the source side.
fn compare(
    restored: &Path,
    source: &Path,
    mode: CompareMode,
    cap: usize,
) -> Result<(TreeDiff, usize), CommandError> {
    let scan_err = |what: &str| {
        let what = what.to_string();
        move |e| CommandError::harness(&format!("scanning {what}"), e)
    };
    let shown = |p: &Path| p.display().to_string();
    if mode == CompareMode::Full {
        let expected = scan(source).map_err(scan_err(&shown(source)))?;
        let seen = scan(restored).map_err(scan_err(&shown(restored)))?;
        return Ok((diff(&expected, &seen), expected.file_count()));
    }
    let mut expected = scan_metadata(source).map_err(scan_err(&shown(source)))?;
    let mut seen = scan_metadata(restored).map_err(scan_err(&shown(restored)))?;
    let sample = choose_sample(&expected, cap);
    hash_files(&mut expected, source, &sample)?;
    hash_files(&mut seen, restored, &sample)?;
    Ok((diff(&expected, &seen), sample.len()))
}

/// The regular files of `tree` in sorted order, every k-th from the first, with
/// k = ceil(files / cap): at most `cap` paths.
pub fn choose_sample(tree: &Tree, cap: usize) -> Vec<String> {
    let files: Vec<&String> = tree
        .entries
        .iter()
        .filter(|(_, e)| e.kind == EntryKind::File)
        .map(|(p, _)| p)
        .collect();
    let k = files.len().div_ceil(cap.max(1)).max(1);
    files.into_iter().step_by(k).take(cap).cloned().collect()
}

fn hash_files(tree: &mut Tree, root: &Path, paths: &[String]) -> Result<(), CommandError> {
    for path in paths {
        if let Some(entry) = tree
            .entries
            .get_mut(path)
            .filter(|e| e.kind == EntryKind::File)
        {
            let sha = sha256_file(&root.join(path))
                .map_err(|e| CommandError::harness("hashing a sampled file", e))?;
            entry.sha256 = Some(sha);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::tree::Entry;

    fn tree_of(files: usize) -> Tree {
        let mut t = Tree::default();
        for i in 0..files {
            let e = Entry {
                kind: EntryKind::File,
                size: 0,
                sha256: None,
                mode: 0o644,
                uid: 0,
                gid: 0,
                symlink_target: None,
                link_group: None,
                xattrs: Default::default(),
                mtime_ns: 0,
                subvolume_root: false,
            };
            t.entries.insert(format!("f{i:04}"), e);
        }
        t
    }

    #[test]
    fn the_sample_takes_every_kth_file_in_sorted_order_up_to_the_cap() {
        let sample = choose_sample(&tree_of(10), 4);
        assert_eq!(sample, ["f0000", "f0003", "f0006", "f0009"]);
        assert_eq!(choose_sample(&tree_of(3), 1000).len(), 3);
        assert_eq!(choose_sample(&tree_of(1001), 1000).len(), 501);
        assert!(choose_sample(&tree_of(0), 10).is_empty());
    }
}
