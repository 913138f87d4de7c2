//! Manifest chains as restore follows them (CONTRACT.md section 12, step 2): from a
//! manifest, follow `parent_manifest` until it is null; the oldest must be a full; a key
//! seen twice is a loop. Pure: manifests are looked up through a closure.

use crate::oracle::manifest::{BackupKind, ChainLink};

/// A manifest as the chain walker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(ChainLink),
    Missing,
    Unreadable(String),
    /// Reading it failed for a reason that says nothing about the tool (S3 error).
    Error(String),
}

/// How a chain ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEnd {
    /// At a full with no parent: restorable as far as manifests go.
    Full,
    Missing {
        key: String,
    },
    Unreadable {
        key: String,
        reason: String,
    },
    Loop {
        key: String,
    },
    /// The oldest manifest (no parent) is not a full.
    NotFull {
        key: String,
        kind: BackupKind,
    },
    /// The walk could not go on (S3 error): no verdict.
    Undecided {
        key: String,
        reason: String,
    },
}

/// A chain, newest manifest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Every manifest key reached that could be read, newest first.
    pub manifest_keys: Vec<String>,
    pub end: ChainEnd,
}

impl Chain {
    pub fn ends_in_full(&self) -> bool {
        self.end == ChainEnd::Full
    }

    /// One line describing why the chain is broken; `None` when it ends in a full or
    /// could not be followed (see [`ChainEnd::Undecided`]).
    pub fn problem(&self) -> Option<String> {
        match &self.end {
            ChainEnd::Full | ChainEnd::Undecided { .. } => None,
            ChainEnd::Missing { key } => Some(format!("manifest {key} does not exist")),
            ChainEnd::Unreadable { key, reason } => {
                Some(format!("manifest {key} cannot be read: {reason}"))
            }
            ChainEnd::Loop { key } => Some(format!("manifest chain loops at {key}")),
            ChainEnd::NotFull { key, kind } => Some(format!(
                "manifest chain does not end in a full: {key} is {} with no parent",
                kind.as_str()
            )),
        }
    }
}

/// Walks the chain starting at `start`.
pub fn walk(start: &str, lookup: &mut dyn FnMut(&str) -> Lookup) -> Chain {
    let mut keys: Vec<String> = Vec::new();
    let mut current = start.to_string();
    loop {
        if keys.contains(&current) {
            return Chain {
                manifest_keys: keys,
                end: ChainEnd::Loop { key: current },
            };
        }
        let link = match lookup(&current) {
            Lookup::Found(link) => link,
            Lookup::Missing => {
                return Chain {
                    manifest_keys: keys,
                    end: ChainEnd::Missing { key: current },
                }
            }
            Lookup::Unreadable(reason) => {
                return Chain {
                    manifest_keys: keys,
                    end: ChainEnd::Unreadable {
                        key: current,
                        reason,
                    },
                }
            }
            Lookup::Error(reason) => {
                return Chain {
                    manifest_keys: keys,
                    end: ChainEnd::Undecided {
                        key: current,
                        reason,
                    },
                }
            }
        };
        keys.push(current.clone());
        match link.parent_manifest {
            Some(parent) => current = parent,
            None if link.kind == BackupKind::Full => {
                return Chain {
                    manifest_keys: keys,
                    end: ChainEnd::Full,
                }
            }
            None => {
                return Chain {
                    manifest_keys: keys,
                    end: ChainEnd::NotFull {
                        key: current,
                        kind: link.kind,
                    },
                }
            }
        }
    }
}
