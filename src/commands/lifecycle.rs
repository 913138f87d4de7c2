//! `setup`, `teardown` and `cleanup`: bringing a run's fixture and S3 endpoint up,
//! tearing them down, and deleting the run's own S3 objects (only with `--yes`).

use std::path::Path;

use crate::exit;
use crate::s3::server::RecordedStop;
use crate::session::{self, S3Side, Session};

use super::{load_config, CommandError};

/// `setup`: mounts the fixture, starts the embedded S3 server (left running for later
/// commands), creates the bucket and fixes the run prefix.
pub fn setup(config_path: &Path) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let mut session =
        Session::open(config).map_err(|e| CommandError::harness("setting up the run", e))?;
    session.detach_server();
    let fx = &session.fixture;
    println!("run dir:        {}", fx.run_dir().display());
    println!("source fs:      {} on {}", fx.source_mount().display(), fx.source().device);
    println!("restore fs:     {} on {}", fx.restore_mount().display(), fx.restore().device);
    for path in fx.subvolume_paths() {
        println!("subvolume:      {}", path.display());
    }
    println!("snapshots:      {}", fx.snapshots_dir().display());
    match &session.s3.endpoint_url {
        Some(url) => println!("S3 endpoint:    {url}"),
        None => println!("S3 endpoint:    AWS (standard credential chain)"),
    }
    println!("S3 run prefix:  s3://{}/{}", session.config.s3.bucket, session.prefix());
    println!("undo with:      b2s3-harness teardown --config {}", config_path.display());
    Ok(exit::OK)
}

/// `teardown`: stops a recorded embedded server and undoes exactly what the fixture
/// record lists. Idempotent; works after the harness was killed.
pub fn teardown(config_path: &Path) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let summary = session::teardown(&config.paths.run_dir)
        .map_err(|e| CommandError::harness("tearing down", e))?;
    match summary.server {
        RecordedStop::Stopped { pid } => println!("stopped the embedded S3 server (pid {pid})"),
        other => println!("embedded S3 server: {other:?}"),
    }
    let report = summary.fixture;
    println!("fixture: {report:?}");
    if report.is_clean() {
        Ok(exit::OK)
    } else {
        eprintln!("teardown left something it could not undo (see above); fix it and run teardown again");
        Ok(exit::HARNESS_ERROR)
    }
}

/// `cleanup`: deletes every object and aborts every multipart upload under the run's
/// own prefix. Refuses without `yes`.
pub fn cleanup(config_path: &Path, yes: bool) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let record = session::read_record(&config.paths.run_dir)
        .map_err(|e| CommandError::harness("reading the session record", e))?
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "no run prefix is recorded in {}: nothing of this run to clean up (run `setup` first)",
                config.paths.run_dir.display()
            ))
        })?;
    if !yes {
        return Err(CommandError::Usage(format!(
            "cleanup deletes every object under s3://{}/{}; add --yes to confirm",
            config.s3.bucket, record.prefix
        )));
    }
    let s3 = S3Side::open(&config).map_err(|e| CommandError::harness("opening S3", e))?;
    let report = s3
        .client
        .cleanup_prefix(&record.prefix, true)
        .map_err(|e| CommandError::harness("cleaning up the run prefix", e))?;
    println!(
        "deleted {} objects and aborted {} multipart uploads under s3://{}/{}",
        report.objects_deleted, report.uploads_aborted, config.s3.bucket, report.prefix
    );
    Ok(exit::OK)
}
