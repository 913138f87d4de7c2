//! `mutate [--size BYTES]`: applies a fixed, deterministic set of changes to every
//! configured subvolume seeded by `seed`, so that the next backup has something of every
//! kind to carry (an incremental after `backup --once`). Like `seed`, the changes are
//! plan [`Mutation`]s applied with `model::exec::apply`: same input, same bytes.
//!
//! The changes (`M` = `--size`, default 1 MiB), in order:
//!
//! | change | paths |
//! |---|---|
//! | create a directory and a file of `M/2` random bytes | `new/`, `new/added.bin` |
//! | overwrite the start with `M/4` random bytes | `media/medium.bin` |
//! | append `M/8` random bytes | `docs/readme.txt` |
//! | truncate to `M/16` bytes | `media/zeros.bin` |
//! | replace with a new file of `M/8` random bytes | `src/small-10.dat` |
//! | delete | `src/small-03.dat` |
//! | rename a file | `src/small-05.dat` -> `src/renamed-05.dat` |
//! | rename a directory (with its empty subdirectory) | `docs/notes/` -> `docs/archive/` |
//! | chmod 0700 | `scripts/run.sh` |
//! | new symlink | `links/added` -> `../new/added.bin` |
//! | retarget a symlink | `links/current` -> `../media/medium.bin` |
//! | new hardlink | `links/added.hardlink` of `new/added.bin` |
//!
//! So a scan before and after differs at exactly [`MUTATED_PATHS`]. Before changing
//! anything, every subvolume is checked to have what the changes need (and not what
//! they create); a subvolume without the seed layout, or one already mutated, is refused
//! with exit 2 and nothing is changed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::exit;
use crate::gen::plan::{Content, Mutation};
use crate::model::exec;

use super::context::{open_session, subvolume_roots};
use super::seed::random;
use super::{load_config, CommandError};

/// `--size` when none is given: 1 MiB of new or changed content per subvolume.
pub const DEFAULT_MUTATE_BYTES: u64 = 1 << 20;

/// Every path whose scan entry `mutate` changes, creates or removes, sorted.
pub const MUTATED_PATHS: [&str; 17] = [
    "docs/archive",
    "docs/archive/empty",
    "docs/notes",
    "docs/notes/empty",
    "docs/readme.txt",
    "links/added",
    "links/added.hardlink",
    "links/current",
    "media/medium.bin",
    "media/zeros.bin",
    "new",
    "new/added.bin",
    "scripts/run.sh",
    "src/renamed-05.dat",
    "src/small-03.dat",
    "src/small-05.dat",
    "src/small-10.dat",
];

/// The changes for one subvolume, in application order (see the module docs).
pub fn mutations(subvolume: &str, size: u64) -> Vec<Mutation> {
    let s = |p: &str| p.to_string();
    let rnd = |file: u64, len: u64| -> Content { random(subvolume, 1000 + file, len) };
    vec![
        Mutation::Mkdir {
            path: s("new"),
            mode: 0o755,
        },
        Mutation::Write {
            path: s("new/added.bin"),
            content: rnd(1, size / 2),
            mode: 0o644,
        },
        Mutation::Overwrite {
            path: s("media/medium.bin"),
            offset: 0,
            content: rnd(2, size / 4),
        },
        Mutation::Append {
            path: s("docs/readme.txt"),
            content: rnd(3, size / 8),
        },
        Mutation::Truncate {
            path: s("media/zeros.bin"),
            len: size / 16,
        },
        Mutation::Write {
            path: s("src/small-10.dat"),
            content: rnd(4, size / 8),
            mode: 0o644,
        },
        Mutation::Remove {
            path: s("src/small-03.dat"),
        },
        Mutation::Rename {
            from: s("src/small-05.dat"),
            to: s("src/renamed-05.dat"),
        },
        Mutation::Rename {
            from: s("docs/notes"),
            to: s("docs/archive"),
        },
        Mutation::Chmod {
            path: s("scripts/run.sh"),
            mode: 0o700,
        },
        Mutation::Symlink {
            path: s("links/added"),
            target: s("../new/added.bin"),
        },
        Mutation::Retarget {
            path: s("links/current"),
            target: s("../media/medium.bin"),
        },
        Mutation::Hardlink {
            existing: s("new/added.bin"),
            new: s("links/added.hardlink"),
        },
    ]
}

