//! Building one tool invocation: argv and the complete environment.
//!
//! The command line is `tool.cmd + <subcommand and flags> + [tool.config_flag, <config
//! path>]`: the config flag comes last, after the subcommand, as CONTRACT.md 1 allows.
//! The environment is built from scratch (the child inherits nothing else), in this order,
//! later entries winning: the harness's own [`INHERITED_VARS`], the S3 environment given
//! by the caller (credentials, `AWS_ENDPOINT_URL_S3`, region), `[tool.env]`, `PYTHONPATH`
//! from `tool.pythonpath`. `BTRFS_TO_S3_HARNESS_RUN_DIR` is removed unless the caller asks
//! for it with [`InvocationBuilder::harness_run_dir`].
//!
//! This module builds values and renders them for `--dry-run`; it spawns nothing (see
//! `tool::runner`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{ToolSection, HARNESS_RUN_DIR_VAR};
use crate::gen::plan::{BackupMode, BackupStep, VerifyMode};

/// Variables passed through from the harness's environment, when set.
pub const INHERITED_VARS: [&str; 7] =
    ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"];

/// One fully built tool invocation: what the runner spawns and `--dry-run` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    /// The complete environment of the child.
    pub env: BTreeMap<String, String>,
    /// Working directory; `None` keeps the harness's.
    pub cwd: Option<PathBuf>,
}

/// Flags of `backup` (CONTRACT.md 1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupArgs {
    pub subvolumes: Vec<String>,
    pub once: bool,
    pub dry_run: bool,
    pub no_s3: bool,
    pub log_level: Option<String>,
}

/// Flags of `restore` (CONTRACT.md 1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreArgs {
    pub subvolume: String,
    pub target: PathBuf,
    pub manifest_key: Option<String>,
    pub restore_timeout_seconds: Option<u64>,
    /// `Some(true)`: `--wait-restore`, `Some(false)`: `--no-wait-restore`.
    pub wait: Option<bool>,
    pub verify: Option<VerifyMode>,
    pub log_level: Option<String>,
}

/// The subcommand and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolArgs {
    Backup(BackupArgs),
    Restore(RestoreArgs),
    /// Anything else, verbatim (e.g. a usage-error probe).
    Raw(Vec<String>),
}

impl BackupArgs {
    /// The flags of a plan's backup step (its fault is the engine's business).
    pub fn from_step(step: &BackupStep) -> Self {
        BackupArgs {
            subvolumes: step.subvolumes.clone(),
            once: step.once,
            dry_run: step.mode == BackupMode::DryRun,
            no_s3: step.mode == BackupMode::NoS3,
            log_level: None,
        }
    }
}

impl BackupArgs {
    /// `backup` and its flags as argv words.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec!["backup".to_string()];
        for name in &self.subvolumes {
            out.extend(["--subvolume".to_string(), name.clone()]);
        }
        let switches = [
            (self.once, "--once"),
            (self.dry_run, "--dry-run"),
            (self.no_s3, "--no-s3"),
        ];
        out.extend(
            switches
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| f.to_string()),
        );
        if let Some(level) = &self.log_level {
            out.extend(["--log-level".to_string(), level.clone()]);
        }
        out
    }
}

impl RestoreArgs {
    /// `restore` and its flags as argv words.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec!["restore".to_string()];
        let mut flag = |name: &str, value: String| out.extend([name.to_string(), value]);
        flag("--subvolume", self.subvolume.clone());
        flag("--target", self.target.to_string_lossy().into_owned());
        if let Some(key) = &self.manifest_key {
            flag("--manifest-key", key.clone());
        }
        if let Some(seconds) = self.restore_timeout_seconds {
            flag("--restore-timeout", seconds.to_string());
        }
        if let Some(mode) = self.verify {
            flag("--verify", mode.as_str().to_string());
        }
        if let Some(level) = &self.log_level {
            flag("--log-level", level.clone());
        }
        match self.wait {
            Some(true) => out.push("--wait-restore".to_string()),
            Some(false) => out.push("--no-wait-restore".to_string()),
            None => {}
        }
        out
    }
}

impl ToolArgs {
    /// The subcommand and flags as argv words (without the config flag).
    pub fn to_args(&self) -> Vec<String> {
        match self {
            ToolArgs::Backup(b) => b.to_args(),
            ToolArgs::Restore(r) => r.to_args(),
            ToolArgs::Raw(words) => words.clone(),
        }
    }
}

