//! The `b2s3-harness` binary: parses the command line and calls the library. Exit codes
//! are documented in `b2s3_harness::exit` and the README.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use b2s3_harness::commands::{self, CommandError};
use b2s3_harness::exit;

/// Property-based and fault-injection tester for btrfs_to_s3.
#[derive(Debug, Parser)]
#[command(name = "b2s3-harness", version, about)]
struct Cli {
    /// Harness config file (default: config/test.toml; env B2S3_CONFIG).
    #[arg(long, global = true, env = "B2S3_CONFIG", default_value = "config/test.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check this machine and the config: root, btrfs-progs, loop devices, python3, the tool, S3.
    Doctor,
    /// Mount the btrfs fixture, start the embedded S3 server, fix the run's S3 prefix.
    Setup,
    /// Undo exactly what setup recorded (also after the harness was killed).
    Teardown,
    /// Run the tool once against the fixture and the run's S3 prefix.
    Run {
        /// Print the exact command and environment; run nothing.
        #[arg(long)]
        dry_run: bool,
        /// The tool's arguments, e.g. `-- backup --once`.
        #[arg(last = true, required = true)]
        args: Vec<String>,
    },
    /// Run one case (a plan file, or a generated plan) through the engine and judge it.
    Case {
        /// A plan file (JSON).
        #[arg(long, conflicts_with_all = ["seed", "case"])]
        plan: Option<PathBuf>,
        /// Campaign seed of a generated plan (with --case).
        #[arg(long, requires = "case")]
        seed: Option<u64>,
        /// Case number of a generated plan (with --seed).
        #[arg(long, requires = "seed")]
        case: Option<u64>,
        /// Generator profile: pr, nightly, or a [profile.<name>.gen] table.
        #[arg(long, default_value = "pr")]
        profile: String,
        /// Keep the case area and its S3 objects for inspection.
        #[arg(long)]
        keep: bool,
        /// The case's time limit, seconds.
        #[arg(long)]
        time_limit: Option<u64>,
    },
    /// Delete every object under the run's S3 prefix (needs --yes).
    Cleanup {
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

fn dispatch(cli: Cli) -> Result<i32, CommandError> {
    let config = cli.config;
    match cli.command {
        Command::Doctor => commands::doctor::doctor(&config),
        Command::Setup => commands::lifecycle::setup(&config),
        Command::Teardown => commands::lifecycle::teardown(&config),
        Command::Run { dry_run: true, args } => commands::run::dry_run(&config, &args),
        Command::Run { dry_run: false, args } => commands::run::run(&config, &args),
        Command::Cleanup { yes } => commands::lifecycle::cleanup(&config, yes),
        Command::Case { plan, seed, case, profile, keep, time_limit } => {
            let args = commands::case::CaseArgs { plan, seed, case, profile, keep, time_limit_secs: time_limit };
            commands::case::case(&config, &args)
        }
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(e) = b2s3_harness::tool::signals::install() {
        eprintln!("b2s3-harness: cannot install signal handlers: {e}");
        std::process::exit(exit::HARNESS_ERROR);
    }
    let code = dispatch(cli).unwrap_or_else(|e| {
        eprintln!("b2s3-harness: {e}");
        e.exit_code()
    });
    std::process::exit(code);
}
