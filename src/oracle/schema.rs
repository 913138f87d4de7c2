//! Validation of a JSON value against one of the JSON Schema files kept in
//! `config/schemas/` (`manifest.min.json`, `manifest.full.json`, `current.min.json`,
//! `current.full.json`), for `b2s3-harness verify manifest` and for anyone who wants the
//! contract's schema in a standard form.
//!
//! The schemas cover what JSON Schema can say (keys, types, patterns, kind vs parent);
//! key order, text layout and cross-field sums are only checked by `oracle::manifest`.
//! This module reads schema files and nothing else.

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

/// The schema files shipped in `config/schemas/`, by name.
pub const SCHEMA_FILES: [&str; 4] = [
    "manifest.min.json",
    "manifest.full.json",
    "current.min.json",
    "current.full.json",
];

/// The directory holding the schema files of this checkout.
pub fn default_schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join("schemas")
}

/// One place where the instance breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON pointer into the instance (`""` for the document).
    pub instance_path: String,
    /// JSON pointer into the schema, naming the rule that failed.
    pub schema_path: String,
    pub message: String,
}

#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("reading JSON schema {path}: {source}; check that config/schemas/ is intact")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("JSON schema {path} is not JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("JSON schema {path} is not a valid schema: {message}")]
    Compile { path: PathBuf, message: String },
}

/// Validates `instance` against the schema in `schema_path`; an empty list means valid.
pub fn validate_with_schema_file(
    schema_path: &Path,
    instance: &Value,
) -> Result<Vec<SchemaViolation>, SchemaError> {
    let text = std::fs::read_to_string(schema_path).map_err(|source| SchemaError::Read {
        path: schema_path.to_path_buf(),
        source,
    })?;
    let schema: Value = serde_json::from_str(&text).map_err(|source| SchemaError::Parse {
        path: schema_path.to_path_buf(),
        source,
    })?;
    validate_with_schema(&schema, instance).map_err(|message| SchemaError::Compile {
        path: schema_path.to_path_buf(),
        message,
    })
}

/// Validates `instance` against an already loaded schema. `Err` carries the reason the
/// schema itself is unusable.
pub fn validate_with_schema(
    schema: &Value,
    instance: &Value,
) -> Result<Vec<SchemaViolation>, String> {
    let validator = jsonschema::validator_for(schema).map_err(|e| e.to_string())?;
    let violations = validator
        .iter_errors(instance)
        .map(|e| SchemaViolation {
            instance_path: e.instance_path.to_string(),
            schema_path: e.schema_path.to_string(),
            message: e.to_string(),
        })
        .collect();
    Ok(violations)
}
