//! [`CommandLine`]: how to write a `b2s3-harness` command that reproduces something on
//! the first try: the absolute path of this binary, the absolute config file, and the
//! environment the run depended on (the tool's `pass_env` variables that were set, such
//! as `B2S3_REF_BUG`, and `BTRFS_TO_S3_CMD` and `B2S3_VENV` when set), shell-quoted.
//! Only text is built here; nothing runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{Config, CMD_ENV_VAR};

/// Environment variables of the harness itself that change what a run does.
const HARNESS_VARS: [&str; 2] = [CMD_ENV_VAR, "B2S3_VENV"];

/// The fixed part of every reproduction command of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub exe: PathBuf,
    pub config: PathBuf,
    /// Variable -> value, as they must be set.
    pub env: BTreeMap<String, String>,
}

impl CommandLine {
    /// This process: its executable, `config`'s file, and the relevant variables of
    /// its environment.
    pub fn current(config: &Config) -> CommandLine {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("b2s3-harness"));
        let names = config.tool.pass_env.iter().map(String::as_str).chain(HARNESS_VARS);
        let env = names
            .filter_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()).map(|v| (n.to_string(), v)))
            .collect();
        CommandLine { exe, config: config.file.clone(), env }
    }

    /// `VAR=value ... <exe> --config <file> <args...>`, shell-quoted.
    pub fn render(&self, args: &[&str]) -> String {
        let mut words: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
        words.push(quote(&self.exe.display().to_string()));
        words.push("--config".to_string());
        words.push(quote(&self.config.display().to_string()));
        words.extend(args.iter().map(|a| quote(a)));
        words.join(" ")
    }

    /// The command that replays a bug folder.
    pub fn replay_dir(&self, dir: &Path) -> String {
        self.render(&["replay", &dir.display().to_string()])
    }

    /// The command that regenerates and runs case `case` of `seed` under `profile`.
    pub fn replay_seed(&self, seed: u64, case: u64, profile: &str) -> String {
        self.render(&["replay", "--seed", &seed.to_string(), "--case", &case.to_string(), "--profile", profile])
    }
}

fn quote(s: &str) -> String {
    shell_words::quote(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_puts_the_environment_first_and_quotes_what_needs_it() {
        let c = CommandLine {
            exe: PathBuf::from("/x/b2s3-harness"),
            config: PathBuf::from("/repo/config/my conf.toml"),
            env: [("B2S3_REF_BUG".to_string(), "no-lock".to_string())].into_iter().collect(),
        };
        assert_eq!(
            c.replay_dir(Path::new("/run/bugs/1-2-P5")),
            "B2S3_REF_BUG=no-lock /x/b2s3-harness --config '/repo/config/my conf.toml' replay /run/bugs/1-2-P5"
        );
        assert_eq!(
            c.replay_seed(1, 2, "pr"),
            "B2S3_REF_BUG=no-lock /x/b2s3-harness --config '/repo/config/my conf.toml' replay --seed 1 --case 2 --profile pr"
        );
    }
}
