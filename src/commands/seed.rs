//! `seed [--size BYTES]`: writes a fixed, deterministic tree into every configured
//! subvolume of the run's fixture (setting the run up first if needed, like `setup`).
//! The tree is a list of plan [`Mutation`]s applied with `model::exec::apply`, so every
//! byte comes from `gen::content` and every file's mtime from `model::mtime`: the same
//! subvolume name and size give the same tree, byte for byte, on every machine.
//!
//! Layout (`S` = `--size`, default 8 MiB; sizes in bytes, rounded down):
//!
//! | path | kind | mode | content |
//! |---|---|---|---|
//! | `docs/` | dir | 0755 | |
//! | `docs/readme.txt` | file | 0644 | 2048 random; owner 1000:1000; xattr `user.b2s3.origin=seed` |
//! | `docs/notes/` | dir | 0750 | |
//! | `docs/notes/empty/` | empty dir | 0755 | |
//! | `media/` | dir | 0755 | |
//! | `media/big.bin` | file | 0644 | random, the rest of `S` |
//! | `media/medium.bin` | file | 0644 | `S/5`, a 4 KiB random block repeated |
//! | `media/zeros.bin` | file | 0644 | `S/10` zeros |
//! | `src/small-00.dat` .. `src/small-15.dat` | files | 0644 | random, file `i` has `(S/8)*(i+1)/136` |
//! | `scripts/run.sh` | file | 0755 | 300 random |
//! | `secret.key` | file | 0600 | 64 random |
//! | `links/` | dir | 0755 | |
//! | `links/current` | symlink | | `../media/big.bin` |
//! | `links/small-07.hardlink` | hardlink | | of `src/small-07.dat` |
//!
//! The distinct content adds up to `S` exactly when `S` is at least 8 KiB (below that,
//! `big.bin` is empty and the fixed-size files exceed `S`). Random
//! content is seeded from the subvolume's name and the file, so subvolumes differ.
//! Seeding refuses a subvolume that is not empty, and checks itself: after writing, a
//! scan of the subvolume must equal the model of the same mutations (else exit 3).

use std::path::Path;

use crate::exit;
use crate::fixture::scan::scan;
use crate::fixture::tree::Tree;
use crate::gen::plan::{Content, Mutation, Pattern};
use crate::model::{exec, mask_unpredicted, ModelTree};
use crate::oracle::diff::diff;

use super::context::{open_session, subvolume_roots};
use super::{load_config, CommandError};

/// `--size` when none is given: 8 MiB per subvolume.
pub const DEFAULT_SEED_BYTES: u64 = 8 << 20;

/// Bytes of the fixed-size files (`readme.txt`, `run.sh`, `secret.key`).
const FIXED_BYTES: [u64; 3] = [2048, 300, 64];
const SMALL_FILES: u64 = 16;
/// `1 + 2 + ... + 16`: the small files share `S/8` in these proportions.
const SMALL_WEIGHTS: u64 = 136;