/// Builds an [`Invocation`] from the `[tool]` config section.
#[derive(Debug, Clone)]
pub struct InvocationBuilder<'a> {
    tool: &'a ToolSection,
    config_path: PathBuf,
    args: Vec<String>,
    s3_env: BTreeMap<String, String>,
    harness_run_dir: Option<PathBuf>,
    inherited: BTreeMap<String, String>,
}

impl<'a> InvocationBuilder<'a> {
    /// An invocation of `tool` with the generated tool config at `config_path`.
    pub fn new(tool: &'a ToolSection, config_path: &Path) -> Self {
        let inherited = INHERITED_VARS
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        InvocationBuilder {
            tool,
            config_path: config_path.to_path_buf(),
            args: Vec::new(),
            s3_env: BTreeMap::new(),
            harness_run_dir: None,
            inherited,
        }
    }

    pub fn args(mut self, args: &ToolArgs) -> Self {
        self.args = args.to_args();
        self
    }

    /// The S3 environment: credentials, `AWS_ENDPOINT_URL_S3`, `AWS_DEFAULT_REGION`, ...
    pub fn s3_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.s3_env = env;
        self
    }

    /// Sets `BTRFS_TO_S3_HARNESS_RUN_DIR` (CONTRACT.md 4): only when a test wants it.
    pub fn harness_run_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.harness_run_dir = dir;
        self
    }

    /// Replaces the variables taken from the harness's environment (for tests).
    pub fn inherited_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.inherited = env;
        self
    }

    pub fn build(self) -> Invocation {
        let mut env = self.inherited;
        env.extend(self.tool.pass_env.iter().filter_map(|name| {
            std::env::var(name).ok().map(|value| (name.clone(), value))
        }));
        env.extend(self.s3_env);
        env.extend(self.tool.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(path) = &self.tool.pythonpath {
            env.insert(
                "PYTHONPATH".to_string(),
                path.to_string_lossy().into_owned(),
            );
        }
        env.remove(HARNESS_RUN_DIR_VAR);
        if let Some(dir) = &self.harness_run_dir {
            env.insert(
                HARNESS_RUN_DIR_VAR.to_string(),
                dir.to_string_lossy().into_owned(),
            );
        }
        // A loaded config never has an empty cmd; a hand-built one fails at spawn instead.
        let (program, leading) = self
            .tool
            .cmd
            .split_first()
            .map_or(("", &[][..]), |(p, rest)| (p.as_str(), rest));
        let mut args = leading.to_vec();
        args.extend(self.args);
        args.push(self.tool.config_flag.clone());
        args.push(self.config_path.to_string_lossy().into_owned());
        Invocation {
            program: program.to_string(),
            args,
            env,
            cwd: self.tool.cwd.clone(),
        }
    }
}

impl Invocation {
    /// Program and arguments.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }

    /// A `Command` with argv, the complete environment and the working directory set;
    /// stdio and the process group are the runner's business.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).env_clear().envs(&self.env);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command
    }

    /// The exact command line (shell-quoted) and environment, for `--dry-run`. Values of
    /// variables whose name contains `SECRET`, `TOKEN` or `PASSWORD` are shown as
    /// `<redacted>`.
    pub fn render(&self) -> RenderedInvocation {
        let env = self
            .env
            .iter()
            .map(|(k, v)| {
                let secret = ["SECRET", "TOKEN", "PASSWORD"]
                    .iter()
                    .any(|s| k.contains(s));
                (k.clone(), (!secret).then(|| v.clone()))
            })
            .collect();
        RenderedInvocation {
            command_line: shell_words::join(self.argv()),
            cwd: self.cwd.clone(),
            env,
        }
    }
}

/// What `--dry-run` prints for one invocation; `Display` gives the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedInvocation {
    pub command_line: String,
    pub cwd: Option<PathBuf>,
    /// Name and value; `None` for a redacted secret.
    pub env: Vec<(String, Option<String>)>,
}

impl fmt::Display for RenderedInvocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cwd {
            Some(dir) => writeln!(f, "cwd: {}", shell_words::quote(&dir.to_string_lossy()))?,
            None => writeln!(f, "cwd: (the harness's working directory)")?,
        }
        writeln!(f, "env (complete; nothing else is inherited):")?;
        for (name, value) in &self.env {
            match value {
                Some(value) => writeln!(f, "  {name}={}", shell_words::quote(value))?,
                None => writeln!(f, "  {name}=<redacted>")?,
            }
        }
        write!(f, "command: {}", self.command_line)
    }
}
