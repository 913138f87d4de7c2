//! Entry names and symlink targets, from abstract choices. Stress names cover what trips
//! tools up: spaces, unicode (NFC and NFD twins, 4-byte characters), a leading dash,
//! dots, names of exactly 255 bytes, near-collisions with a sibling (case, trailing
//! space, `~`), and odd characters (backslash, tab, newline, quotes, globs, control
//! characters). Unicode is written as escapes so the source stays ASCII.
//!
//! Everything here is a pure function of its inputs.

use crate::model::{parent_of, MAX_NAME};

/// An abstract name choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameSel {
    pub stress: bool,
    pub class: u8,
    pub n: u32,
}

/// An abstract symlink target choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TargetSel {
    pub class: u8,
    pub n: u32,
}

const WORDS: &[&str] = &[
    "a",
    "b",
    "data",
    "file",
    "notes.txt",
    "img_0001.jpg",
    "README",
    "x",
    "dir",
    "sub",
    "log",
    "cache",
    "config.toml",
    "Makefile",
    "archive.tar.gz",
    "z",
];
const SPACES: &[&str] = &[" leading", "trailing ", "two  spaces", "with space", " "];
const UNICODE: &[&str] = &[
    "caf\u{e9}",
    "\u{65e5}\u{672c}\u{8a9e}",
    "emoji-\u{1f600}",
    "e\u{301}",
    "\u{e9}",
    "\u{391}\u{3b8}\u{3ae}\u{3bd}\u{3b1}",
    "\u{200b}zero-width",
    "\u{fffd}",
];
const DASHES: &[&str] = &["-", "-rf", "--help", "-n 1"];
const DOTS: &[&str] = &[".hidden", "..dots", "a.", "...", ".x.y."];
const ODD: &[&str] = &[
    "a\\b",
    "tab\there",
    "new\nline",
    "quote'\"",
    "star*?[x]",
    "percent%20",
    "colon:semi;",
    "dollar$HOME",
    "back`tick`",
    "#hash",
    "~tilde",
    "del\u{7f}",
    "ctl\u{1}",
];

/// The name before de-duplication against `siblings`.
pub(crate) fn base_name(sel: NameSel, siblings: &[&str]) -> String {
    let n = sel.n as usize;
    if !sel.stress {
        return plain(n);
    }
    let from = |list: &[&str]| list[n % list.len()].to_owned();
    match sel.class % 7 {
        0 => from(SPACES),
        1 => from(UNICODE),
        2 => from(DASHES),
        3 => from(DOTS),
        4 => long_name(n),
        5 => near_collision(n, siblings).unwrap_or_else(|| plain(n)),
        _ => from(ODD),
    }
}

fn plain(n: usize) -> String {
    let word = WORDS[n % WORDS.len()];
    match (n >> 16) & 1 {
        0 => word.to_owned(),
        _ => format!("{word}{}", (n >> 4) % 100),
    }
}

/// Names of exactly 255 bytes (or 254), in 1-, 2- and 4-byte characters.
fn long_name(n: usize) -> String {
    match n % 4 {
        0 => format!("long-{}", "x".repeat(MAX_NAME - 5)),
        1 => format!("{}z", "\u{e9}".repeat(127)),
        2 => format!("{}abc", "\u{1f600}".repeat(63)),
        _ => "y".repeat(MAX_NAME - 1),
    }
}

/// A name that differs from an existing sibling by case, a trailing space or `~`, or
/// NFC/NFD form.
fn near_collision(n: usize, siblings: &[&str]) -> Option<String> {
    let s = *siblings.get(n % siblings.len().max(1))?;
    let twin = match (n / siblings.len().max(1)) % 4 {
        0 => flip_case(s),
        1 => format!("{s} "),
        2 => format!("{s}~"),
        _ => s.replace("\u{e9}", "e\u{301}").replace("e\u{301}e\u{301}", "\u{e9}\u{e9}"),
    };
    (twin != s && twin.len() <= MAX_NAME).then_some(twin)
}

fn flip_case(s: &str) -> String {
    s.chars()
        .map(
            |c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            },
        )
        .collect()
}

/// `base`, or `base-<k>` (cut to fit 255 bytes) for the first `k` not among `siblings`.
pub(crate) fn unique_name(base: String, siblings: &[&str]) -> String {
    if !siblings.contains(&base.as_str()) {
        return base;
    }
    (1..)
        .map(|k| {
            let suffix = format!("-{k}");
            format!("{}{suffix}", cut(&base, MAX_NAME - suffix.len()))
        })
        .find(|c| !siblings.contains(&c.as_str()))
        .expect("some suffix is free")
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

const ABSOLUTE: &[&str] = &["/", "/etc/hostname", "/nonexistent/file", "/tmp", "/proc/self/cwd"];
const DANGLING: &[&str] = &["missing", "../../../../escape", "no/such/dir/file", "./missing"];

/// A symlink target for a link at `link`: relative to an existing entry (`entries`),
/// absolute, dangling, relative to a directory (`dirs`, `""` for the root), or odd
/// (`.`, `..`, spaces, unicode, long, trailing or doubled slashes).
pub(crate) fn target(sel: TargetSel, link: &str, entries: &[&str], dirs: &[&str]) -> String {
    let n = sel.n as usize;
    let relative_to = |list: &[&str]| match list.get(n % list.len().max(1)) {
        Some(t) => relative(parent_of(link), t),
        None => DANGLING[n % DANGLING.len()].to_owned(),
    };
    match sel.class % 5 {
        0 => relative_to(entries),
        1 => ABSOLUTE[n % ABSOLUTE.len()].to_owned(),
        2 => DANGLING[n % DANGLING.len()].to_owned(),
        3 => relative_to(dirs),
        _ => odd_target(n),
    }
}

fn odd_target(n: usize) -> String {
    match n % 8 {
        0 => "..".into(),
        1 => ".".into(),
        2 => "a b/c d".into(),
        3 => "caf\u{e9}/\u{65e5}".into(),
        4 => format!("{}end", "x/".repeat(400)),
        5 => "trailing/".into(),
        6 => "//double//slash".into(),
        _ => "-dash".into(),
    }
}

/// The relative path from directory `from` (`""` for the root) to `to`.
pub(crate) fn relative(from: &str, to: &str) -> String {
    let split = |p: &str| {
        if p.is_empty() {
            Vec::new()
        } else {
            p.split('/').map(str::to_owned).collect::<Vec<_>>()
        }
    };
    let (a, b) = (split(from), split(to));
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); a.len() - common];
    parts.extend(b[common..].iter().cloned());
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        assert_eq!(relative("a/b", "a/c/d"), "../c/d");
        assert_eq!(relative("", "x"), "x");
        assert_eq!(relative("a", ""), "..");
        assert_eq!(relative("a/b", "a/b"), ".");
    }

    #[test]
    fn long_names_are_at_most_255_bytes_and_a_taken_name_gets_a_suffix_that_fits() {
        for n in 0..4 {
            let name = long_name(n);
            assert!(name.len() == 255 || name.len() == 254, "{}", name.len());
            let unique = unique_name(name.clone(), &[name.as_str()]);
            assert!(unique.len() <= 255 && unique != name);
        }
    }

    #[test]
    fn a_near_collision_differs_from_its_sibling() {
        let twin = near_collision(0, &["Readme"]).unwrap();
        assert_eq!(twin, "rEADME");
    }
}
