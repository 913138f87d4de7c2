//! `run [--dry-run] -- <tool args>`: one tool invocation through the runner, against
//! the run's fixture (the configured subvolumes on the source filesystem) and S3 prefix.
//! With `--dry-run` it prints the exact command and environment and runs nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::exit;
use crate::fixture::record::Role;
use crate::fixture::setup::SNAPSHOTS_DIR;
use crate::session::{self, Session};
use crate::tool::command::{Invocation, InvocationBuilder, ToolArgs};
use crate::tool::runner::{self, RunSpec};
use crate::tool::toolconfig::ToolConfigSpec;

use super::{load_config, CommandError};

/// How long `run` lets the tool take before killing it.
const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

/// The tool config of the run's shared fixture: its subvolumes and snapshots dir, and
/// state, lock and spool under `<run_dir>/tool/`.
pub fn run_tool_spec(config: &Config, prefix: &str) -> ToolConfigSpec {
    let run_dir = &config.paths.run_dir;
    let source = Role::Source.mount_point(run_dir);
    let tool_dir = run_dir.join("tool");
    ToolConfigSpec {
        subvolume_paths: config.btrfs.subvolumes.iter().map(|n| source.join(n)).collect(),
        snapshots_dir: source.join(SNAPSHOTS_DIR),
        state_path: tool_dir.join("state.json"),
        lock_path: tool_dir.join("btrfs_to_s3.lock"),
        spool_dir: tool_dir.join("spool"),
        restore_target_base_dir: Role::Restore.mount_point(run_dir),
        log_level: "info".to_string(),
        bucket: config.s3.bucket.clone(),
        region: config.s3.region.clone(),
        prefix: prefix.trim_end_matches('/').to_string(),
        restore_tier: config.restore.restore_tier.clone(),
        settings: config.default_tool_settings(),
    }
}

fn tool_config_path(config: &Config) -> PathBuf {
    config.paths.run_dir.join("tool").join("config.toml")
}

fn write_tool_config(spec: &ToolConfigSpec, path: &Path) -> Result<(), CommandError> {
    std::fs::create_dir_all(path.parent().expect("tool config path has a parent"))
        .map_err(|e| CommandError::harness("creating the tool dir", e))?;
    spec.write(path).map_err(|e| CommandError::harness("writing the tool config", e))
}

fn invocation(config: &Config, args: &[String], env: Vec<(String, String)>) -> Invocation {
    InvocationBuilder::new(&config.tool, &tool_config_path(config))
        .args(&ToolArgs::Raw(args.to_vec()))
        .s3_env(env.into_iter().collect::<BTreeMap<_, _>>())
        .build()
}

/// `run --dry-run`: writes the tool config and prints the command line and the
/// environment; sets nothing up and runs nothing.
pub fn dry_run(config_path: &Path, args: &[String]) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let prefix = match session::read_record(&config.paths.run_dir) {
        Ok(Some(record)) => record.prefix,
        _ => format!("{}/<run id, fixed at setup>/", config.s3.test_prefix),
    };
    let spec = run_tool_spec(&config, &prefix);
    write_tool_config(&spec, &tool_config_path(&config))?;
    let endpoint = match &config.s3.endpoint {
        crate::config::S3Endpoint::Aws => None,
        crate::config::S3Endpoint::Url(url) => Some(url.clone()),
        crate::config::S3Endpoint::Embedded => Some(
            embedded_url(&config).unwrap_or_else(|| "http://127.0.0.1:<port chosen at start>".into()),
        ),
    };
    let client = crate::s3::S3Client::new(session::s3_options(&config, endpoint.as_deref()))
        .map_err(|e| CommandError::harness("building the S3 client", e))?;
    let inv = invocation(&config, args, client.env_for_tool());
    println!("# dry run: nothing was set up or run");
    println!("# tool config written to {}", tool_config_path(&config).display());
    println!("{}", inv.render());
    Ok(exit::OK)
}

fn embedded_url(config: &Config) -> Option<String> {
    crate::s3::server::read_record(&config.paths.run_dir)
        .ok()
        .flatten()
        .filter(|r| crate::s3::server::is_recorded_moto(r.pid, r.port))
        .map(|r| format!("http://127.0.0.1:{}", r.port))
}

/// `run`: sets up (or reuses) the run, runs the tool once and reports its exit status
/// and events. The harness exits with the tool's own exit code.
pub fn run(config_path: &Path, args: &[String]) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let session = Session::open(config).map_err(|e| CommandError::harness("setting up the run", e))?;
    let config = &session.config;
    let spec = run_tool_spec(config, session.prefix());
    write_tool_config(&spec, &tool_config_path(config))?;
    let inv = invocation(config, args, session.s3.tool_env(None));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let name = args.first().map(String::as_str).unwrap_or("tool");
    std::fs::create_dir_all(&config.paths.logs_dir)
        .map_err(|e| CommandError::harness("creating the logs dir", e))?;
    let log = |ext: &str| config.paths.logs_dir.join(format!("run-{stamp}-{name}.{ext}"));
    let spec = RunSpec::new(inv, &log("stdout.log"), &log("stderr.log"), RUN_TIMEOUT);
    let outcome = runner::run(spec).map_err(|e| CommandError::harness("running the tool", e))?;
    for event in &outcome.events {
        let fields: Vec<String> = event.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("{:>8.3}s {:<5} {} {}", event.at.as_secs_f64(), event.level, event.name, fields.join(" "));
    }
    println!(
        "exit code {:?}, signal {:?}, {:.3}s; logs: {} {}",
        outcome.exit_code,
        outcome.signal,
        outcome.duration.as_secs_f64(),
        outcome.stdout_log.display(),
        outcome.stderr_log.display()
    );
    if crate::tool::signals::interrupted() {
        return Err(CommandError::Interrupted);
    }
    Ok(outcome.exit_code.unwrap_or(exit::HARNESS_ERROR))
}
