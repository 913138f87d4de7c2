//! The `BTRFS_TO_S3_CMD` override of `tool.cmd` (CONTRACT.md section 14).
//!
//! Rule: the value is trimmed; if it then starts with `[` it must be a JSON array of
//! strings (`["python3", "-m", "btrfs_to_s3"]`); otherwise it is split by POSIX shell
//! quoting rules (`python3 -m btrfs_to_s3`, `'/opt/my tool/bin/b2s3' --flag`), without
//! variable expansion or globbing. An empty value, malformed JSON, an unbalanced quote or an
//! empty program is an error naming the variable. A relative program containing `/` is
//! resolved against the harness's current directory (not the config file's).
//!
//! This module only parses the value; reading the environment is the caller's job.

use std::path::Path;

use super::elements::tool::{check_cmd, resolve_program};

/// The variable that overrides `tool.cmd`.
pub const CMD_ENV_VAR: &str = "BTRFS_TO_S3_CMD";

/// Parses an override value into a command; `cwd` resolves a relative program with `/`.
/// The error says what is wrong, without the variable's name (the caller adds it).
pub fn parse_cmd_override(value: &str, cwd: &Path) -> Result<Vec<String>, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("it is set but empty".to_string());
    }
    let mut cmd: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed)
            .map_err(|e| format!("it starts with '[' but is not a JSON array of strings: {e}"))?
    } else {
        shell_words::split(trimmed)
            .map_err(|e| format!("it cannot be split by shell quoting rules: {e}"))?
    };
    check_cmd(&cmd)?;
    cmd[0] = resolve_program(&cmd[0], cwd);
    Ok(cmd)
}
