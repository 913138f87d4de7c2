//! Tree comparison for P1 (round-trip): what the model expects a restored subvolume to
//! contain against what a scan of it shows, by category, in path order, so that a
//! finding can name the first discrepancy and a report can show how many of each kind.
//!
//! Compared: presence, entry type, size and SHA-256 of regular files, permission bits,
//! owner, symlink targets, hardlink grouping, user xattrs, and mtime of regular files
//! only. Not compared: the `subvolume_root` flag (nested subvolumes are not part of a
//! send stream; the model must predict the empty directory a restore shows instead).
//! This module is pure: it never reads the filesystem.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::finding::{Finding, Property};
use crate::fixture::tree::{Entry, EntryKind, Tree};

/// What differs about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffCategory {
    Missing,
    Extra,
    Type,
    Size,
    Content,
    Mode,
    Owner,
    SymlinkTarget,
    Hardlink,
    Xattr,
    Mtime,
}

impl DiffCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffCategory::Missing => "missing",
            DiffCategory::Extra => "extra",
            DiffCategory::Type => "type",
            DiffCategory::Size => "size",
            DiffCategory::Content => "content",
            DiffCategory::Mode => "mode",
            DiffCategory::Owner => "owner",
            DiffCategory::SymlinkTarget => "symlink target",
            DiffCategory::Hardlink => "hardlink grouping",
            DiffCategory::Xattr => "xattr",
            DiffCategory::Mtime => "mtime",
        }
    }
}

/// One difference at one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffItem {
    pub path: String,
    pub category: DiffCategory,
    pub expected: String,
    pub seen: String,
}

/// Every difference between two trees, sorted by path then category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TreeDiff {
    pub items: Vec<DiffItem>,
}

impl TreeDiff {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The first difference in path order.
    pub fn first(&self) -> Option<&DiffItem> {
        self.items.first()
    }

    pub fn counts(&self) -> BTreeMap<DiffCategory, usize> {
        let mut counts = BTreeMap::new();
        for item in &self.items {
            *counts.entry(item.category).or_insert(0) += 1;
        }
        counts
    }

    /// A multi-line report: a summary line, then at most `limit` differences.
    pub fn render(&self, limit: usize) -> String {
        let mut out = self.summary();
        for item in self.items.iter().take(limit) {
            out.push_str(&format!(
                "\n  {}: {}: expected {}, seen {}",
                item.path,
                item.category.as_str(),
                item.expected,
                item.seen
            ));
        }
        if self.items.len() > limit {
            out.push_str(&format!("\n  ... and {} more", self.items.len() - limit));
        }
        out
    }

    /// `3 differences (missing 1, content 2)` or `no differences`.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no differences".to_string();
        }
        let counts: Vec<String> = self
            .counts()
            .iter()
            .map(|(c, n)| format!("{} {n}", c.as_str()))
            .collect();
        let plural = if self.items.len() == 1 { "" } else { "s" };
        format!(
            "{} difference{plural} ({})",
            self.items.len(),
            counts.join(", ")
        )
    }

    /// A P1 finding naming the first difference; `context` says what was compared
    /// (e.g. `restore of <manifest key> into <target>`). `None` when the trees are equal.
    pub fn to_finding(&self, step: Option<usize>, context: &str) -> Option<Finding> {
        let first = self.first()?;
        let message = format!(
            "{context}: {}; first: {} {}",
            self.summary(),
            first.category.as_str(),
            first.path
        );
        Some(
            Finding::new(Property::RoundTrip, step, message)
                .subject(first.path.clone())
                .expected_seen(first.expected.clone(), first.seen.clone()),
        )
    }
}

impl fmt::Display for TreeDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(20))
    }
}

/// Compares the tree the model expects with the tree that was seen.
pub fn diff(expected: &Tree, seen: &Tree) -> TreeDiff {
    let mut items = Vec::new();
    for (path, e) in &expected.entries {
        match seen.get(path) {
            None => items.push(item(
                path,
                DiffCategory::Missing,
                describe_entry(e),
                "absent",
            )),
            Some(s) => compare_entry(path, e, s, &mut items),
        }
    }
    for (path, s) in &seen.entries {
        if expected.get(path).is_none() {
            items.push(item(path, DiffCategory::Extra, "absent", describe_entry(s)));
        }
    }
    items.extend(hardlink_items(expected, seen));
    items.sort_by(|a, b| (a.path.as_str(), a.category).cmp(&(b.path.as_str(), b.category)));
    TreeDiff { items }
}

fn item(
    path: &str,
    category: DiffCategory,
    expected: impl Into<String>,
    seen: impl Into<String>,
) -> DiffItem {
    DiffItem {
        path: path.to_string(),
        category,
        expected: expected.into(),
        seen: seen.into(),
    }
}

