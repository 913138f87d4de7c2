//! `[s3]`: which S3 server and bucket the tool and the harness use.
//!
//! Keys: `endpoint` (`"embedded"` = start a local moto server; an `http://` or `https://`
//! URL = use that server; absent = real AWS with the standard credential chain),
//! `bucket` (required, S3 bucket naming rules), `test_prefix` (default `b2s3-harness`;
//! every run gets `<test_prefix>/<run id>/` below it), `region` (default `us-east-1`),
//! `storage_class_chunks` and `storage_class_manifest` (default `STANDARD`), `sse`
//! (default `AES256`), and `access_key_id` / `secret_access_key` (both or neither; only
//! for an embedded or URL endpoint; default `test` / `test`).
//!
//! This module validates the section; it starts no server and makes no request.

use crate::config::error::ConfigError;
use crate::config::reader::Section;

/// Which S3 the run talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Endpoint {
    /// Start a local S3 server (moto) for the run.
    Embedded,
    /// Use the server at this URL (`http://host:port`).
    Url(String),
    /// Real AWS through the standard credential chain.
    Aws,
}

/// Static credentials for a local or URL endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The validated `[s3]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Section {
    pub endpoint: S3Endpoint,
    pub bucket: String,
    /// No leading or trailing `/`.
    pub test_prefix: String,
    pub region: String,
    pub storage_class_chunks: String,
    pub storage_class_manifest: String,
    pub sse: String,
    /// `Some` for embedded and URL endpoints, `None` for real AWS.
    pub credentials: Option<StaticCredentials>,
}

pub(crate) fn read(mut s: Section<'_>) -> Result<S3Section, ConfigError> {
    let endpoint = read_endpoint(&mut s)?;
    let bucket_expected =
        "a bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit";
    let bucket = s.string("bucket")?;
    let bucket = s.require("bucket", bucket_expected, bucket)?;
    if let Err(why) = check_bucket(&bucket) {
        return Err(s.invalid("bucket", bucket_expected, format!("{bucket:?} ({why})")));
    }
    let test_prefix = s.non_empty("test_prefix", "b2s3-harness")?;
    if let Err(why) = check_prefix(&test_prefix) {
        let expected = "a key prefix without leading or trailing '/', '//' or whitespace";
        return Err(s.invalid("test_prefix", expected, format!("{test_prefix:?} ({why})")));
    }
    let region = s.non_empty("region", "us-east-1")?;
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(s.invalid(
            "region",
            "an AWS region name such as us-east-1",
            format!("{region:?}"),
        ));
    }
    let storage_class_chunks = s.non_empty("storage_class_chunks", "STANDARD")?;
    let storage_class_manifest = s.non_empty("storage_class_manifest", "STANDARD")?;
    let sse = s.non_empty("sse", "AES256")?;
    let credentials = read_credentials(&mut s, &endpoint)?;
    s.finish()?;
    Ok(S3Section {
        endpoint,
        bucket,
        test_prefix,
        region,
        storage_class_chunks,
        storage_class_manifest,
        sse,
        credentials,
    })
}

fn read_endpoint(s: &mut Section<'_>) -> Result<S3Endpoint, ConfigError> {
    match s.string("endpoint")? {
        None => Ok(S3Endpoint::Aws),
        Some(e) if e == "embedded" => Ok(S3Endpoint::Embedded),
        Some(e) => match check_url(&e) {
            Ok(()) => Ok(S3Endpoint::Url(e.trim_end_matches('/').to_string())),
            Err(why) => Err(s.invalid(
                "endpoint",
                "\"embedded\", an http:// or https:// URL such as http://127.0.0.1:9000, or no key for real AWS",
                format!("{e:?} ({why})"),
            )),
        },
    }
}

fn read_credentials(
    s: &mut Section<'_>,
    endpoint: &S3Endpoint,
) -> Result<Option<StaticCredentials>, ConfigError> {
    let access = s.string("access_key_id")?;
    let secret = s.string("secret_access_key")?;
    match (endpoint, access, secret) {
        (S3Endpoint::Aws, None, None) => Ok(None),
        (S3Endpoint::Aws, _, _) => Err(s.invalid(
            "access_key_id",
            "no static keys for real AWS (use the standard credential chain, e.g. AWS_PROFILE)",
            "static keys with no s3.endpoint",
        )),
        (_, Some(_), None) | (_, None, Some(_)) => Err(s.invalid(
            "secret_access_key",
            "access_key_id and secret_access_key both set or both absent",
            "only one of them",
        )),
        (_, access, secret) => {
            let pair = StaticCredentials {
                access_key_id: access.unwrap_or_else(|| "test".to_string()),
                secret_access_key: secret.unwrap_or_else(|| "test".to_string()),
            };
            if pair.access_key_id.is_empty() || pair.secret_access_key.is_empty() {
                return Err(s.invalid("access_key_id", "non-empty keys", "an empty key"));
            }
            Ok(Some(pair))
        }
    }
}

/// S3 bucket naming rules (the subset that matters for path-style and virtual-host use).
fn check_bucket(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err("length must be 3 to 63");
    }
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    if !bytes.iter().all(allowed) {
        return Err("only lowercase letters, digits, '.' and '-' are allowed");
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge(bytes[0]) || !edge(bytes[bytes.len() - 1]) {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.starts_with('/') || prefix.ends_with('/') {
        return Err("leading or trailing '/'");
    }
    if prefix.contains("//") {
        return Err("empty path segment '//'");
    }
    if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("whitespace or control character");
    }
    Ok(())
}

/// Accepts `http(s)://host[:port][/]`, where host is a name, an IPv4 or `[IPv6]`.
fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("scheme must be http:// or https://")?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') || authority.contains('?') || authority.contains('#') {
        return Err("no path, query or fragment allowed");
    }
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("missing host, or whitespace in it");
    }
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() {
        return Err("missing host");
    }
    match port {
        Some(p) if p.parse::<u16>().map_or(true, |n| n == 0) => Err("port must be 1 to 65535"),
        _ => Ok(()),
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed '[' in IPv6 host")?;
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or("junk after ']'"),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}
