//! Outcomes the model cannot know in advance (PROPERTIES.md, last section): an
//! [`Expect`] is either one known value or a set of candidates with the reason the
//! model could not choose. A later observation resolves it to one candidate (or to
//! several that look alike), never to a mixture; [`Expect::resolve_by`] says which.
//!
//! Deliberately minimal: it stands in for the model's own indeterminate-outcome type
//! until the branches merge, and must not grow model knowledge (trees, chains).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "expect", rename_all = "snake_case")]
pub enum Expect<T> {
    Known {
        value: T,
    },
    /// Any of these may happen; `why` says what the model could not decide.
    OneOf {
        candidates: Vec<T>,
        why: String,
    },
}

/// What comparing an observation with one candidate gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Matches,
    /// The first difference.
    Differs(String),
    /// The comparison could not be made (and why).
    Unknown(String),
}

/// Which candidates an observation picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<'a, T> {
    /// Every candidate that matched (one, or several that look the same).
    Chosen(Vec<&'a T>),
    /// No candidate matched and every one was compared: the observation is a mixture
    /// or something else entirely. Carries each candidate's first difference.
    NoneMatch(Vec<(&'a T, String)>),
    /// No candidate matched, but some could not be compared.
    Undecided(String),
}

impl<T: PartialEq> Expect<T> {
    pub fn known(value: T) -> Expect<T> {
        Expect::Known { value }
    }

    /// Candidates in first-seen order, duplicates dropped; a single one is `Known`.
    /// Panics on an empty list: a model with no candidate at all is a harness bug.
    pub fn one_of(candidates: Vec<T>, why: impl Into<String>) -> Expect<T> {
        let mut unique: Vec<T> = Vec::new();
        for c in candidates {
            if !unique.contains(&c) {
                unique.push(c);
            }
        }
        assert!(!unique.is_empty(), "Expect::one_of needs at least one candidate");
        if unique.len() == 1 {
            Expect::Known { value: unique.pop().expect("one element") }
        } else {
            Expect::OneOf { candidates: unique, why: why.into() }
        }
    }

    pub fn candidates(&self) -> &[T] {
        match self {
            Expect::Known { value } => std::slice::from_ref(value),
            Expect::OneOf { candidates, .. } => candidates,
        }
    }

    /// The value, if the model knows it.
    pub fn value(&self) -> Option<&T> {
        match self {
            Expect::Known { value } => Some(value),
            Expect::OneOf { .. } => None,
        }
    }

    pub fn admits(&self, seen: &T) -> bool {
        self.candidates().contains(seen)
    }

    pub fn any(&self, pred: impl Fn(&T) -> bool) -> bool {
        self.candidates().iter().any(pred)
    }

    pub fn all(&self, pred: impl Fn(&T) -> bool) -> bool {
        self.candidates().iter().all(pred)
    }

    pub fn map<U: PartialEq>(&self, f: impl Fn(&T) -> U) -> Expect<U> {
        match self {
            Expect::Known { value } => Expect::known(f(value)),
            Expect::OneOf { candidates, why } => Expect::one_of(candidates.iter().map(f).collect(), why.clone()),
        }
    }

    /// Compares an observation with every candidate (see [`Resolution`]).
    pub fn resolve_by(&self, probe: impl Fn(&T) -> Probe) -> Resolution<'_, T> {
        let mut chosen = Vec::new();
        let mut differs = Vec::new();
        let mut unknown = Vec::new();
        for c in self.candidates() {
            match probe(c) {
                Probe::Matches => chosen.push(c),
                Probe::Differs(d) => differs.push((c, d)),
                Probe::Unknown(why) => unknown.push(why),
            }
        }
        if !chosen.is_empty() {
            Resolution::Chosen(chosen)
        } else if unknown.is_empty() {
            Resolution::NoneMatch(differs)
        } else {
            Resolution::Undecided(unknown.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_a_single_distinct_candidate_is_known() {
        assert_eq!(Expect::one_of(vec![3, 3], "same"), Expect::known(3));
        let e = Expect::one_of(vec![1, 2, 1], "boundary");
        assert_eq!(e.candidates(), &[1, 2]);
        assert!(e.admits(&2) && !e.admits(&3));
        assert_eq!(e.value(), None);
    }

    #[test]
    fn an_observation_matching_one_candidate_resolves_to_it() {
        let e = Expect::one_of(vec!["old", "new"], "killed mid-run");
        let r = e.resolve_by(|c| if *c == "new" { Probe::Matches } else { Probe::Differs("x".into()) });
        assert_eq!(r, Resolution::Chosen(vec![&"new"]));
    }

    #[test]
    fn an_observation_matching_no_candidate_is_reported_as_none_not_undecided() {
        let e = Expect::one_of(vec!["old", "new"], "killed mid-run");
        let r = e.resolve_by(|c| Probe::Differs(format!("{c} differs at a/b")));
        assert!(matches!(r, Resolution::NoneMatch(ref d) if d.len() == 2), "{r:?}");
    }

    #[test]
    fn an_uncomparable_candidate_makes_a_non_match_undecided() {
        let e = Expect::one_of(vec!["old", "new"], "killed mid-run");
        let r =
            e.resolve_by(|c| if *c == "old" { Probe::Differs("a".into()) } else { Probe::Unknown("no tree".into()) });
        assert_eq!(r, Resolution::Undecided("no tree".into()));
    }
}
