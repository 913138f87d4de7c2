//! A harness session: what the subcommands share inside one run directory. It brings
//! up (or finds) the btrfs fixture and the S3 endpoint, and fixes the run's own S3
//! prefix `<test_prefix>/<run id>/`, recorded in `<run_dir>/session.json` so that later
//! commands (`run`, `verify`, `cleanup`) address the same objects until `teardown`.
//!
//! It owns the lifecycle glue only: the fixture, the S3 client and server, and the
//! config each do their own work. It never deletes S3 objects (see `s3::cleanup`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::{Config, RunId, S3Endpoint};
use crate::fixture::{self, Fixture, FixtureOptions, TeardownReport};
use crate::s3::client::{Endpoint, S3Client, S3Options};
use crate::s3::server::{self, EmbeddedServer, RecordedStop};

const SESSION_FILE: &str = "session.json";

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("btrfs fixture: {0}")]
    Fixture(#[from] fixture::FixtureError),
    #[error("embedded S3 server: {0}")]
    Server(#[from] server::ServerError),
    #[error("S3: {0}")]
    S3(#[from] crate::s3::client::S3Error),
    #[error("session record {path}: {message}")]
    Record { path: PathBuf, message: String },
}

/// `<run_dir>/session.json`: the run id and prefix every command of this run uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub run_id: String,
    pub prefix: String,
}

/// How the S3 side is reached for this session.
pub struct S3Side {
    pub client: S3Client,
    /// The URL the tool is pointed at (`AWS_ENDPOINT_URL_S3`); `None` on real AWS.
    pub endpoint_url: Option<String>,
    /// The embedded server, when this process started it and still owns it.
    pub server: Option<EmbeddedServer>,
}

impl S3Side {
    /// Starts or finds the S3 endpoint the config names and makes sure the bucket
    /// exists. An embedded server recorded in the run dir by an earlier `setup` is
    /// reused; otherwise one is started, owned by the returned value.
    pub fn open(config: &Config) -> Result<S3Side, SessionError> {
        let (endpoint_url, server) = match &config.s3.endpoint {
            S3Endpoint::Aws => (None, None),
            S3Endpoint::Url(url) => (Some(url.clone()), None),
            S3Endpoint::Embedded => {
                let run_dir = &config.paths.run_dir;
                match running_embedded(run_dir)? {
                    Some(url) => (Some(url), None),
                    None => {
                        let started = EmbeddedServer::start(run_dir, &venv_dir(config))?;
                        (Some(started.url()), Some(started))
                    }
                }
            }
        };
        let client = S3Client::new(s3_options(config, endpoint_url.as_deref()))?;
        if endpoint_url.is_some() {
            client.create_bucket()?;
        }
        Ok(S3Side { client, endpoint_url, server })
    }

    /// The environment the tool needs to reach this endpoint (credentials, region,
    /// `AWS_ENDPOINT_URL_S3`), optionally through another URL such as the fault proxy.
    pub fn tool_env(&self, via: Option<&str>) -> Vec<(String, String)> {
        match via {
            Some(url) => self.client.env_for_tool_via(url),
            None => self.client.env_for_tool(),
        }
    }
}

/// The client options for `config`, talking to `endpoint_url` when there is one.
pub fn s3_options(config: &Config, endpoint_url: Option<&str>) -> S3Options {
    S3Options {
        endpoint: match endpoint_url {
            Some(url) => Endpoint::Url(url.to_string()),
            None => Endpoint::Aws,
        },
        bucket: config.s3.bucket.clone(),
        region: config.s3.region.clone(),
        credentials: config
            .s3
            .credentials
            .as_ref()
            .map(|c| (c.access_key_id.clone(), c.secret_access_key.clone())),
    }
}

/// Where the moto venv lives: `B2S3_VENV` if set, else `<run_dir>/venv`
/// (the same rule as `scripts/setup-machine.sh`).
pub fn venv_dir(config: &Config) -> PathBuf {
    match std::env::var_os("B2S3_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => config.paths.run_dir.join("venv"),
    }
}

/// The URL of an embedded server recorded in `run_dir` that is still running.
fn running_embedded(run_dir: &Path) -> Result<Option<String>, SessionError> {
    Ok(server::read_record(run_dir)?
        .filter(|r| server::is_recorded_moto(r.pid, r.port))
        .map(|r| format!("http://127.0.0.1:{}", r.port)))
}

/// The fixture options the config describes.
pub fn fixture_options(config: &Config) -> FixtureOptions {
    FixtureOptions {
        run_dir: config.paths.run_dir.clone(),
        image_size_bytes: config.btrfs.image_size_bytes,
        restore_image_size_bytes: config.btrfs.restore_image_size_bytes,
        mount_options: config.btrfs.mount_options.clone(),
        subvolumes: config.btrfs.subvolumes.clone(),
    }
}

/// Everything a command needs: config, fixture, S3 and the run prefix.
pub struct Session {
    pub config: Config,
    pub fixture: Fixture,
    pub s3: S3Side,
    pub record: SessionRecord,
}

impl Session {
    /// Sets up (or reuses) the fixture and the S3 endpoint, and loads or creates the
    /// session record.
    pub fn open(config: Config) -> Result<Session, SessionError> {
        std::fs::create_dir_all(&config.paths.run_dir).map_err(|e| SessionError::Record {
            path: config.paths.run_dir.clone(),
            message: format!("cannot create the run dir: {e}"),
        })?;
        let fixture = Fixture::setup(&fixture_options(&config))?;
        let s3 = S3Side::open(&config)?;
        let record = load_or_create_record(&config)?;
        Ok(Session { config, fixture, s3, record })
    }

    /// The run's own prefix, `<test_prefix>/<run id>/`.
    pub fn prefix(&self) -> &str {
        &self.record.prefix
    }

    /// Keeps an embedded server this process started running after it exits (for
    /// `setup`); `teardown` stops it later.
    pub fn detach_server(&mut self) {
        if let Some(server) = self.s3.server.take() {
            server.detach();
        }
    }
}

/// Reads `<run_dir>/session.json`, if any.
pub fn read_record(run_dir: &Path) -> Result<Option<SessionRecord>, SessionError> {
    let path = run_dir.join(SESSION_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| SessionError::Record {
            path,
            message: format!("unreadable ({e}); delete it to start a new run prefix"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SessionError::Record { path, message: e.to_string() }),
    }
}

fn load_or_create_record(config: &Config) -> Result<SessionRecord, SessionError> {
    let run_dir = &config.paths.run_dir;
    if let Some(record) = read_record(run_dir)? {
        return Ok(record);
    }
    let run_id = RunId::generate();
    let record = SessionRecord {
        run_id: run_id.as_str().to_string(),
        prefix: config.run_prefix(&run_id),
    };
    write_record(run_dir, &record)?;
    Ok(record)
}

/// Writes `<run_dir>/session.json` (temp file and rename), e.g. to keep a run's prefix
/// addressable by `cleanup` after a teardown.
pub fn write_record(run_dir: &Path, record: &SessionRecord) -> Result<(), SessionError> {
    let path = run_dir.join(SESSION_FILE);
    let tmp = run_dir.join(format!("{SESSION_FILE}.tmp"));
    let text = serde_json::to_string_pretty(record).expect("session record serialises");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| SessionError::Record { path, message: e.to_string() })
}

/// What `teardown` undid.
pub struct TeardownSummary {
    pub server: RecordedStop,
    pub fixture: TeardownReport,
}

/// Stops a recorded embedded server, tears the fixture down and forgets the session
/// record. Needs only the run dir, so it works after the harness was killed.
/// S3 objects are kept: deleting them is `cleanup --yes`.
pub fn teardown(run_dir: &Path) -> Result<TeardownSummary, SessionError> {
    let server = server::stop_recorded(run_dir)?;
    let fixture = fixture::teardown(run_dir)?;
    if fixture.is_clean() {
        let _ = std::fs::remove_file(run_dir.join(SESSION_FILE));
    }
    Ok(TeardownSummary { server, fixture })
}
