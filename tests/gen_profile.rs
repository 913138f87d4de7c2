//! Generator profiles: built-in values, loading from `[profile.<name>.gen]` tables, and
//! errors that name the key.

use b2s3_harness::gen::plan::Step;
use b2s3_harness::gen::{generate, GenProfile, ProfileError};

/// The `gen` table of `[profile.<name>.gen]` in a profiles file.
fn gen_table(text: &str, name: &str) -> toml::Table {
    let doc: toml::Table = text.parse().unwrap();
    doc["profile"][name]["gen"].as_table().unwrap().clone()
}

fn error(text: &str) -> String {
    let e = GenProfile::from_table(&gen_table(text, "x")).unwrap_err();
    e.to_string()
}

#[test]
fn an_empty_table_gives_the_pr_profile() {
    assert_eq!(GenProfile::from_table(&toml::Table::new()).unwrap(), GenProfile::pr());
    assert_eq!(GenProfile::default(), GenProfile::pr());
}

#[test]
fn keys_present_replace_the_base_and_sub_tables_merge_key_by_key() {
    let t = gen_table(
        "[profile.big.gen]\nsteps_max = 12\nmax_file_size = 1048576\n[profile.big.gen.sizes]\nnear_put = 0\n",
        "big",
    );
    let p = GenProfile::from_table(&t).unwrap();
    assert_eq!((p.steps_max, p.max_file_size, p.sizes.near_put), (12, 1 << 20, 0));
    assert_eq!(p.sizes.tiny, GenProfile::pr().sizes.tiny);
    let over_nightly = GenProfile::from_table_over(&GenProfile::nightly(), &t).unwrap();
    assert_eq!(over_nightly.subvolumes_max, GenProfile::nightly().subvolumes_max);
    assert_eq!(over_nightly.steps_max, 12);
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let msg = error("[profile.x.gen]\nstep_max = 3\n");
    assert!(msg.contains("key `step_max`"), "{msg}");
    let msg = error("[profile.x.gen.mutations]\nrename = 3\n");
    assert!(msg.contains("key `mutations.rename`"), "{msg}");
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_naming_the_key() {
    let msg = error("[profile.x.gen]\nfault_rate = \"often\"\n");
    assert!(msg.contains("key `fault_rate`"), "{msg}");
    let msg = error("[profile.x.gen.faults]\ncontender = -1\n");
    assert!(msg.contains("key `faults.contender`"), "{msg}");
}

#[test]
fn an_out_of_range_value_is_an_error_naming_the_key() {
    for (text, key) in [
        ("fault_rate = 1.5", "fault_rate"),
        ("steps_min = 9\nsteps_max = 4", "steps_min"),
        ("subvolumes_max = 4", "subvolumes_max"),
        ("chunk_size_min = 0", "chunk_size_min"),
    ] {
        match GenProfile::from_table(&gen_table(&format!("[profile.x.gen]\n{text}\n"), "x")) {
            Err(ProfileError::Invalid { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{text}: {other:?}"),
        }
    }
    let zero = "[profile.x.gen.verify]\nfull = 0\nsample = 0\nnone = 0\n";
    assert!(error(zero).contains("verify"), "{}", error(zero));
}

#[test]
fn the_nightly_profile_is_larger_than_the_pr_profile() {
    let (pr, nightly) = (GenProfile::pr(), GenProfile::nightly());
    assert!(nightly.steps_max > pr.steps_max && nightly.max_file_size > pr.max_file_size);
    assert!(nightly.validate().is_ok() && pr.validate().is_ok());
    let steps = |p: &GenProfile| (0..30).map(|s| generate(s, 0, p).steps.len()).sum::<usize>();
    assert!(steps(&nightly) > steps(&pr));
}

#[test]
fn zero_weights_are_never_generated() {
    let mut p = GenProfile::pr();
    p.steps.restore = 0;
    p.final_restore_rate = 0.0;
    p.fault_rate = 1.0;
    // A recovery backup (fault-free by design) follows a faulted one only when drawn.
    p.backup_retry_rate = 0.0;
    // The chunk-size pattern's backups never carry a fault (they must publish).
    p.steps.chunk_size_from_last_full = 0;
    for seed in 0..50 {
        let plan = generate(seed, 0, &p);
        assert!(!plan.steps.iter().any(|s| matches!(s, Step::Restore(_))), "seed {seed}");
        // The leading full backup (step 0) never carries a fault.
        for s in plan.steps.iter().skip(1) {
            if let Step::Backup(b) = s {
                assert!(b.mode != b2s3_harness::gen::plan::BackupMode::Normal || b.fault.is_some());
            }
        }
    }
}