/// What a change needs: paths that must exist and paths that must not, before it runs.
fn needs(m: &Mutation) -> (Vec<&str>, Vec<&str>) {
    use Mutation::*;
    match m {
        Mkdir { path, .. } | Symlink { path, .. } => (vec![], vec![path]),
        Write { .. } => (vec![], vec![]),
        Overwrite { path, .. }
        | Append { path, .. }
        | Truncate { path, .. }
        | Remove { path }
        | Chmod { path, .. }
        | Retarget { path, .. } => (vec![path], vec![]),
        Rename { from, to } => (vec![from], vec![to]),
        Hardlink { existing, new } => (vec![existing], vec![new]),
        other => unreachable!("mutate uses no {other:?}"),
    }
}

/// Checks that `changes` can run in order on the tree at `root`, tracking what earlier
/// changes create and remove. Returns the first problem as a sentence.
fn check_applicable(root: &Path, changes: &[Mutation]) -> Result<(), String> {
    let mut overlay: BTreeMap<String, bool> = BTreeMap::new();
    for m in changes {
        let exists = |p: &str, o: &BTreeMap<String, bool>| {
            o.get(p)
                .copied()
                .unwrap_or_else(|| root.join(p).symlink_metadata().is_ok())
        };
        let (present, absent) = needs(m);
        if let Some(p) = present.iter().find(|p| !exists(p, &overlay)) {
            return Err(format!("{p} is missing"));
        }
        if let Some(p) = absent.iter().find(|p| exists(p, &overlay)) {
            return Err(format!("{p} already exists"));
        }
        match m {
            Mutation::Remove { path } => drop(overlay.insert(path.clone(), false)),
            Mutation::Rename { from, to } => {
                overlay.insert(from.clone(), false);
                overlay.insert(to.clone(), true);
            }
            other => overlay.extend(other.paths().into_iter().map(|p| (p.to_string(), true))),
        }
    }
    Ok(())
}

/// `mutate`: applies [`mutations`] to every configured subvolume, after checking all of
/// them (exit 2 and no change when one does not have the seed layout).
pub fn mutate(config_path: &Path, size: u64) -> Result<i32, CommandError> {
    let session = open_session(load_config(config_path)?)?;
    let mut plans = Vec::new();
    for (name, root) in subvolume_roots(&session) {
        let changes = mutations(&name, size);
        check_applicable(&root, &changes).map_err(|problem| {
            CommandError::Usage(format!(
                "cannot mutate subvolume {name} at {}: {problem}; mutate expects the layout \
                 `seed` writes and applies once (start over with `teardown` and `seed`)",
                root.display()
            ))
        })?;
        plans.push((name, root, changes));
    }
    for (name, root, changes) in plans {
        for m in &changes {
            exec::apply(&root, m).map_err(|e| CommandError::harness("applying mutate", e))?;
        }
        println!(
            "mutated {name}: {} changes in {}",
            changes.len(),
            root.display()
        );
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::commands::seed::seed_layout;
    use crate::model::ModelTree;
    use crate::oracle::diff::diff;

    #[test]
    fn on_the_seed_model_the_changes_touch_exactly_the_documented_paths() {
        let mut model = ModelTree::new();
        seed_layout("data", 1 << 20)
            .iter()
            .for_each(|m| model.apply(m).unwrap());
        let before = model.to_tree();
        mutations("data", 1 << 20)
            .iter()
            .for_each(|m| model.apply(m).unwrap());
        let changed: BTreeSet<String> = diff(&before, &model.to_tree())
            .items
            .into_iter()
            .map(|i| i.path)
            .collect();
        let documented: BTreeSet<String> = MUTATED_PATHS.iter().map(|p| p.to_string()).collect();
        assert_eq!(changed, documented);
    }

    #[test]
    fn the_changes_are_applicable_to_an_empty_tree_only_where_they_create_things() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_applicable(dir.path(), &mutations("data", 100)).unwrap_err();
        assert_eq!(err, "media/medium.bin is missing");
    }
}
