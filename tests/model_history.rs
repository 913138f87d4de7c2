//! Expected trees per published backup, and outcomes resolved by observation.

use b2s3_harness::fixture::tree::Tree;
use b2s3_harness::gen::plan::{Content, Mutation, Pattern};
use b2s3_harness::model::history::{History, HistoryError, Pending};
use b2s3_harness::model::ModelTree;

/// A model tree after writing `n` one-byte files.
fn tree(n: usize) -> Tree {
    let mut m = ModelTree::new();
    for i in 0..n {
        let content = Content { len: 1, pattern: Pattern::Random { seed: i as u64 } };
        m.apply(&Mutation::Write { path: format!("f{i}"), content, mode: 0o644 }).unwrap();
    }
    m.backup_view()
}

fn published(h: &mut History, step: usize, key: &str, files: usize) {
    h.attempt("data", step, tree(files)).unwrap();
    h.published("data", key).unwrap();
}

#[test]
fn a_killed_backup_has_two_candidate_restores_until_current_json_is_seen() {
    let mut h = History::new();
    published(&mut h, 0, "p/subvol/data/full/manifest-1.json", 1);
    h.attempt("data", 3, tree(2)).unwrap();
    let current = h.current("data");
    assert_eq!(current.candidates().len(), 2);
    assert!(!current.is_resolved());
    h.observe_pointer("data", Some("p/subvol/data/incremental/manifest-2.json")).unwrap();
    let current = h.current("data");
    let e = current.value().unwrap().as_ref().unwrap();
    assert_eq!(e.manifest_key.as_deref(), Some("p/subvol/data/incremental/manifest-2.json"));
    assert_eq!((e.step, e.tree.file_count()), (3, 2));
}

#[test]
fn an_unchanged_pointer_means_the_attempt_did_not_publish() {
    let mut h = History::new();
    published(&mut h, 0, "m1", 1);
    h.attempt("data", 2, tree(5)).unwrap();
    h.observe_pointer("data", Some("m1")).unwrap();
    let current = h.current("data");
    assert_eq!(current.value().unwrap().as_ref().unwrap().tree.file_count(), 1);
    assert_eq!(h.published_of("data").len(), 1);
}

#[test]
fn a_pointer_back_to_an_older_manifest_is_refused_and_changes_nothing() {
    let mut h = History::new();
    published(&mut h, 0, "m1", 1);
    published(&mut h, 1, "m2", 2);
    h.attempt("data", 2, tree(3)).unwrap();
    let before = h.clone();
    let err = h.observe_pointer("data", Some("m1")).unwrap_err();
    assert!(matches!(err, HistoryError::UnexpectedPointer { .. }), "{err}");
    assert_eq!(h, before);
    assert!(h.observe_pointer("data", None).is_err(), "a pointer cannot disappear");
}

#[test]
fn a_pointer_without_any_attempt_must_stay_where_it_was() {
    let mut h = History::new();
    assert!(h.observe_pointer("data", None).is_ok());
    assert!(h.observe_pointer("data", Some("m9")).is_err());
    assert_eq!(h.current("data").value(), Some(&None));
}

#[test]
fn a_second_attempt_before_the_first_is_resolved_is_refused() {
    let mut h = History::new();
    h.attempt("data", 0, tree(1)).unwrap();
    assert!(matches!(h.attempt("data", 1, tree(1)), Err(HistoryError::Unresolved { step: 0, .. })));
    h.not_published("data");
    assert!(h.attempt("data", 1, tree(1)).is_ok());
}

#[test]
fn manifests_back_are_counted_from_the_latest_and_clamped_to_the_oldest() {
    let mut h = History::new();
    for (i, key) in ["m1", "m2", "m3"].iter().enumerate() {
        published(&mut h, i, key, i + 1);
    }
    let key = |back| h.manifest_back("data", back).unwrap().manifest_key.clone().unwrap();
    assert_eq!(
        (key(0), key(1), key(2), key(9)),
        ("m3".into(), "m2".into(), "m1".into(), "m1".into())
    );
    assert_eq!(h.by_key("data", "m2").unwrap().tree.file_count(), 2);
    assert!(h.manifest_back("other", 0).is_none());
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Winner {
    First,
    Second,
}

#[test]
fn a_pending_outcome_accepts_any_candidate_and_refuses_anything_else() {
    let mut p = Pending::one_of(vec![Winner::First, Winner::Second]);
    assert!(p.accepts(&Winner::First) && p.accepts(&Winner::Second) && p.value().is_none());
    p.resolve(&Winner::Second).unwrap();
    assert_eq!(p.value(), Some(&Winner::Second));
    assert!(p.resolve(&Winner::First).is_err());
    assert_eq!(p.value(), Some(&Winner::Second), "a refused observation keeps the candidates");
}
