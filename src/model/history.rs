//! What every published backup must restore to, and outcomes the model cannot know in
//! advance.
//!
//! [`Pending`] holds the candidate outcomes of a step whose effect depends on timing (a
//! backup killed mid-way: "published" or "not published"; two backups started together:
//! "the first won" or "the second won"). An observation narrows it with
//! [`Pending::resolve`] / [`Pending::resolve_by`]; a check accepts any remaining
//! candidate as a whole and never a mixture of two. An observation that matches no
//! candidate is an error the caller turns into a finding.
//!
//! [`History`] keeps, per subvolume, one [`Expectation`] per published backup (the
//! model's [`backup_view`](super::ModelTree::backup_view) at the moment its snapshot was
//! taken, keyed by manifest key), plus at most one backup attempt whose publication is
//! not yet known. The engine calls [`History::attempt`] when a backup that may snapshot
//! the subvolume starts, then resolves it from the tool's `backup_uploaded` event
//! ([`History::published`]) or from the `current.json` it observes
//! ([`History::observe_pointer`]). This module does no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fixture::tree::Tree;

/// One of several candidate values, until an observation picks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending<T> {
    candidates: Vec<T>,
}

/// An observation matched none of the candidates.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the observation matches none of the {candidates} candidate outcomes")]
pub struct NoCandidate {
    pub candidates: usize,
}

impl<T> Pending<T> {
    /// A value known in advance.
    pub fn known(value: T) -> Pending<T> {
        Pending { candidates: vec![value] }
    }

    /// One of `candidates` (at least one).
    pub fn one_of(candidates: Vec<T>) -> Pending<T> {
        assert!(!candidates.is_empty(), "a pending outcome needs at least one candidate");
        Pending { candidates }
    }

    pub fn candidates(&self) -> &[T] {
        &self.candidates
    }

    /// The value, once exactly one candidate is left.
    pub fn value(&self) -> Option<&T> {
        match self.candidates.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    pub fn is_resolved(&self) -> bool {
        self.candidates.len() == 1
    }

    /// Keeps the candidates the observation agrees with; if none does, keeps all and
    /// errs.
    pub fn resolve_by(&mut self, agrees: impl Fn(&T) -> bool) -> Result<(), NoCandidate> {
        if !self.candidates.iter().any(&agrees) {
            return Err(NoCandidate { candidates: self.candidates.len() });
        }
        self.candidates.retain(agrees);
        Ok(())
    }

    /// Candidates mapped one by one (the mapping must not merge two of them).
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> Pending<U> {
        Pending { candidates: self.candidates.iter().map(f).collect() }
    }
}

impl<T: PartialEq> Pending<T> {
    /// True if `value` is one of the candidates.
    pub fn accepts(&self, value: &T) -> bool {
        self.candidates.contains(value)
    }

    /// Narrows to the observed value, which must be a candidate.
    pub fn resolve(&mut self, observed: &T) -> Result<(), NoCandidate> {
        self.resolve_by(|c| c == observed)
    }
}

/// What a restore of one backup must contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The manifest's S3 key (prefix included); `None` for an attempt whose key has
    /// not been observed yet.
    pub manifest_key: Option<String>,
    /// The plan step of the backup.
    pub step: usize,
    /// The model's backup view when the snapshot was taken.
    pub tree: Tree,
}

/// The publication outcome of one backup attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Publication {
    NotPublished,
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Attempt {
    step: usize,
    tree: Tree,
    outcome: Pending<Publication>,
}

/// The backups of one subvolume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubvolumeHistory {
    /// Published backups, oldest first; every `manifest_key` is `Some`.
    published: Vec<Expectation>,
    attempt: Option<Attempt>,
}

/// An observation the history cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HistoryError {
    #[error("subvolume {subvolume}: a backup attempt from step {step} is still unresolved; observe it first")]
    Unresolved { subvolume: String, step: usize },
    #[error("subvolume {subvolume}: no backup attempt is pending, yet {what}")]
    NoAttempt { subvolume: String, what: String },
    #[error("subvolume {subvolume}: current.json names {seen:?}, expected one of {expected:?}")]
    UnexpectedPointer { subvolume: String, seen: Option<String>, expected: Vec<String> },
}

