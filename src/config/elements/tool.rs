//! `[tool]`: how to start btrfs_to_s3 (CONTRACT.md sections 1 and 14).
//!
//! Keys: `cmd` (required, non-empty array of strings), `config_flag` (default
//! `--config`), `cwd` and `pythonpath` (optional absolute paths), and the free-form
//! sub-table `[tool.env]` (string values only). Relative-executable rule: a `cmd[0]` that
//! contains `/` and is relative is resolved against the config file's directory (so
//! `"../target/debug/b2s3-ref"` in `config/` means `<repo>/target/debug/b2s3-ref`); a bare
//! name (`python3`) is looked up on `PATH` when the tool is spawned.
//!
//! This module reads and checks the section; it does not build or run commands (see
//! `tool::command`) and does not read the `BTRFS_TO_S3_CMD` override (see `cmd_env`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::error::ConfigError;
use crate::config::reader::{normalize, Section};

/// Environment variable the tool reads; set per invocation only (see `tool::command`).
pub const HARNESS_RUN_DIR_VAR: &str = "BTRFS_TO_S3_HARNESS_RUN_DIR";

/// Where `cmd` came from, for `--dry-run` printing and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdSource {
    /// `tool.cmd` of the config file.
    ConfigFile,
    /// The `BTRFS_TO_S3_CMD` environment variable.
    EnvVar,
}

/// The validated `[tool]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSection {
    /// Program and leading arguments; `cmd[0]` already resolved by the rule above.
    pub cmd: Vec<String>,
    pub cmd_source: CmdSource,
    /// Flag put before the generated config path, last on the command line.
    pub config_flag: String,
    /// Extra environment for every tool invocation.
    pub env: BTreeMap<String, String>,
    /// Working directory of the tool; `None` keeps the harness's.
    pub cwd: Option<PathBuf>,
    /// Exported as `PYTHONPATH` (a btrfs_to_s3 checkout).
    pub pythonpath: Option<PathBuf>,
    /// Names of harness environment variables passed to the tool when set (e.g. a
    /// variable that selects a build or a debug mode of the tool).
    pub pass_env: Vec<String>,
}

/// Applies the relative-executable rule to `program`, resolving against `base`.
pub fn resolve_program(program: &str, base: &Path) -> String {
    if program.contains('/') && !Path::new(program).is_absolute() {
        normalize(&base.join(program))
            .to_string_lossy()
            .into_owned()
    } else {
        program.to_string()
    }
}

/// Checks a command (from the file or the environment); returns what is wrong with it.
pub fn check_cmd(cmd: &[String]) -> Result<(), String> {
    match cmd.first() {
        None => Err("the command is empty (need at least the program)".to_string()),
        Some(p) if p.trim().is_empty() => Err("the program (first element) is empty".to_string()),
        Some(_) if cmd.iter().any(|a| a.contains('\0')) => {
            Err("an argument contains a NUL byte".to_string())
        }
        Some(_) => Ok(()),
    }
}

pub(crate) fn read(mut s: Section<'_>) -> Result<ToolSection, ConfigError> {
    let expected_cmd = "a non-empty array of strings, e.g. [\"python3\", \"-m\", \"btrfs_to_s3\"]";
    let raw_cmd = s.string_list("cmd")?;
    let mut cmd = s.require("cmd", expected_cmd, raw_cmd)?;
    if let Err(why) = check_cmd(&cmd) {
        return Err(s.invalid("cmd", expected_cmd, why));
    }
    cmd[0] = resolve_program(&cmd[0], &s.source().dir);
    let config_flag = s.non_empty("config_flag", "--config")?;
    let cwd = s.absolute_path("cwd")?;
    let pythonpath = s.absolute_path("pythonpath")?;
    let env = read_env(&mut s, pythonpath.is_some())?;
    let pass_env = s.string_list("pass_env")?.unwrap_or_default();
    if let Some(bad) = pass_env.iter().find(|n| n.is_empty() || n.contains('=') || n.as_str() == HARNESS_RUN_DIR_VAR) {
        return Err(s.invalid("pass_env", "variable names (not BTRFS_TO_S3_HARNESS_RUN_DIR)", bad));
    }
    s.finish()?;
    Ok(ToolSection {
        cmd,
        cmd_source: CmdSource::ConfigFile,
        config_flag,
        env,
        cwd,
        pythonpath,
        pass_env,
    })
}

/// `[tool.env]`: free-form names, string values.
fn read_env(
    s: &mut Section<'_>,
    has_pythonpath: bool,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(table) = s.table("env")? else {
        return Ok(BTreeMap::new());
    };
    let mut env = BTreeMap::new();
    for (name, value) in table {
        let key = format!("env.{name}");
        let Some(value) = value.as_str() else {
            let found = value.type_str();
            return Err(s.invalid(&key, "a string value", format!("a value of type {found}")));
        };
        if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0') {
            return Err(s.invalid(
                &key,
                "a variable name without '=' or NUL and a value without NUL",
                name,
            ));
        }
        if name == HARNESS_RUN_DIR_VAR {
            let why = "it changes what a backup does; the harness sets it per invocation when a test asks";
            return Err(s.invalid(&key, "no BTRFS_TO_S3_HARNESS_RUN_DIR here", why));
        }
        if name == "PYTHONPATH" && has_pythonpath {
            return Err(s.invalid(
                &key,
                "PYTHONPATH set in only one place",
                "both tool.pythonpath and tool.env.PYTHONPATH",
            ));
        }
        env.insert(name.clone(), value.to_string());
    }
    Ok(env)
}
