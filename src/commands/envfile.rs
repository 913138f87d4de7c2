//! `--env-file PATH`: environment variables for the harness process (S3 credentials for
//! real AWS, `AWS_ENDPOINT_URL_S3`, `BTRFS_TO_S3_CMD`, `B2S3_VENV`, ...), read from a
//! file before the config is loaded. Without `--env-file`, the harness reads
//! `test.env` next to the config file (`config/test.env`) when it exists; that file is
//! git-ignored, and `config/test.env.example` is its committed template.
//!
//! The file is parsed, never evaluated by a shell:
//! - blank lines and lines whose first non-blank character is `#` are ignored;
//! - every other line is `KEY=value` (an optional leading `export ` is allowed), where
//!   `KEY` matches `[A-Za-z_][A-Za-z0-9_]*`;
//! - `value` is either taken literally up to the end of the line (surrounding blanks
//!   removed), or quoted in `'...'` or `"..."`: the text between the quotes, verbatim,
//!   with no escapes and no expansion of `$`, backticks or `~`; nothing but blanks may
//!   follow the closing quote;
//! - a line that breaks these rules is an error naming the file and the line number
//!   (exit code 2), and no variable of the file is applied.
//!
//! Precedence: a variable already set in the harness's environment is kept (the file
//! never overrides what the caller exported), and an empty value (`KEY=`) sets nothing,
//! so a copied template with blank values changes nothing. `B2S3_CONFIG` and
//! `B2S3_ENV_FILE` are read before the file and cannot be set by it.
//!
//! This module reads one file and sets variables of this process; nothing else.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Name of the default env file, looked up next to the config file.
pub const DEFAULT_ENV_FILE: &str = "test.env";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvFileError {
    #[error("env file {path}: cannot read it: {message}")]
    Read { path: PathBuf, message: String },
    #[error("env file {path}, line {line}: {problem}; expected KEY=value, KEY='value' or KEY=\"value\" (no shell expansion), or a # comment")]
    Syntax {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// One `KEY=value` assignment read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub key: String,
    pub value: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Parses the text of an env file (`path` only names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Assignment>, EnvFileError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let syntax = |problem: String| EnvFileError::Syntax {
            path: path.to_path_buf(),
            line,
            problem,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let Some((key, value)) = body.split_once('=') else {
            return Err(syntax(format!("no '=' in {:?}", shorten(trimmed))));
        };
        let key = key.trim_end();
        check_key(key).map_err(syntax)?;
        let value = parse_value(value.trim()).map_err(syntax)?;
        out.push(Assignment {
            key: key.to_string(),
            value,
            line,
        });
    }
    Ok(out)
}

fn check_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

fn parse_value(value: &str) -> Result<String, String> {
    let Some(quote) = value.chars().next().filter(|c| *c == '\'' || *c == '"') else {
        return Ok(value.to_string());
    };
    let inner = &value[1..];
    let Some(end) = inner.find(quote) else {
        return Err(format!(
            "the value opens a {quote} quote that is not closed on this line"
        ));
    };
    let rest = inner[end + 1..].trim();
    if !rest.is_empty() {
        return Err(format!(
            "{:?} follows the closing {quote} quote",
            shorten(rest)
        ));
    }
    Ok(inner[..end].to_string())
}

/// The start of a long text, for error messages (never more than 40 characters).
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// Reads and parses the file at `path`.
pub fn read(path: &Path) -> Result<Vec<Assignment>, EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| EnvFileError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(&text, path)
}

/// The env file to load: `explicit` if given (it must exist), else `test.env` next to
/// the config file if that exists, else none.
pub fn locate(explicit: Option<&Path>, config_path: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let dir = config_path.parent().filter(|d| !d.as_os_str().is_empty());
    let candidate = dir.unwrap_or(Path::new(".")).join(DEFAULT_ENV_FILE);
    candidate.is_file().then_some(candidate)
}

/// Loads the env file chosen by [`locate`] into this process's environment, following
/// the precedence rules of the module docs. Returns the names that were set.
///
/// Call it before the process starts threads (the environment is process-global).
pub fn load_into_process(
    explicit: Option<&Path>,
    config_path: &Path,
) -> Result<Vec<String>, EnvFileError> {
    let Some(path) = locate(explicit, config_path) else {
        return Ok(Vec::new());
    };
    let mut set = Vec::new();
    for a in read(&path)? {
        if a.value.is_empty() || std::env::var_os(&a.key).is_some() {
            continue;
        }
        std::env::set_var(&a.key, &a.value);
        set.push(a.key);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(String, String)> {
        parse(text, Path::new("t.env"))
            .expect("valid")
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn plain_lines_comments_and_blank_lines_are_read_in_order() {
        let text = "# credentials\n\nAWS_ACCESS_KEY_ID=AKIA123\n  AWS_DEFAULT_REGION = eu-west-1  \nexport B=2\n";
        assert_eq!(
            parsed(text),
            vec![
                pair("AWS_ACCESS_KEY_ID", "AKIA123"),
                pair("AWS_DEFAULT_REGION", "eu-west-1"),
                pair("B", "2")
            ]
        );
    }

    #[test]
    fn quoted_values_are_taken_verbatim_without_expansion() {
        let text = "A='it has $HOME and `x` and \"q\"'\nB=\"a b # not a comment\"\nC=\"\"\nD=x=y\n";
        assert_eq!(
            parsed(text),
            vec![
                pair("A", "it has $HOME and `x` and \"q\""),
                pair("B", "a b # not a comment"),
                pair("C", ""),
                pair("D", "x=y"),
            ]
        );
    }

    #[test]
    fn an_unquoted_value_keeps_dollar_signs_and_hashes_literally() {
        assert_eq!(parsed("SECRET=ab$c#d\n"), vec![pair("SECRET", "ab$c#d")]);
    }

    #[test]
    fn a_bad_line_is_an_error_naming_the_file_and_the_line_number() {
        let cases = [
            ("A=1\nnot an assignment\n", 2, "no '='"),
            ("A=1\n\n1BAD=x\n", 3, "not a variable name"),
            ("A='open\n", 1, "not closed"),
            ("# c\nA=\"x\" trailing\n", 2, "follows the closing"),
            ("A B=1\n", 1, "not a variable name"),
        ];
        for (text, line, problem) in cases {
            let err = parse(text, Path::new("/x/test.env")).expect_err(text);
            let shown = err.to_string();
            assert!(
                matches!(err, EnvFileError::Syntax { line: l, .. } if l == line),
                "{text:?}: {shown}"
            );
            assert!(
                shown.contains("/x/test.env") && shown.contains(&format!("line {line}")),
                "{shown}"
            );
            assert!(shown.contains(problem), "{text:?}: {shown}");
        }
    }

    #[test]
    fn the_default_env_file_is_test_env_next_to_the_config_only_when_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("test.toml");
        assert_eq!(locate(None, &config), None);
        std::fs::write(dir.path().join("test.env"), "A=1\n").unwrap();
        assert_eq!(locate(None, &config), Some(dir.path().join("test.env")));
        let explicit = dir.path().join("other.env");
        assert_eq!(locate(Some(&explicit), &config), Some(explicit.clone()));
    }
}