fn compare_entry(path: &str, e: &Entry, s: &Entry, items: &mut Vec<DiffItem>) {
    if e.kind != s.kind {
        items.push(item(
            path,
            DiffCategory::Type,
            kind_name(e.kind),
            kind_name(s.kind),
        ));
        return;
    }
    match e.kind {
        EntryKind::File if e.size != s.size => items.push(item(
            path,
            DiffCategory::Size,
            e.size.to_string(),
            s.size.to_string(),
        )),
        EntryKind::File if e.sha256 != s.sha256 => {
            items.push(item(path, DiffCategory::Content, sha(e), sha(s)))
        }
        EntryKind::Symlink if e.symlink_target != s.symlink_target => items.push(item(
            path,
            DiffCategory::SymlinkTarget,
            target(e),
            target(s),
        )),
        _ => {}
    }
    if e.mode != s.mode {
        items.push(item(
            path,
            DiffCategory::Mode,
            format!("{:04o}", e.mode),
            format!("{:04o}", s.mode),
        ));
    }
    if (e.uid, e.gid) != (s.uid, s.gid) {
        items.push(item(
            path,
            DiffCategory::Owner,
            format!("{}:{}", e.uid, e.gid),
            format!("{}:{}", s.uid, s.gid),
        ));
    }
    if let Some((name, want, got)) = first_xattr_difference(e, s) {
        items.push(item(
            path,
            DiffCategory::Xattr,
            format!("{name}={want}"),
            format!("{name}={got}"),
        ));
    }
    if e.kind == EntryKind::File && e.mtime_ns != s.mtime_ns {
        items.push(item(
            path,
            DiffCategory::Mtime,
            time(e.mtime_ns),
            time(s.mtime_ns),
        ));
    }
}

fn first_xattr_difference<'a>(e: &'a Entry, s: &'a Entry) -> Option<(&'a str, &'a str, &'a str)> {
    let names: BTreeSet<&String> = e.xattrs.keys().chain(s.xattrs.keys()).collect();
    names.into_iter().find_map(|name| {
        let (want, got) = (e.xattrs.get(name), s.xattrs.get(name));
        (want != got).then(|| {
            (
                name.as_str(),
                want.map_or("(absent)", String::as_str),
                got.map_or("(absent)", String::as_str),
            )
        })
    })
}

/// Hardlink grouping, compared on the regular files present in both trees: a file must
/// share its inode with exactly the same other paths on both sides.
fn hardlink_items(expected: &Tree, seen: &Tree) -> Vec<DiffItem> {
    let common: BTreeSet<&String> = expected
        .entries
        .iter()
        .filter(|(p, e)| {
            e.kind == EntryKind::File && seen.get(p).is_some_and(|s| s.kind == EntryKind::File)
        })
        .map(|(p, _)| p)
        .collect();
    let (want, got) = (link_peers(expected, &common), link_peers(seen, &common));
    common
        .iter()
        .filter(|p| want.get(**p) != got.get(**p))
        .map(|p| {
            item(
                p,
                DiffCategory::Hardlink,
                peers_text(want.get(*p)),
                peers_text(got.get(*p)),
            )
        })
        .collect()
}

/// For each path of `common` in a link group: the other members of its group.
fn link_peers<'a>(
    tree: &'a Tree,
    common: &BTreeSet<&'a String>,
) -> BTreeMap<&'a String, Vec<&'a String>> {
    let mut groups: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for path in common {
        if let Some(group) = tree.entries[*path].link_group.as_ref() {
            groups.entry(group).or_default().push(path);
        }
    }
    let mut peers = BTreeMap::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        for path in members {
            peers.insert(
                *path,
                members.iter().copied().filter(|m| m != path).collect(),
            );
        }
    }
    peers
}

fn peers_text(peers: Option<&Vec<&String>>) -> String {
    match peers {
        None => "not hardlinked".to_string(),
        Some(p) => format!(
            "linked with {}",
            p.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "directory",
        EntryKind::Symlink => "symlink",
        EntryKind::Other => "special file",
    }
}

fn describe_entry(e: &Entry) -> String {
    match e.kind {
        EntryKind::File => format!("file of {} bytes", e.size),
        EntryKind::Symlink => format!("symlink to {}", target(e)),
        other => kind_name(other).to_string(),
    }
}

fn sha(e: &Entry) -> String {
    e.sha256
        .clone()
        .map_or("(no hash)".to_string(), |h| format!("sha256 {h}"))
}

fn target(e: &Entry) -> String {
    e.symlink_target
        .clone()
        .map_or("(none)".to_string(), |t| format!("{t:?}"))
}

fn time(ns: i128) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}
