//! The tool's state file (CONTRACT.md 6) as the tester reads it: a strict parser from
//! the file's text to [`StateFile`], and [`StateObservation`], what one look at the
//! state path found (absent, parsed, or unreadable with the reason).
//!
//! Strict means: a field of the wrong JSON type is an error, not a silent default, so
//! the planner never plans from a state it misread. The one exception is
//! `last_full_at`, which CONTRACT.md 7 says may be unparsable (the tool then plans a
//! full): any non-string value is kept as its JSON text. Unknown keys are ignored, as
//! the tool ignores them. This module does no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The parsed state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    pub last_run_at: Option<String>,
    pub subvolumes: BTreeMap<String, SubvolumeState>,
}

/// One subvolume's entry. `None` means the key is absent or `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubvolumeState {
    pub last_full_at: Option<String>,
    pub last_manifest: Option<String>,
    pub last_snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StateError {
    #[error("state file is not JSON ({0}); the planner cannot model the tool's reading of it")]
    NotJson(String),
    #[error("state file field `{field}` must be {expected}, found {seen}")]
    WrongType { field: String, expected: &'static str, seen: String },
}

impl StateFile {
    /// Parses the text of a state file strictly (see the module docs).
    pub fn parse(text: &str) -> Result<StateFile, StateError> {
        let value: Value = serde_json::from_str(text).map_err(|e| StateError::NotJson(e.to_string()))?;
        let top = as_object(&value, "(top level)")?;
        let last_run_at = optional_string(top.get("last_run_at"), "last_run_at")?;
        let mut subvolumes = BTreeMap::new();
        if let Some(v) = top.get("subvolumes").filter(|v| !v.is_null()) {
            for (name, entry) in as_object(v, "subvolumes")? {
                subvolumes.insert(name.clone(), parse_entry(name, entry)?);
            }
        }
        Ok(StateFile { last_run_at, subvolumes })
    }

    pub fn subvolume(&self, name: &str) -> Option<&SubvolumeState> {
        self.subvolumes.get(name)
    }
}

fn parse_entry(name: &str, entry: &Value) -> Result<SubvolumeState, StateError> {
    let field = |key: &str| format!("subvolumes.{name}.{key}");
    let obj = as_object(entry, &format!("subvolumes.{name}"))?;
    let last_full_at = match obj.get("last_full_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(SubvolumeState {
        last_full_at,
        last_manifest: optional_string(obj.get("last_manifest"), &field("last_manifest"))?,
        last_snapshot: optional_string(obj.get("last_snapshot"), &field("last_snapshot"))?,
    })
}

fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a serde_json::Map<String, Value>, StateError> {
    v.as_object().ok_or_else(|| StateError::WrongType {
        field: field.to_string(),
        expected: "an object",
        seen: v.to_string(),
    })
}

fn optional_string(v: Option<&Value>, field: &str) -> Result<Option<String>, StateError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => {
            Err(StateError::WrongType { field: field.to_string(), expected: "a string", seen: other.to_string() })
        }
    }
}

/// What one look at the state path found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StateObservation {
    /// No file: the tool treats this as an empty state.
    Absent,
    Parsed {
        file: StateFile,
    },
    Unreadable {
        raw: String,
        error: String,
    },
}

impl StateObservation {
    /// From the file's contents (`None`: the file does not exist).
    pub fn from_contents(contents: Option<&str>) -> StateObservation {
        match contents {
            None => StateObservation::Absent,
            Some(text) => match StateFile::parse(text) {
                Ok(file) => StateObservation::Parsed { file },
                Err(e) => StateObservation::Unreadable { raw: text.to_string(), error: e.to_string() },
            },
        }
    }

    pub fn parsed(&self) -> Option<&StateFile> {
        match self {
            StateObservation::Parsed { file } => Some(file),
            _ => None,
        }
    }

    /// The subvolume's entry; `None` when the file is absent, unreadable or has none.
    pub fn subvolume(&self, name: &str) -> Option<&SubvolumeState> {
        self.parsed().and_then(|f| f.subvolume(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_parses_into_one_subvolume_entry() {
        let text = r#"{"last_run_at": "20260101T020000Z", "subvolumes": {"data": {
            "last_full_at": "20260101T020000Z",
            "last_manifest": "p/subvol/data/full/manifest-20260101T020000Z.json",
            "last_snapshot": "/snap/data__20260101T020001Z__full", "extra": 1}}}"#;
        let state = StateFile::parse(text).unwrap();
        let data = state.subvolume("data").unwrap();
        assert_eq!(data.last_snapshot.as_deref(), Some("/snap/data__20260101T020001Z__full"));
        assert_eq!(state.last_run_at.as_deref(), Some("20260101T020000Z"));
    }

    #[test]
    fn a_non_string_last_full_at_is_kept_as_text_so_the_planner_calls_it_unparsable() {
        let state = StateFile::parse(r#"{"subvolumes": {"data": {"last_full_at": 17}}}"#).unwrap();
        assert_eq!(state.subvolume("data").unwrap().last_full_at.as_deref(), Some("17"));
    }

    #[test]
    fn a_non_string_last_manifest_is_an_error_naming_the_field() {
        let err = StateFile::parse(r#"{"subvolumes": {"data": {"last_manifest": 3}}}"#).unwrap_err();
        assert!(err.to_string().contains("subvolumes.data.last_manifest"), "{err}");
    }

    #[test]
    fn absent_and_unreadable_files_are_told_apart() {
        assert_eq!(StateObservation::from_contents(None), StateObservation::Absent);
        let bad = StateObservation::from_contents(Some("[1,2]"));
        assert!(matches!(bad, StateObservation::Unreadable { .. }), "{bad:?}");
        assert_eq!(bad.subvolume("data"), None);
    }
}
