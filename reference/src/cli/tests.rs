//! Unit tests of the argparse-like parser.

use super::*;

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn error(text: &str) -> String {
    parse(&args(text)).unwrap_err().text
}

#[test]
fn no_arguments_means_help() {
    assert!(matches!(parse(&[]), Ok(Parsed::Help(h)) if h.starts_with("usage: btrfs_to_s3 [-h] {backup,restore} ...")));
}

#[test]
fn config_may_come_last_and_in_either_form() {
    for line in ["backup --once --config /c.toml", "backup --config=/c.toml --once", "backup --conf /c.toml --on"] {
        match parse(&args(line)).unwrap() {
            Parsed::Backup(common, b) => {
                assert_eq!(common.config, "/c.toml", "{line}");
                assert!(b.once && !b.dry_run, "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn backup_subvolume_repeats_and_restore_flags_parse() {
    match parse(&args("backup --subvolume a --subvolume=b --config /c")).unwrap() {
        Parsed::Backup(_, b) => assert_eq!(b.subvolumes, vec!["a", "b"]),
        other => panic!("{other:?}"),
    }
    let line = "restore --config /c --subvolume d --target /t --verify sample --no-wait-restore --restore-timeout 5";
    match parse(&args(line)).unwrap() {
        Parsed::Restore(_, r) => {
            assert_eq!((r.subvolume.as_str(), r.target.to_str().unwrap()), ("d", "/t"));
            assert_eq!((r.verify, r.wait_restore, r.restore_timeout), (Some(VerifyMode::Sample), Some(false), Some(5)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn usage_errors_read_like_argparse() {
    assert!(error("backup").ends_with("btrfs_to_s3 backup: error: the following arguments are required: --config\n"));
    assert!(error("restore --config /c").contains("required: --subvolume, --target"));
    assert!(error("backup --config /c --bogus").ends_with("btrfs_to_s3: error: unrecognized arguments: --bogus\n"));
    assert!(error("backup --config").contains("argument --config: expected one argument"));
    assert!(error("restore --config /c --subvolume d --target /t --verify most")
        .contains("argument --verify: invalid choice: 'most' (choose from 'full', 'sample', 'none')"));
    assert!(error("restore --config /c --subvolume d --target /t --restore-timeout x")
        .contains("argument --restore-timeout: invalid int value: 'x'"));
    assert!(error("backup --config /c --once=yes").contains("argument --once: ignored explicit argument 'yes'"));
    assert!(error("frobnicate").contains("argument command: invalid choice: 'frobnicate'"));
    assert!(error("--config /c backup").contains("invalid choice: '/c'"));
}

#[test]
fn subcommand_help_goes_to_stdout() {
    assert!(matches!(parse(&args("backup --help")), Ok(Parsed::Help(h)) if h.contains("--no-s3")));
    assert!(matches!(parse(&args("restore -h")), Ok(Parsed::Help(h)) if h.contains("--manifest-key")));
}
