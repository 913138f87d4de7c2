//! `seed` and `mutate` through the real binary on real btrfs: the same input gives the
//! same tree in fresh fixtures, `mutate` changes exactly the paths it documents, both
//! refuse a subvolume that does not have what they expect, and under sudo the run dir
//! is handed back to the user while the seeded files keep their owners.

mod cli_support;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

use b2s3_harness::commands::mutate::MUTATED_PATHS;
use b2s3_harness::fixture::scan::scan;
use b2s3_harness::fixture::tree::{EntryKind, Tree};
use b2s3_harness::oracle::diff::diff;
use cli_support::World;

const SUBVOLUMES: [&str; 3] = ["data", "root", "home"];

fn scans(world: &World) -> Vec<Tree> {
    SUBVOLUMES
        .iter()
        .map(|s| scan(&world.subvolume(s)).unwrap())
        .collect()
}

fn assert_same(a: &[Tree], b: &[Tree], when: &str) {
    for ((name, x), y) in SUBVOLUMES.iter().zip(a).zip(b) {
        let d = diff(x, y);
        assert!(
            d.is_empty(),
            "{when}: {name} differs between the fixtures: {d}"
        );
    }
}

#[test]
fn seeding_and_mutating_two_fresh_fixtures_gives_equal_trees_with_the_documented_layout() {
    let (a, b) = (World::new("seed-a"), World::new("seed-b"));
    for w in [&a, &b] {
        w.ok(&["seed", "--size", "2M"]);
    }
    let seeded = scans(&a);
    assert_same(&seeded, &scans(&b), "after seed");
    let data = &seeded[0];
    let distinct: u64 = data
        .entries
        .iter()
        .filter(|(p, e)| e.kind == EntryKind::File && p.as_str() != "links/small-07.hardlink")
        .map(|(_, e)| e.size)
        .sum();
    assert_eq!(distinct, 2 << 20, "content adds up to --size");
    assert_eq!(
        data.get("links/current").unwrap().symlink_target.as_deref(),
        Some("../media/big.bin")
    );
    assert_eq!(
        data.get("links/small-07.hardlink")
            .unwrap()
            .link_group
            .as_deref(),
        Some("links/small-07.hardlink")
    );
    assert_eq!(
        data.get("src/small-07.dat").unwrap().link_group.as_deref(),
        Some("links/small-07.hardlink")
    );
    assert_eq!(data.get("docs/notes/empty").unwrap().kind, EntryKind::Dir);
    assert!(!data
        .entries
        .keys()
        .any(|p| p.starts_with("docs/notes/empty/")));
    assert_eq!(data.get("secret.key").unwrap().mode, 0o600);
    assert_ne!(
        data.get("media/big.bin").unwrap().sha256,
        seeded[1].get("media/big.bin").unwrap().sha256,
        "subvolumes differ"
    );

    for w in [&a, &b] {
        w.ok(&["mutate", "--size", "256K"]);
    }
    assert_same(&scans(&a), &scans(&b), "after mutate");
    let again = a.expect(2, &["seed"]);
    assert!(again.stderr.contains("is not empty"), "{}", again.text());
}

#[test]
fn mutate_changes_exactly_the_documented_paths_and_refuses_to_run_twice() {
    let w = World::new("mutate");
    w.ok(&["seed", "--size", "1M"]);
    let before = scans(&w);
    let out = w.ok(&["mutate"]);
    assert!(
        out.stdout.contains("mutated data: 13 changes"),
        "{}",
        out.text()
    );
    let after = scans(&w);
    let documented: BTreeSet<String> = MUTATED_PATHS.iter().map(|p| p.to_string()).collect();
    for ((name, x), y) in SUBVOLUMES.iter().zip(&before).zip(&after) {
        let changed: BTreeSet<String> = diff(x, y).items.into_iter().map(|i| i.path).collect();
        assert_eq!(changed, documented, "{name}");
    }
    assert_eq!(after[0].get("new/added.bin").unwrap().size, 512 << 10);
    assert_eq!(after[0].get("scripts/run.sh").unwrap().mode, 0o700);

    let refused = w.expect(2, &["mutate"]);
    assert!(
        refused.stderr.contains("cannot mutate subvolume data")
            && refused.stderr.contains("new already exists"),
        "{}",
        refused.text()
    );
    assert_same(&after, &scans(&w), "after a refused mutate");
}

#[test]
fn under_sudo_the_run_dir_goes_to_the_user_but_the_seeded_files_keep_their_owners() {
    let w = World::new("sudo");
    let out = w
        .command(&["seed", "--size", "64K"])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65533")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let owner = |p: &std::path::Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    for p in ["session.json", "fixture.json", "s3-server.json"] {
        assert_eq!(owner(&w.run_dir.join(p)), (65534, 65533), "{p}");
    }
    assert_eq!(owner(&w.run_dir), (65534, 65533));
    assert_eq!(
        owner(&w.run_dir.join("source.img")),
        (0, 0),
        "the loop image stays root's"
    );
    let data = scan(&w.subvolume("data")).unwrap();
    let owners: BTreeSet<(u32, u32)> = data.entries.values().map(|e| (e.uid, e.gid)).collect();
    assert_eq!(
        owners,
        BTreeSet::from([(0, 0), (1000, 1000)]),
        "only the seed layout's own owners"
    );
}
