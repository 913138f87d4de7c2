//! `b2s3-ref`: the reference implementation of the btrfs_to_s3 contract
//! (`shared/CONTRACT.md` of the project), the default target of the b2s3-harness tester. It backs
//! up btrfs subvolumes to S3 (snapshot -> `btrfs send [-p]` -> fixed-size chunks ->
//! manifest -> `current.json`) and restores them, with the CLI, log lines, exit codes and
//! S3 layout of the Python tool. `B2S3_REF_BUG=<name>` switches on one deliberate defect
//! (see `bugs` and `reference/README.md`). This file only wires the modules together: it
//! parses, loads the config, dispatches and turns outcomes into exit codes; it must not
//! contain backup or restore logic. It shares no code with the tester crate.
//!
//! Data flow of a backup: `cli` -> `config` -> `backup` (`lock`, `state`, `planner`,
//! `snapshots`, `btrfs`, `upload`, `manifest`, `s3`). Of a restore: `cli` -> `config` ->
//! `restore` (`chain`, `archive`, `apply`, `verify`).

mod apply;
mod archive;
mod backup;
mod btrfs;
mod bugs;
mod chain;
mod cli;
mod config;
mod lock;
mod logging;
mod manifest;
mod planner;
mod pyjson;
mod restore;
mod s3;
mod snapshots;
mod state;
mod timefmt;
mod upload;
mod verify;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    // A panic is a defect of the reference; like an uncaught Python exception it still
    // ends with exit 1 (after unwinding, so the lock guard is released).
    let code = std::panic::catch_unwind(|| run(&args)).unwrap_or_else(|_| {
        event!(Error, "internal_error", error = "b2s3-ref panicked; see the message above");
        1
    });
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Runs one invocation and returns its exit code (all guards are dropped by then).
fn run(args: &[String]) -> i32 {
    if let Err(message) = bugs::init_from_env() {
        eprintln!("b2s3-ref: {message}");
        return 2;
    }
    let parsed = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(usage) => {
            eprint!("{}", usage.text);
            return 2;
        }
    };
    let (common, command) = match parsed {
        cli::Parsed::Help(text) => {
            print!("{text}");
            return 0;
        }
        cli::Parsed::ListBugs => {
            bugs::names().for_each(|name| println!("{name}"));
            return 0;
        }
        cli::Parsed::Backup(common, b) => (common, Command::Backup(b)),
        cli::Parsed::Restore(common, r) => (common, Command::Restore(r)),
    };
    let cfg = match config::load(&common.config) {
        Ok(cfg) => cfg,
        Err(message) => {
            eprintln!("config error: {message}");
            return 2;
        }
    };
    let level = common.log_level.as_deref().and_then(logging::Level::parse).unwrap_or(cfg.log_level);
    logging::set_level(level);
    match command {
        Command::Backup(b) => backup::run(&cfg, &b),
        Command::Restore(r) => restore::run(&cfg, &r),
    }
}

enum Command {
    Backup(backup::BackupArgs),
    Restore(restore::RestoreArgs),
}
