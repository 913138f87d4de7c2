//! The `b2s3-harness` binary: parses the command line and calls the library. Exit codes
//! are documented in `b2s3_harness::exit` and the README.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use b2s3_harness::commands::context::parse_bytes;
use b2s3_harness::commands::verify::manifest::SchemaLevel;
use b2s3_harness::commands::verify::restore::{CompareMode, RestoreCheck};
use b2s3_harness::commands::{self, envfile, ownership, CommandError};
use b2s3_harness::exit;

/// Property-based and fault-injection tester for btrfs_to_s3.
#[derive(Debug, Parser)]
#[command(name = "b2s3-harness", version, about)]
struct Cli {
    /// Harness config file (default: config/test.toml; env B2S3_CONFIG).
    #[arg(long, global = true, env = "B2S3_CONFIG", default_value = "config/test.toml")]
    config: PathBuf,
    /// Environment variables to load first: KEY=value lines, no shell expansion
    /// (default: test.env next to the config file, if it exists; env B2S3_ENV_FILE).
    #[arg(long, global = true, env = "B2S3_ENV_FILE")]
    env_file: Option<PathBuf>,
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
        #[command(flatten)]
        generated: Generated,
        /// The case's time limit, seconds.
        #[arg(long)]
        time_limit: Option<u64>,
    },
    /// Run a campaign: a profile's generated cases, shrinking and filing failures (exit 0 clean, 1 findings, 3 harness error, 130 interrupted).
    Fuzz {
        /// Campaign profile: pr, nightly, or a [profile.<name>] table.
        #[arg(long, default_value = "pr")]
        profile: String,
        /// Campaign seed (default: random, printed first).
        #[arg(long)]
        seed: Option<u64>,
        /// Cases of the whole run (overrides the profile's `cases`).
        #[arg(long)]
        cases: Option<u64>,
        /// No new case starts after this: seconds, or 15m, 2h.
        #[arg(long, value_parser = commands::fuzz::parse_duration)]
        time_budget: Option<std::time::Duration>,
        /// Cases run in parallel.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
        workers: Option<u64>,
        /// Run slice K of N of the case space (case i with i % N == K-1).
        #[arg(long)]
        shard: Option<b2s3_harness::campaign::Shard>,
        /// Regressions file to replay first and append failures to.
        #[arg(long, conflicts_with = "no_regressions")]
        regressions: Option<PathBuf>,
        /// Neither replay nor append to the regressions file.
        #[arg(long)]
        no_regressions: bool,
    },
    /// Score the tester: a profile against the correct tool and each bug variant (exit 0 no false alarm and all found, 1 otherwise).
    Selfcheck {
        /// Campaign profile: pr, nightly, or a [profile.<name>] table.
        #[arg(long, default_value = "pr")]
        profile: String,
        /// Bug variants to hunt (default: the tool's `--list-bugs`).
        #[arg(long, value_delimiter = ',')]
        variants: Option<Vec<String>>,
        /// Campaign seeds, case i runs seed i % n (default: the fixed list 1,2,3).
        #[arg(long, value_delimiter = ',')]
        seeds: Option<Vec<u64>>,
        /// Cases per tool (overrides the profile's `cases`).
        #[arg(long)]
        cases: Option<u64>,
        /// No new case starts after this, per tool: seconds, or 15m, 2h.
        #[arg(long, value_parser = commands::fuzz::parse_duration)]
        time_budget: Option<std::time::Duration>,
        /// Cases run in parallel.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
        workers: Option<u64>,
        /// Shrink time budget per finding (overrides the profile's): seconds, or 2m.
        #[arg(long, value_parser = commands::fuzz::parse_duration)]
        shrink_time: Option<std::time::Duration>,
        /// Do not run the correct tool (then the self-check cannot pass: exit 1).
        #[arg(long)]
        skip_correct: bool,
    },
    /// Re-run a bug folder's shrunk plan (exit 1 if its finding reproduces, 0 if not), or a generated case.
    Replay {
        /// A bug folder (`<run_dir>/bugs/<seed>-<case>-<property>`).
        #[arg(conflicts_with_all = ["seed", "case"], required_unless_present = "seed")]
        bug_dir: Option<PathBuf>,
        #[command(flatten)]
        generated: Generated,
    },
    /// Print the plan of a generated case (JSON, or text with --render); runs nothing.
    Plan {
        #[arg(long)]
        seed: u64,
        #[arg(long, default_value_t = 0)]
        case: u64,
        #[arg(long, default_value = "pr")]
        profile: String,
        /// The text form (`gen::render`) instead of JSON.
        #[arg(long)]
        render: bool,
    },
    /// Delete every object under the run's S3 prefix (needs --yes).
    Cleanup {
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
    /// Write the fixed, deterministic seed layout into every (empty) subvolume.
    Seed {
        /// Content bytes per subvolume (a number, or with K, M, G).
        #[arg(long, value_parser = parse_bytes, default_value = "8M")]
        size: u64,
    },
    /// Apply the fixed, deterministic set of changes to every seeded subvolume.
    Mutate {
        /// New or changed content bytes per subvolume (a number, or with K, M, G).
        #[arg(long, value_parser = parse_bytes, default_value = "1M")]
        size: u64,
    },
    /// Check the run's store, snapshots or a restored tree; exit 0 clean, 1 findings.
    Verify {
        #[command(subcommand)]
        what: Verify,
    },
    /// Run a fixed scenario of the requirements through the case engine (`list` names them).
    Scenario {
        /// A scenario name, `all` (setup, every scenario, teardown, a table) or `list`.
        name: String,
        /// With `all`: also run the large scenarios (multi-chunk-large).
        #[arg(long)]
        include_large: bool,
        /// Keep the scenario's case area and S3 objects for inspection (one scenario only).
        #[arg(long)]
        keep: bool,
        /// Each scenario's time limit, seconds.
        #[arg(long)]
        time_limit: Option<u64>,
    },
    /// Write benchmark.json from the backup/restore metrics in the run's logs.
    Bench {
        /// Where to write it (default: <run_dir>/benchmark.json).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// A generated case (`--seed` with `--case`), shared by `case` and `replay`.
#[derive(Debug, clap::Args)]
struct Generated {
    /// Campaign seed of a generated plan (with --case).
    #[arg(long, requires = "case")]
    seed: Option<u64>,
    /// Case number of a generated plan (with --seed).
    #[arg(long, requires = "seed")]
    case: Option<u64>,
    /// Generator profile the case was generated with: pr, nightly, or a [profile.<name>] table.
    #[arg(long, default_value = "pr")]
    profile: String,
    /// Keep the case area and its S3 objects for inspection.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Subcommand)]
enum Verify {
    /// Every manifest and current.json under the run's prefix against config/schemas/.
    Manifest {
        /// min: required keys only; full: the exact contract.
        #[arg(long, value_enum, default_value_t = SchemaLevel::Full)]
        schema: SchemaLevel,
    },
    /// Layout, storage classes, SSE, chunks, chains, and a current.json per subvolume.
    S3 {
        /// Subvolumes that must have a backup (repeatable; default: all configured).
        #[arg(long = "subvolume")]
        subvolumes: Vec<String>,
    },
    /// Snapshot retention and the state's last_snapshot, per subvolume.
    Retention {
        /// Subvolumes to check (repeatable; default: all configured).
        #[arg(long = "subvolume")]
        subvolumes: Vec<String>,
    },
    /// Compare a restored tree with its source snapshot (content and metadata).
    Restore {
        /// The restored subvolume (or, with --subvolume all, the dir holding one per name).
        #[arg(long)]
        target: PathBuf,
        /// full: hash every file; sample: hash a deterministic sample.
        #[arg(long, value_enum, default_value_t = CompareMode::Full)]
        mode: CompareMode,
        /// A configured subvolume, or all.
        #[arg(long, default_value = "all")]
        subvolume: String,
        /// The snapshot to compare with (default: from the newest manifest or the state).
        #[arg(long)]
        source: Option<PathBuf>,
        /// At most this many files hashed in sample mode (default: restore.sample_max_files).
        #[arg(long)]
        sample_max: Option<usize>,
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
        Command::Fuzz { profile, seed, cases, time_budget, workers, shard, regressions, no_regressions } => {
            let workers = workers.map(|w| w as usize);
            let args = commands::fuzz::FuzzArgs { profile, seed, cases, time_budget, workers, shard, regressions, no_regressions };
            commands::fuzz::fuzz(&config, &args)
        }
        Command::Selfcheck { profile, variants, seeds, cases, time_budget, workers, shrink_time, skip_correct } => {
            let workers = workers.map(|w| w as usize);
            let args = commands::selfcheck::SelfcheckArgs { profile, variants, seeds, cases, time_budget, workers, shrink_time, skip_correct };
            commands::selfcheck::selfcheck(&config, &args)
        }
        Command::Replay { bug_dir, generated: Generated { seed, case, profile, keep } } => {
            commands::replay::replay(&config, &commands::replay::ReplayArgs { bug_dir, seed, case, profile, keep })
        }
        Command::Plan { seed, case, profile, render } => commands::plan::plan(&config, seed, case, &profile, render),
        Command::Case { plan, generated: Generated { seed, case, profile, keep }, time_limit } => {
            let args = commands::case::CaseArgs { plan, seed, case, profile, keep, time_limit_secs: time_limit };
            commands::case::case(&config, &args)
        }
        Command::Seed { size } => commands::seed::seed(&config, size),
        Command::Mutate { size } => commands::mutate::mutate(&config, size),
        Command::Verify { what } => verify(&config, what),
        Command::Bench { output } => commands::bench::bench(&config, output.as_deref()),
        Command::Scenario { name, include_large, keep, time_limit } => {
            let args = commands::scenario::ScenarioArgs { name, include_large, keep, time_limit_secs: time_limit };
            commands::scenario::scenario(&config, &args)
        }
    }
}

fn verify(config: &std::path::Path, what: Verify) -> Result<i32, CommandError> {
    use commands::verify as v;
    match what {
        Verify::Manifest { schema } => v::manifest::verify_manifest(config, schema),
        Verify::S3 { subvolumes } => v::s3::verify_s3(config, &subvolumes),
        Verify::Retention { subvolumes } => v::retention::verify_retention(config, &subvolumes),
        Verify::Restore {
            target,
            mode,
            subvolume,
            source,
            sample_max,
        } => {
            let check = RestoreCheck {
                target,
                mode,
                subvolume,
                source,
                sample_max,
            };
            v::restore::verify_restore(config, &check)
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
    if let Err(e) = envfile::load_into_process(cli.env_file.as_deref(), &cli.config) {
        eprintln!("b2s3-harness: {e}");
        std::process::exit(exit::USAGE);
    }
    if let Err(e) = b2s3_harness::tool::signals::install() {
        eprintln!("b2s3-harness: cannot install signal handlers: {e}");
        std::process::exit(exit::HARNESS_ERROR);
    }
    let config_path = cli.config.clone();
    let code = dispatch(cli).unwrap_or_else(|e| {
        eprintln!("b2s3-harness: {e}");
        e.exit_code()
    });
    ownership::hand_back_after_command(&config_path);
    std::process::exit(code);
}
