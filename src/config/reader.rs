//! Typed, key-tracking access to one table of the parsed config file.
//!
//! A [`Section`] hands out values by key with their expected type and bounds, turns every
//! mismatch into a [`ConfigError`] that names the file and the dotted key, and (for strict
//! sections) reports keys nobody asked for. It knows nothing about what the sections mean;
//! the element modules do.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::{Component, Path, PathBuf};

use toml::{Table, Value};

use super::error::{ConfigError, KeyProblem};

/// Where the config came from: the file (for errors) and its directory (for relative paths).
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub file: PathBuf,
    pub dir: PathBuf,
}

impl Source {
    /// Resolves `value` against the config file's directory (if relative) and removes
    /// `.` and `..` components lexically.
    pub fn resolve(&self, value: &str) -> PathBuf {
        normalize(&self.dir.join(value))
    }
}

/// Lexical normalisation: drops `.`, and lets `..` remove the previous component (at the
/// root, `..` stays at the root). Does not touch the filesystem.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One table of the config, read key by key.
pub(crate) struct Section<'a> {
    source: &'a Source,
    name: String,
    table: &'a Table,
    seen: BTreeSet<String>,
}

impl<'a> Section<'a> {
    pub fn new(source: &'a Source, name: &str, table: &'a Table) -> Self {
        Section {
            source,
            name: name.to_string(),
            table,
            seen: BTreeSet::new(),
        }
    }

    /// The dotted name of `key` in this section.
    pub fn dotted(&self, key: &str) -> String {
        if self.name.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.name, key)
        }
    }

    pub fn error(&self, key: &str, problem: KeyProblem) -> ConfigError {
        ConfigError::Key {
            file: self.source.file.clone(),
            key: self.dotted(key),
            problem,
        }
    }

    pub fn invalid(&self, key: &str, expected: &str, got: impl Display) -> ConfigError {
        let problem = KeyProblem::Invalid {
            expected: expected.to_string(),
            got: got.to_string(),
        };
        self.error(key, problem)
    }

    pub fn source(&self) -> &'a Source {
        self.source
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        self.seen.insert(key.to_string());
        self.table.get(key)
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> ConfigError {
        let problem = KeyProblem::WrongType {
            expected: expected.to_string(),
            found: found.type_str().to_string(),
        };
        self.error(key, problem)
    }

    /// The key is required: turns an absent value into a `Missing` error.
    pub fn require<T>(
        &self,
        key: &str,
        expected: &str,
        value: Option<T>,
    ) -> Result<T, ConfigError> {
        value.ok_or_else(|| {
            self.error(
                key,
                KeyProblem::Missing {
                    expected: expected.to_string(),
                },
            )
        })
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// A string that must not be empty; `default` when absent.
    pub fn non_empty(&mut self, key: &str, default: &str) -> Result<String, ConfigError> {
        let value = self.string(key)?.unwrap_or_else(|| default.to_string());
        if value.trim().is_empty() {
            return Err(self.invalid(key, "a non-empty string", format!("{value:?}")));
        }
        Ok(value)
    }

    pub fn bool(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take(key) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(self.wrong_type(key, "a boolean (true or false)", other)),
        }
    }

    /// An integer >= `min`; `default` when absent.
    pub fn u64_at_least(&mut self, key: &str, default: u64, min: u64) -> Result<u64, ConfigError> {
        let value = match self.take(key) {
            None => return Ok(default),
            Some(Value::Integer(i)) => *i,
            Some(other) => return Err(self.wrong_type(key, "an integer", other)),
        };
        match u64::try_from(value) {
            Ok(v) if v >= min => Ok(v),
            _ => Err(self.invalid(key, &format!("an integer >= {min}"), value)),
        }
    }

    /// An integer in `min..=u32::MAX`; `default` when absent.
    pub fn u32_at_least(&mut self, key: &str, default: u32, min: u32) -> Result<u32, ConfigError> {
        let value = self.u64_at_least(key, u64::from(default), u64::from(min))?;
        u32::try_from(value).map_err(|_| {
            self.invalid(
                key,
                &format!("an integer from {min} to {}", u32::MAX),
                value,
            )
        })
    }

    /// An array of strings.
    pub fn string_list(&mut self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let items = match self.take(key) {
            None => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(self.wrong_type(key, "an array of strings", other)),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => {
                    return Err(self.wrong_type(&format!("{key}[{i}]"), "a string", other));
                }
            }
        }
        Ok(Some(out))
    }

    /// A sub-table (`[section.key]` or an inline table).
    pub fn table(&mut self, key: &str) -> Result<Option<&'a Table>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => Err(self.wrong_type(key, "a table", other)),
        }
    }

    /// A path that must already be absolute.
    pub fn absolute_path(&mut self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(value) = self.string(key)? else {
            return Ok(None);
        };
        if !Path::new(&value).is_absolute() {
            return Err(self.invalid(
                key,
                "an absolute path (starting with /)",
                format!("{value:?}"),
            ));
        }
        Ok(Some(normalize(Path::new(&value))))
    }

    /// A path; a relative one is resolved against the config file's directory.
    pub fn path(&mut self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(value) = self.string(key)? else {
            return Ok(None);
        };
        if value.is_empty() {
            return Err(self.invalid(key, "a non-empty path", "\"\""));
        }
        Ok(Some(self.source.resolve(&value)))
    }

    /// Strict sections end with this: any key not asked for is an error.
    pub fn finish(self) -> Result<(), ConfigError> {
        let unknown = self.table.keys().find(|k| !self.seen.contains(k.as_str()));
        match unknown {
            None => Ok(()),
            Some(key) => {
                let known = self
                    .seen
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(self.error(key, KeyProblem::Unknown { known }))
            }
        }
    }
}