/// Expected trees per subvolume and published backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    subvolumes: BTreeMap<String, SubvolumeHistory>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    fn sub(&mut self, subvolume: &str) -> &mut SubvolumeHistory {
        self.subvolumes.entry(subvolume.to_owned()).or_default()
    }

    /// A backup that may publish `subvolume` starts at `step`; `tree` is the model's
    /// backup view now. Its outcome is unknown until resolved.
    pub fn attempt(
        &mut self,
        subvolume: &str,
        step: usize,
        tree: Tree,
    ) -> Result<(), HistoryError> {
        let sub = self.sub(subvolume);
        if let Some(a) = &sub.attempt {
            return Err(HistoryError::Unresolved { subvolume: subvolume.to_owned(), step: a.step });
        }
        let outcome = Pending::one_of(vec![Publication::NotPublished, Publication::Published]);
        sub.attempt = Some(Attempt { step, tree, outcome });
        Ok(())
    }

    /// The pending attempt published `manifest_key` (seen in `backup_uploaded`).
    pub fn published(&mut self, subvolume: &str, manifest_key: &str) -> Result<(), HistoryError> {
        let sub = self.sub(subvolume);
        let Some(attempt) = sub.attempt.take() else {
            return Err(HistoryError::NoAttempt {
                subvolume: subvolume.to_owned(),
                what: format!("{manifest_key} was published"),
            });
        };
        sub.published.push(Expectation {
            manifest_key: Some(manifest_key.to_owned()),
            step: attempt.step,
            tree: attempt.tree,
        });
        Ok(())
    }

    /// The pending attempt (if any) did not publish.
    pub fn not_published(&mut self, subvolume: &str) {
        self.sub(subvolume).attempt = None;
    }

    /// Resolves the pending attempt from the `current.json` observed now (`None`:
    /// absent). The pointer must name the last published manifest (attempt not
    /// published) or, with an attempt pending, a manifest not seen before (the attempt
    /// published it). Anything else, such as a pointer back to an older manifest, is an
    /// error and changes nothing.
    pub fn observe_pointer(
        &mut self,
        subvolume: &str,
        pointer: Option<&str>,
    ) -> Result<(), HistoryError> {
        let sub = self.sub(subvolume);
        let last = sub.published.last().and_then(|e| e.manifest_key.as_deref());
        if pointer == last {
            sub.attempt = None;
            return Ok(());
        }
        let known = sub.published.iter().any(|e| e.manifest_key.as_deref() == pointer);
        let pending = sub.attempt.is_some();
        match (pointer, pending, known) {
            (Some(key), true, false) => self.published(subvolume, key),
            _ => Err(HistoryError::UnexpectedPointer {
                subvolume: subvolume.to_owned(),
                seen: pointer.map(str::to_owned),
                expected: self.pointer_candidates(subvolume),
            }),
        }
    }

    fn pointer_candidates(&self, subvolume: &str) -> Vec<String> {
        let Some(sub) = self.subvolumes.get(subvolume) else {
            return vec!["(absent)".into()];
        };
        let mut v = vec![sub
            .published
            .last()
            .and_then(|e| e.manifest_key.clone())
            .unwrap_or("(absent)".into())];
        if sub.attempt.is_some() {
            v.push("(a new manifest of the pending attempt)".into());
        }
        v
    }

    /// What restoring through `current.json` must give: `None` means "never
    /// published" (current.json absent). Two candidates while an attempt is unresolved.
    pub fn current(&self, subvolume: &str) -> Pending<Option<Expectation>> {
        let Some(sub) = self.subvolumes.get(subvolume) else {
            return Pending::known(None);
        };
        let last = sub.published.last().cloned();
        match &sub.attempt {
            None => Pending::known(last),
            Some(a) => Pending::one_of(vec![
                last,
                Some(Expectation { manifest_key: None, step: a.step, tree: a.tree.clone() }),
            ]),
        }
    }

    /// The published backup `back` backups before the latest, clamped to the oldest
    /// (the meaning of `RestoreSource::Manifest { back }`).
    pub fn manifest_back(&self, subvolume: &str, back: u32) -> Option<&Expectation> {
        let published = &self.subvolumes.get(subvolume)?.published;
        let back = (back as usize).min(published.len().checked_sub(1)?);
        published.get(published.len() - 1 - back)
    }

    /// The published backup with this manifest key.
    pub fn by_key(&self, subvolume: &str, manifest_key: &str) -> Option<&Expectation> {
        self.subvolumes
            .get(subvolume)?
            .published
            .iter()
            .find(|e| e.manifest_key.as_deref() == Some(manifest_key))
    }

    /// All published backups of a subvolume, oldest first.
    pub fn published_of(&self, subvolume: &str) -> &[Expectation] {
        self.subvolumes.get(subvolume).map_or(&[], |s| s.published.as_slice())
    }
}
