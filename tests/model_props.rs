//! Pure-logic properties of the model and the plan format, as ordinary proptest tests.
//! Failing cases are persisted in `proptest-regressions/model_props.txt` (committed).

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use b2s3_harness::fixture::tree::EntryKind;
use b2s3_harness::gen::plan::{Content, Mutation, Pattern, Plan};
use b2s3_harness::gen::{generate, GenProfile};
use b2s3_harness::model::file::FileData;
use b2s3_harness::model::ModelTree;

/// `cases` cases, or `PROPTEST_CASES` when set.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model_props.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn pattern() -> BoxedStrategy<Pattern> {
    prop_oneof![
        any::<u64>().prop_map(|seed| Pattern::Random { seed }),
        Just(Pattern::Zeros),
        (any::<u64>(), 1u32..50).prop_map(|(seed, block)| Pattern::Repeat { seed, block }),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum FileOp {
    Write(u64, u64, Pattern),
    Truncate(u64),
    Punch(u64, u64),
}

fn file_op() -> impl Strategy<Value = FileOp> {
    prop_oneof![
        (0u64..3000, 0u64..600, pattern()).prop_map(|(o, l, p)| FileOp::Write(o, l, p)),
        (0u64..4000).prop_map(FileOp::Truncate),
        (0u64..3000, 1u64..600).prop_map(|(o, l)| FileOp::Punch(o, l)),
    ]
}

/// The same operation on a plain byte vector, the obviously right model of a file.
fn on_bytes(v: &mut Vec<u8>, op: &FileOp) {
    match *op {
        FileOp::Write(o, l, p) if l > 0 => {
            let (o, l) = (o as usize, l as usize);
            if v.len() < o + l {
                v.resize(o + l, 0);
            }
            let c = Content { len: l as u64, pattern: p };
            v[o..o + l].copy_from_slice(&b2s3_harness::gen::content::bytes(&c));
        }
        FileOp::Write(..) => {}
        FileOp::Truncate(n) => v.resize(n as usize, 0),
        FileOp::Punch(o, l) => {
            let end = ((o + l) as usize).min(v.len());
            for b in v.iter_mut().take(end).skip(o as usize) {
                *b = 0;
            }
        }
    }
}

const NAMES: &[&str] = &["a", "b", "c", "a/b", "a/c", "b/a", "a/b/c", "c/a"];

/// Any mutation over a tiny path alphabet, so that many are invalid at any moment.
fn raw_mutation() -> impl Strategy<Value = Mutation> {
    let path = proptest::sample::select(NAMES).prop_map(str::to_owned);
    let content =
        (0u64..200, pattern()).prop_map(|(len, pattern)| Content { len, pattern }).boxed();
    prop_oneof![
        (path.clone(), 0u32..0o10000).prop_map(|(path, mode)| Mutation::Mkdir { path, mode }),
        (path.clone(), content.clone()).prop_map(|(path, content)| Mutation::Write {
            path,
            content,
            mode: 0o644
        }),
        (path.clone(), 0u64..300, content.clone())
            .prop_map(|(path, offset, content)| Mutation::Overwrite { path, offset, content }),
        (path.clone(), 0u64..300).prop_map(|(path, len)| Mutation::Truncate { path, len }),
        path.clone().prop_map(|path| Mutation::Remove { path }),
        path.clone().prop_map(|path| Mutation::Rmdir { path }),
        (path.clone(), path.clone()).prop_map(|(from, to)| Mutation::Rename { from, to }),
        (path.clone(), 0u32..0o10000).prop_map(|(path, mode)| Mutation::Chmod { path, mode }),
        (path.clone(), 0u32..3, 0u32..3).prop_map(|(path, uid, gid)| Mutation::Chown {
            path,
            uid,
            gid
        }),
        (path.clone(), path.clone()).prop_map(|(path, target)| Mutation::Symlink { path, target }),
        (path.clone(), path.clone())
            .prop_map(|(existing, new)| Mutation::Hardlink { existing, new }),
        (path.clone(), "[ab]").prop_map(|(path, n)| Mutation::SetXattr {
            path,
            name: format!("user.{n}"),
            value: "ab".into()
        }),
        (path.clone(), any::<i32>()).prop_map(|(path, s)| Mutation::Touch {
            path,
            mtime_sec: i64::from(s),
            mtime_nsec: 5
        }),
        (path.clone(), path.clone()).prop_map(|(from, to)| Mutation::Reflink { from, to }),
        path.clone().prop_map(|path| Mutation::CreateSubvolume { path }),
        path.prop_map(|path| Mutation::DeleteSubvolume { path }),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn file_data_matches_a_byte_vector_under_any_writes_truncations_and_holes(
        ops in proptest::collection::vec(file_op(), 0..20)
    ) {
        let (mut model, mut bytes) = (FileData::default(), Vec::new());
        for op in &ops {
            match *op {
                FileOp::Write(o, l, p) => model.write(o, &Content { len: l, pattern: p }),
                FileOp::Truncate(n) => model.truncate(n),
                FileOp::Punch(o, l) => model.punch(o, l),
            }
            on_bytes(&mut bytes, op);
            prop_assert_eq!(model.len(), bytes.len() as u64);
        }
        prop_assert_eq!(model.bytes(), bytes.clone());
        use sha2::Digest;
        prop_assert_eq!(model.sha256(), hex::encode(sha2::Sha256::digest(&bytes)));
    }

    #[test]
    fn a_refused_operation_leaves_the_model_unchanged_and_links_always_agree(
        ops in proptest::collection::vec(raw_mutation(), 0..40)
    ) {
        let mut model = ModelTree::new();
        for op in &ops {
            let before = model.to_tree();
            if model.apply(op).is_err() {
                prop_assert_eq!(model.to_tree(), before, "refused {:?} changed the model", op);
            }
        }
        let tree = model.to_tree();
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (path, e) in &tree.entries {
            if let Some(g) = &e.link_group {
                groups.entry(g).or_default().push(path);
            }
        }
        for (group, paths) in groups {
            prop_assert!(paths.len() > 1);
            prop_assert_eq!(paths[0], group, "a group is named by its smallest path");
            let first = &tree.entries[group];
            for p in &paths {
                let mut e = tree.entries[*p].clone();
                e.link_group = first.link_group.clone();
                prop_assert_eq!(&e, first, "{} and {} share an inode", p, group);
            }
        }
    }

    #[test]
    fn renaming_to_a_free_name_and_back_restores_the_tree(
        ops in proptest::collection::vec(raw_mutation(), 0..30),
        from in proptest::sample::select(NAMES),
        to in proptest::sample::select(NAMES),
    ) {
        let mut model = ModelTree::new();
        for op in &ops {
            let _ = model.apply(op);
        }
        prop_assume!(!model.exists(to));
        let before = model.to_tree();
        let there = Mutation::Rename { from: from.into(), to: to.into() };
        if model.apply(&there).is_ok() {
            model.apply(&Mutation::Rename { from: to.into(), to: from.into() }).unwrap();
            prop_assert_eq!(model.to_tree(), before);
        }
    }

    #[test]
    fn the_backup_view_has_nothing_inside_a_nested_subvolume(
        ops in proptest::collection::vec(raw_mutation(), 0..40)
    ) {
        let mut model = ModelTree::new();
        for op in &ops {
            let _ = model.apply(op);
        }
        let roots: Vec<String> = model.entries().filter(|e| e.subvolume_root).map(|e| e.path.to_owned()).collect();
        let view = model.backup_view();
        for path in view.entries.keys() {
            prop_assert!(!roots.iter().any(|r| path == r || path.starts_with(&format!("{r}/"))), "{}", path);
        }
        let live_outside = model.to_tree().entries.keys()
            .filter(|p| !roots.iter().any(|r| *p == r || p.starts_with(&format!("{r}/"))))
            .count();
        prop_assert_eq!(view.entries.len(), live_outside);
        prop_assert!(view.entries.values().all(|e| e.kind != EntryKind::Other && !e.subvolume_root));
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn a_generated_plan_survives_a_json_round_trip(seed in any::<u64>(), case in 0u64..1000) {
        let plan = generate(seed, case, &GenProfile::pr());
        let pretty: Plan = serde_json::from_str(&serde_json::to_string_pretty(&plan).unwrap()).unwrap();
        let compact: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        prop_assert_eq!(&pretty, &plan);
        prop_assert_eq!(&compact, &plan);
    }
}
