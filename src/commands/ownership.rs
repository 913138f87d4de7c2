//! Handing the run dir back to the user who ran the harness with `sudo`: when
//! `SUDO_UID` and `SUDO_GID` are set and the harness runs as root, every command ends by
//! giving that user the files the harness made in the run dir and the logs dir (session
//! and fixture records, logs, reports such as `benchmark.json`, the tool's config and
//! state), so they can be read without root.
//!
//! It never descends into `<run_dir>/mnt` (the mounted btrfs filesystems: their contents
//! belong to the test and must keep their owners), never crosses into another
//! filesystem, never follows symlinks (it uses `lchown`), and leaves alone what root
//! keeps using with elevated rights: the loop images (`*.img`) and a moto venv inside
//! the run dir (`venv/`), whose code root runs. Failures are reported as warnings only:
//! ownership is a convenience, not part of a command's result.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directory names below the run dir that are never handed over.
const SKIPPED_DIRS: [&str; 2] = ["mnt", "venv"];

/// The invoking user of `sudo`, when the harness runs as root under sudo.
pub fn sudo_owner() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let id = |name: &str| std::env::var(name).ok()?.trim().parse::<u32>().ok();
    Some((id("SUDO_UID")?, id("SUDO_GID")?)).filter(|(uid, _)| *uid != 0)
}

/// At the end of a command: under sudo, hands the run dir and logs dir of the config
/// at `config_path` back to the invoking user. Does nothing otherwise, or when the
/// config cannot be loaded.
pub fn hand_back_after_command(config_path: &Path) {
    let Some(owner) = sudo_owner() else { return };
    if let Ok(config) = crate::config::Config::load(config_path) {
        hand_back(&config.paths.run_dir, &config.paths.logs_dir, owner);
    }
}

/// Gives `owner` every harness-made file below `run_dir` and `logs_dir` (see the
/// module docs for what is skipped). Returns the number of paths changed; problems
/// are printed as warnings.
pub fn hand_back(run_dir: &Path, logs_dir: &Path, owner: (u32, u32)) -> usize {
    let mut walk = Walk {
        owner,
        changed: 0,
        warnings: Vec::new(),
    };
    for root in [run_dir, logs_dir] {
        if let Ok(meta) = fs::symlink_metadata(root) {
            if meta.is_dir() {
                walk.visit(root, meta.dev(), root == run_dir);
            }
        }
    }
    if let Some(first) = walk.warnings.first() {
        eprintln!(
            "b2s3-harness: warning: could not give {} path(s) to uid {}; first: {first}",
            walk.warnings.len(),
            owner.0
        );
    }
    walk.changed
}

struct Walk {
    owner: (u32, u32),
    changed: usize,
    warnings: Vec<String>,
}

impl Walk {
    fn visit(&mut self, dir: &Path, dev: u64, is_run_dir: bool) {
        self.chown(dir);
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.warnings.push(format!("{}: {e}", dir.display())),
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for path in children {
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let skipped_dir = is_run_dir && SKIPPED_DIRS.contains(&name);
            if skipped_dir || meta.dev() != dev || name.ends_with(".img") {
                continue;
            }
            if meta.is_dir() {
                self.visit(&path, dev, false);
            } else {
                self.chown(&path);
            }
        }
    }

    fn chown(&mut self, path: &Path) {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return;
        };
        if (meta.uid(), meta.gid()) == self.owner {
            return;
        }
        match std::os::unix::fs::lchown(path, Some(self.owner.0), Some(self.owner.1)) {
            Ok(()) => self.changed += 1,
            Err(e) => self.warnings.push(format!("{}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handing_back_skips_mounts_images_and_the_venv_and_does_not_follow_symlinks() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test needs root (it chowns files)"
        );
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        for d in ["logs", "tool", "mnt/source/data", "venv/bin"] {
            fs::create_dir_all(run.join(d)).unwrap();
        }
        for f in [
            "session.json",
            "logs/a.log",
            "tool/state.json",
            "source.img",
            "mnt/source/data/f",
            "venv/bin/python",
        ] {
            fs::write(run.join(f), b"x").unwrap();
        }
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), run.join("link")).unwrap();
        hand_back(run, &run.join("logs"), (65534, 65534));
        let uid = |p: &str| fs::symlink_metadata(run.join(p)).unwrap().uid();
        for p in [
            "",
            "session.json",
            "logs",
            "logs/a.log",
            "tool/state.json",
            "link",
        ] {
            assert_eq!(uid(p), 65534, "{p}");
        }
        for p in [
            "source.img",
            "mnt",
            "mnt/source/data/f",
            "venv",
            "venv/bin/python",
        ] {
            assert_eq!(uid(p), 0, "{p}");
        }
        assert_eq!(
            fs::metadata(outside.path()).unwrap().uid(),
            0,
            "the symlink was followed"
        );
    }
}
