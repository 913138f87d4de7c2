//! Tree diff: identical trees give no difference, and each category of difference is
//! caught, counted, and reported as a P1 finding naming the first path.

use std::collections::BTreeMap;

use b2s3_harness::fixture::tree::{Entry, EntryKind, Tree};
use b2s3_harness::oracle::diff::{diff, DiffCategory};
use b2s3_harness::oracle::finding::Property;

fn file(content: &str, mode: u32) -> Entry {
    Entry {
        kind: EntryKind::File,
        size: content.len() as u64,
        sha256: Some(b2s3_harness::oracle::manifest::sha256_hex(
            content.as_bytes(),
        )),
        mode,
        uid: 0,
        gid: 0,
        symlink_target: None,
        link_group: None,
        xattrs: BTreeMap::new(),
        mtime_ns: 1_700_000_000_123_456_789,
        subvolume_root: false,
    }
}

fn dir() -> Entry {
    Entry {
        kind: EntryKind::Dir,
        size: 0,
        sha256: None,
        mode: 0o755,
        mtime_ns: 5,
        ..file("", 0o755)
    }
}

fn symlink(target: &str) -> Entry {
    Entry {
        kind: EntryKind::Symlink,
        size: target.len() as u64,
        sha256: None,
        mode: 0,
        symlink_target: Some(target.into()),
        ..file("", 0)
    }
}

/// a/, a/f (hardlinked with a/g), a/g, a/empty/, b (symlink to a/f), c
fn model() -> Tree {
    let mut entries = BTreeMap::new();
    entries.insert("a".to_string(), dir());
    entries.insert("a/empty".to_string(), dir());
    let linked = Entry {
        link_group: Some("a/f".into()),
        ..file("hello", 0o644)
    };
    entries.insert("a/f".to_string(), linked.clone());
    entries.insert("a/g".to_string(), linked);
    entries.insert("b".to_string(), symlink("a/f"));
    let mut c = file("data", 0o600);
    c.xattrs.insert("user.tag".into(), "6869".into());
    entries.insert("c".to_string(), c);
    Tree { entries }
}

/// An edit that changes one thing about a tree's entries.
type Edit = fn(&mut BTreeMap<String, Entry>);

fn only_category(expected: &Tree, seen: &Tree, category: DiffCategory) -> Vec<String> {
    let d = diff(expected, seen);
    assert!(!d.is_empty(), "no difference found for {category:?}");
    assert!(
        d.items.iter().all(|i| i.category == category),
        "{}",
        d.render(50)
    );
    d.items.iter().map(|i| i.path.clone()).collect()
}

fn edited(edit: impl FnOnce(&mut BTreeMap<String, Entry>)) -> Tree {
    let mut tree = model();
    edit(&mut tree.entries);
    tree
}

#[test]
fn identical_trees_have_no_difference_and_no_finding() {
    let d = diff(&model(), &model());
    assert!(d.is_empty());
    assert_eq!(d.summary(), "no differences");
    assert_eq!(d.to_finding(Some(1), "restore"), None);
}

#[test]
fn a_missing_empty_directory_is_missing() {
    let seen = edited(|e| drop(e.remove("a/empty")));
    assert_eq!(
        only_category(&model(), &seen, DiffCategory::Missing),
        vec!["a/empty"]
    );
}

#[test]
fn an_unexpected_file_is_extra() {
    let seen = edited(|e| drop(e.insert("z".into(), file("", 0o644))));
    assert_eq!(
        only_category(&model(), &seen, DiffCategory::Extra),
        vec!["z"]
    );
}

#[test]
fn a_directory_where_a_file_was_is_a_type_difference_only() {
    let seen = edited(|e| drop(e.insert("c".into(), dir())));
    assert_eq!(
        only_category(&model(), &seen, DiffCategory::Type),
        vec!["c"]
    );
}

#[test]
fn a_truncated_file_is_a_size_difference() {
    let seen = edited(|e| {
        let c = e.get_mut("c").unwrap();
        c.size = 3;
        c.sha256 = Some("00".repeat(32));
    });
    let d = diff(&model(), &seen);
    assert_eq!(d.items.len(), 1, "size hides the content difference: {d}");
    assert_eq!(
        (d.items[0].expected.as_str(), d.items[0].seen.as_str()),
        ("4", "3")
    );
}

