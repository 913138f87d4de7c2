//! `verify manifest [--schema min|full]`: every manifest and `current.json` under the
//! run's prefix against the JSON Schema files of `config/schemas/` (missing keys, and
//! with `full` also extra keys, types and patterns), plus the order of each manifest's
//! chunks: chunk `i` of `subvol/N/K/manifest-TS.json` must be `subvol/N/K/chunk-TS-i.bin`
//! (CONTRACT.md sections 10 and 11). Findings are P7. Cross-field rules (sums, sizes,
//! ETags, chains, storage classes) are `verify s3`'s.
//!
//! Schemas are read from `<config dir>/schemas/` when that directory exists, else from
//! the checkout the harness was built from.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::oracle::finding::{Finding, Property};
use crate::oracle::manifest::BackupKind;
use crate::oracle::schema::{default_schema_dir, validate_with_schema_file};
use crate::oracle::store::layout::{chunk_key, parse_key, KeyRole};
use crate::s3::view::StoreView;

use super::super::context::existing_run;
use super::super::{load_config, CommandError};
use super::Report;

/// Which schema pair to validate against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaLevel {
    /// Required keys only (`*.min.json`).
    Min,
    /// The exact contract: keys, types, patterns, kind vs parent (`*.full.json`).
    Full,
}

impl SchemaLevel {
    fn file(self, document: &str) -> String {
        let level = match self {
            SchemaLevel::Min => "min",
            SchemaLevel::Full => "full",
        };
        format!("{document}.{level}.json")
    }
}

/// The schema directory: `<config dir>/schemas` if it exists, else the checkout's.
pub fn schema_dir(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .map(|d| d.join("schemas"))
        .filter(|d| d.is_dir())
        .unwrap_or_else(default_schema_dir)
}

/// `verify manifest`.
pub fn verify_manifest(config_path: &Path, level: SchemaLevel) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let run = existing_run(&config)?;
    let prefix = &run.record.prefix;
    let dir = schema_dir(&config.file);
    let listed = run
        .client
        .list(prefix)
        .map_err(|e| CommandError::harness("listing the run's prefix", e))?;
    let mut report = Report::default();
    for object in listed {
        let (document, role) = match parse_key(prefix, &object.key) {
            Ok(role @ KeyRole::Manifest { .. }) => ("manifest", role),
            Ok(role @ KeyRole::Pointer { .. }) => ("current", role),
            _ => continue,
        };
        let body = run
            .client
            .get(&object.key)
            .map_err(|e| CommandError::harness(&format!("reading {}", object.key), e))?;
        let schema = dir.join(level.file(document));
        check_document(&object.key, &body, &schema, &mut report)?;
        if let KeyRole::Manifest {
            subvolume,
            kind,
            ts,
        } = role
        {
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            report.findings.extend(chunk_order(
                prefix,
                &object.key,
                &value,
                (&subvolume, kind, &ts),
            ));
        }
    }
    if report.checked.is_empty() {
        return Err(CommandError::Usage(format!(
            "no manifest or current.json under s3://{}/{prefix}: nothing to verify (run `run -- backup` first)",
            config.s3.bucket
        )));
    }
    Ok(report.finish("manifest"))
}

fn p7(key: &str, message: String) -> Finding {
    Finding::new(Property::LayoutAndMetadata, None, message).subject(key.to_string())
}

/// Schema findings for one document.
fn check_document(
    key: &str,
    body: &[u8],
    schema: &Path,
    report: &mut Report,
) -> Result<(), CommandError> {
    let name = schema
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    report.checked.push(format!("{key} against {name}"));
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            report
                .findings
                .push(p7(key, format!("{key}: not JSON: {e}")));
            return Ok(());
        }
    };
    let violations = validate_with_schema_file(schema, &value)
        .map_err(|e| CommandError::harness("validating against the JSON schema", e))?;
    for v in violations {
        let at = if v.instance_path.is_empty() {
            "(document)"
        } else {
            v.instance_path.as_str()
        };
        let message = format!(
            "{key}: {at}: {} (schema {name} rule {})",
            v.message, v.schema_path
        );
        report
            .findings
            .push(p7(key, message).subject(format!("{key}#{}", v.instance_path)));
    }
    Ok(())
}

/// Chunk `i` must have the key `subvol/N/K/chunk-TS-i.bin`: one finding naming the
/// first chunk out of place, with the count of others.
fn chunk_order(
    prefix: &str,
    manifest: &str,
    value: &Value,
    at: (&str, BackupKind, &str),
) -> Option<Finding> {
    let chunks = value.get("chunks")?.as_array()?;
    let keys: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c.get("key")?.as_str())
        .collect();
    let wrong: Vec<(usize, &str, String)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i, *k, chunk_key(prefix, at.0, at.1, at.2, i)))
        .filter(|(_, k, want)| k != want)
        .collect();
    let (i, seen, want) = wrong.first()?;
    let more = match wrong.len() {
        1 => String::new(),
        n => format!(" [and {} more chunks out of place]", n - 1),
    };
    let message =
        format!("{manifest}: /chunks/{i}: wrong chunk order or key: chunk {i} must be the stream's chunk {i}{more}");
    Some(
        p7(manifest, message)
            .subject(format!("{manifest}#/chunks/{i}/key"))
            .expected_seen(want.clone(), *seen),
    )
}
