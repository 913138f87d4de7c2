//! What the hand-run subcommands (`seed`, `mutate`, `verify`, `bench`) share: opening
//! the run's session for writing (like `setup`), reaching an existing run's S3 store
//! without starting anything, and parsing byte sizes given on the command line.
//!
//! It opens and reads; it never deletes anything and never stops a server.

use std::path::{Path, PathBuf};

use crate::config::{Config, S3Endpoint};
use crate::s3::S3Client;
use crate::session::{self, Session, SessionRecord};

use super::CommandError;

/// Sets up (or reuses) the run's fixture, S3 endpoint and prefix, and keeps an embedded
/// server it had to start running afterwards, as `setup` does (`teardown` stops it).
pub fn open_session(config: Config) -> Result<Session, CommandError> {
    let mut session =
        Session::open(config).map_err(|e| CommandError::harness("setting up the run", e))?;
    session.detach_server();
    Ok(session)
}

/// Every configured subvolume of the session's fixture, as (name, path), in config order.
pub fn subvolume_roots(session: &Session) -> Vec<(String, PathBuf)> {
    let fx = &session.fixture;
    fx.subvolume_names()
        .iter()
        .map(|name| {
            let path = fx
                .subvolume_path(name)
                .expect("a configured subvolume has a path");
            (name.clone(), path)
        })
        .collect()
}

/// An existing run: its session record and a client for its S3 store. Starts nothing:
/// with an embedded endpoint, the server recorded by `setup` must still be running
/// (its objects live in its memory).
pub struct ExistingRun {
    pub record: SessionRecord,
    pub client: S3Client,
}

/// Opens the run recorded in the config's run dir; a usage error when there is none.
pub fn existing_run(config: &Config) -> Result<ExistingRun, CommandError> {
    let record = session::read_record(&config.paths.run_dir)
        .map_err(|e| CommandError::harness("reading the session record", e))?
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "no run is set up in {}: nothing to verify (run `setup`, `seed` and `run -- backup` first)",
                config.paths.run_dir.display()
            ))
        })?;
    let url = match &config.s3.endpoint {
        S3Endpoint::Aws => None,
        S3Endpoint::Url(url) => Some(url.clone()),
        S3Endpoint::Embedded => Some(running_embedded_url(&config.paths.run_dir)?),
    };
    let client = S3Client::new(session::s3_options(config, url.as_deref()))
        .map_err(|e| CommandError::harness("building the S3 client", e))?;
    Ok(ExistingRun { record, client })
}

fn running_embedded_url(run_dir: &Path) -> Result<String, CommandError> {
    let record = crate::s3::server::read_record(run_dir)
        .map_err(|e| CommandError::harness("reading the embedded S3 server record", e))?;
    record
        .filter(|r| crate::s3::server::is_recorded_moto(r.pid, r.port))
        .map(|r| format!("http://127.0.0.1:{}", r.port))
        .ok_or_else(|| {
            CommandError::Harness(format!(
                "the embedded S3 server of the run in {} is not running, so the objects of this run \
                 (kept in its memory) are gone; start over with `teardown`, `setup`, `seed` and `run -- backup`",
                run_dir.display()
            ))
        })
}

/// The run's `tool/` directory, where `run` keeps the tool's config and state.
pub fn tool_dir(config: &Config) -> PathBuf {
    config.paths.run_dir.join("tool")
}

/// Parses a byte count: digits with an optional binary suffix `K`, `M`, `G` (or `KiB`,
/// `MiB`, `GiB`, case-insensitive), e.g. `8388608`, `8M`, `512KiB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {suffix:?} (use a number of bytes, or K, M, G)"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count such as 8388608, 8M or 512K"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_counts_take_plain_numbers_and_binary_suffixes() {
        assert_eq!(parse_bytes("8388608"), Ok(8 << 20));
        assert_eq!(parse_bytes("8M"), Ok(8 << 20));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert!(parse_bytes("8 MB").is_err());
        assert!(parse_bytes("M").is_err());
        assert!(parse_bytes("-1").is_err());
    }
}