#[test]
fn same_size_other_bytes_is_a_content_difference() {
    let seen = edited(|e| e.get_mut("c").unwrap().sha256 = Some("00".repeat(32)));
    assert_eq!(
        only_category(&model(), &seen, DiffCategory::Content),
        vec!["c"]
    );
}

#[test]
fn permission_bits_owner_symlink_target_xattr_and_mtime_are_each_their_own_category() {
    let cases: Vec<(DiffCategory, Edit, &str)> = vec![
        (
            DiffCategory::Mode,
            |e| e.get_mut("c").unwrap().mode = 0o644,
            "c",
        ),
        (
            DiffCategory::Owner,
            |e| e.get_mut("a").unwrap().gid = 100,
            "a",
        ),
        (
            DiffCategory::SymlinkTarget,
            |e| e.get_mut("b").unwrap().symlink_target = Some("a/g".into()),
            "b",
        ),
        (
            DiffCategory::Xattr,
            |e| drop(e.get_mut("c").unwrap().xattrs.remove("user.tag")),
            "c",
        ),
        (
            DiffCategory::Mtime,
            |e| e.get_mut("c").unwrap().mtime_ns += 1,
            "c",
        ),
    ];
    for (category, edit, path) in cases {
        assert_eq!(
            only_category(&model(), &edited(edit), category),
            vec![path],
            "{category:?}"
        );
    }
}

#[test]
fn directory_and_symlink_mtimes_are_not_compared() {
    let seen = edited(|e| {
        e.get_mut("a").unwrap().mtime_ns = 99;
        e.get_mut("b").unwrap().mtime_ns = 99;
    });
    assert!(diff(&model(), &seen).is_empty());
}

#[test]
fn broken_hardlinks_are_a_grouping_difference_on_both_paths() {
    let seen = edited(|e| {
        e.get_mut("a/f").unwrap().link_group = None;
        e.get_mut("a/g").unwrap().link_group = None;
    });
    let d = diff(&model(), &seen);
    assert_eq!(
        only_category(&model(), &seen, DiffCategory::Hardlink),
        vec!["a/f", "a/g"]
    );
    assert_eq!(
        (d.items[0].expected.as_str(), d.items[0].seen.as_str()),
        ("linked with a/g", "not hardlinked")
    );
}

#[test]
fn a_missing_link_of_a_group_is_not_also_reported_as_broken_grouping() {
    let mut expected = model();
    expected.entries.insert(
        "a/h".into(),
        Entry {
            link_group: Some("a/f".into()),
            ..file("hello", 0o644)
        },
    );
    let mut seen = model();
    for path in ["a/f", "a/g"] {
        seen.entries.get_mut(path).unwrap().link_group = Some("a/f".into());
    }
    assert_eq!(
        only_category(&expected, &seen, DiffCategory::Missing),
        vec!["a/h"]
    );
}

#[test]
fn the_finding_is_p1_and_names_the_first_difference_in_path_order_with_counts() {
    let seen = edited(|e| {
        e.remove("a/empty");
        e.get_mut("c").unwrap().mode = 0o777;
        e.get_mut("a/f").unwrap().uid = 1000;
    });
    let d = diff(&model(), &seen);
    assert_eq!(d.counts()[&DiffCategory::Missing], 1);
    assert_eq!(d.summary(), "3 differences (missing 1, mode 1, owner 1)");
    let f = d
        .to_finding(Some(4), "restore of m into /t")
        .expect("finding");
    assert_eq!(f.property, Property::RoundTrip);
    assert_eq!(f.step, Some(4));
    assert_eq!(f.subject.as_deref(), Some("a/empty"));
    assert_eq!(
        (f.expected.as_deref(), f.seen.as_deref()),
        (Some("directory"), Some("absent"))
    );
    assert!(
        f.message.starts_with("restore of m into /t: 3 differences"),
        "{}",
        f.message
    );
    let text = d.render(1);
    assert!(
        text.contains("a/empty: missing") && text.contains("... and 2 more"),
        "{text}"
    );
}