/// A content seed derived from the subvolume's name and a per-file number (FNV-1a).
pub fn content_seed(subvolume: &str, file: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in subvolume.bytes().chain(file.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub(crate) fn random(subvolume: &str, file: u64, len: u64) -> Content {
    Content {
        len,
        pattern: Pattern::Random {
            seed: content_seed(subvolume, file),
        },
    }
}

fn mkdir(path: &str, mode: u32) -> Mutation {
    Mutation::Mkdir {
        path: path.to_string(),
        mode,
    }
}

fn write(path: &str, content: Content, mode: u32) -> Mutation {
    Mutation::Write {
        path: path.to_string(),
        content,
        mode,
    }
}

/// The seed layout of one subvolume, in application order (see the module docs).
pub fn seed_layout(subvolume: &str, size: u64) -> Vec<Mutation> {
    let mut m: Vec<Mutation> = DIRECTORIES
        .iter()
        .map(|(p, mode)| mkdir(p, *mode))
        .collect();
    m.extend(files(subvolume, size));
    m.extend(links_and_metadata());
    m
}

/// The directories, parents first, with their modes.
const DIRECTORIES: [(&str, u32); 7] = [
    ("docs", 0o755),
    ("docs/notes", 0o750),
    ("docs/notes/empty", 0o755),
    ("media", 0o755),
    ("src", 0o755),
    ("scripts", 0o755),
    ("links", 0o755),
];

/// The regular files; `media/big.bin` takes what the others leave of `size`.
fn files(subvolume: &str, size: u64) -> Vec<Mutation> {
    let (medium, zeros, share) = (size / 5, size / 10, size / 8);
    let small: Vec<u64> = (0..SMALL_FILES)
        .map(|i| share * (i + 1) / SMALL_WEIGHTS)
        .collect();
    let rest = medium + zeros + small.iter().sum::<u64>() + FIXED_BYTES.iter().sum::<u64>();
    let big = size.saturating_sub(rest);
    let repeat = Pattern::Repeat {
        seed: content_seed(subvolume, 3),
        block: 4096,
    };
    let mut m = vec![
        write(
            "docs/readme.txt",
            random(subvolume, 1, FIXED_BYTES[0]),
            0o644,
        ),
        write("media/big.bin", random(subvolume, 2, big), 0o644),
        write(
            "media/medium.bin",
            Content {
                len: medium,
                pattern: repeat,
            },
            0o644,
        ),
        write(
            "media/zeros.bin",
            Content {
                len: zeros,
                pattern: Pattern::Zeros,
            },
            0o644,
        ),
    ];
    for (i, len) in small.iter().enumerate() {
        let path = format!("src/small-{i:02}.dat");
        m.push(write(&path, random(subvolume, 100 + i as u64, *len), 0o644));
    }
    m.push(write(
        "scripts/run.sh",
        random(subvolume, 4, FIXED_BYTES[1]),
        0o755,
    ));
    m.push(write(
        "secret.key",
        random(subvolume, 5, FIXED_BYTES[2]),
        0o600,
    ));
    m
}

/// The symlink, the hardlink, the xattr and the non-root owner.
fn links_and_metadata() -> Vec<Mutation> {
    vec![
        Mutation::Symlink {
            path: "links/current".into(),
            target: "../media/big.bin".into(),
        },
        Mutation::Hardlink {
            existing: "src/small-07.dat".into(),
            new: "links/small-07.hardlink".into(),
        },
        Mutation::SetXattr {
            path: "docs/readme.txt".into(),
            name: "user.b2s3.origin".into(),
            value: hex::encode("seed"),
        },
        Mutation::Chown {
            path: "docs/readme.txt".into(),
            uid: 1000,
            gid: 1000,
        },
    ]
}

/// `seed`: writes the layout into every configured subvolume; refuses (exit 2) if any
/// of them is not empty, before writing anything.
pub fn seed(config_path: &Path, size: u64) -> Result<i32, CommandError> {
    let session = open_session(load_config(config_path)?)?;
    let roots = subvolume_roots(&session);
    for (name, root) in &roots {
        ensure_empty(name, root)?;
    }
    for (name, root) in &roots {
        let tree = apply_checked(root, &seed_layout(name, size))?;
        println!(
            "seeded {name}: {} entries, {} files, {} bytes in {}",
            tree.entries.len(),
            tree.file_count(),
            size,
            root.display()
        );
    }
    Ok(exit::OK)
}

fn ensure_empty(name: &str, root: &Path) -> Result<(), CommandError> {
    let mut entries = std::fs::read_dir(root)
        .map_err(|e| CommandError::harness(&format!("listing subvolume {}", root.display()), e))?;
    match entries.next() {
        None => Ok(()),
        Some(_) => Err(CommandError::Usage(format!(
            "subvolume {name} at {} is not empty: seed writes only into empty subvolumes \
             (start a fresh fixture with `teardown`, then `seed`)",
            root.display()
        ))),
    }
}

/// Applies `mutations` to the model and to `root`, then checks that a scan of `root`
/// equals the model (a mismatch is a harness error, never the tool's fault). Returns
/// the scan.
fn apply_checked(root: &Path, mutations: &[Mutation]) -> Result<Tree, CommandError> {
    let mut model = ModelTree::new();
    for m in mutations {
        model
            .apply(m)
            .map_err(|e| CommandError::harness(&format!("the model rejects seed step {m:?}"), e))?;
        exec::apply(root, m).map_err(|e| CommandError::harness("writing the seed layout", e))?;
    }
    let seen = scan(root).map_err(|e| CommandError::harness("scanning the seeded subvolume", e))?;
    let d = diff(&model.to_tree(), &mask_unpredicted(&seen));
    if d.is_empty() {
        return Ok(seen);
    }
    Err(CommandError::Harness(format!(
        "after seeding, {} differs from the model of the seed layout (a harness bug): {}",
        root.display(),
        d.render(5)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::plan::Mutation;

    fn content_bytes(layout: &[Mutation]) -> u64 {
        layout
            .iter()
            .map(|m| match m {
                Mutation::Write { content, .. } => content.len,
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn the_seed_layout_adds_up_to_the_requested_size() {
        for size in [8192, 10_000, 8 << 20, 123_456_789] {
            assert_eq!(
                content_bytes(&seed_layout("data", size)),
                size,
                "size {size}"
            );
        }
    }

    #[test]
    fn the_seed_layout_is_valid_for_the_model_even_when_tiny() {
        for size in [0, 1, 100, 8 << 20] {
            let mut model = ModelTree::new();
            for m in seed_layout("home", size) {
                model
                    .apply(&m)
                    .unwrap_or_else(|e| panic!("size {size}: {m:?}: {e}"));
            }
            let tree = model.to_tree();
            assert_eq!(
                tree.file_count(),
                23,
                "22 files, one of them with two names (hardlink)"
            );
        }
    }

    #[test]
    fn subvolumes_get_different_random_content_from_their_names() {
        let a = seed_layout("data", 1 << 20);
        let b = seed_layout("root", 1 << 20);
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
        assert_eq!(a, seed_layout("data", 1 << 20));
    }
}
