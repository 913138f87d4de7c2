//! The versions a campaign report records: the tester (crate version and, when the
//! checkout is a git repository, its commit), the tool command and the environment
//! passed through to it, btrfs-progs (`btrfs --version`) and the kernel release.
//! Anything that cannot be found is recorded as `unknown: <why>`, never an error.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Serialize;

use crate::config::Config;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Versions {
    pub tester: String,
    pub tool_command: Vec<String>,
    /// `pass_env` variables set for the tool (e.g. `B2S3_REF_BUG`).
    pub tool_env: BTreeMap<String, String>,
    pub btrfs_progs: String,
    pub kernel: String,
}

impl Versions {
    /// Detects the versions for a run with `config`.
    pub fn detect(config: &Config) -> Versions {
        let tool_env = config
            .tool
            .pass_env
            .iter()
            .filter_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()).map(|v| (n.clone(), v)))
            .collect();
        Versions {
            tester: tester_version(),
            tool_command: config.tool.cmd.clone(),
            tool_env,
            btrfs_progs: output("btrfs", &["--version"]),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|e| format!("unknown: {e}"), |s| s.trim().to_string()),
        }
    }

    /// Fixed values, for tests.
    pub fn fixed() -> Versions {
        Versions {
            tester: "0.0.0".into(),
            tool_command: vec!["tool".into()],
            tool_env: BTreeMap::new(),
            btrfs_progs: "btrfs-progs v0".into(),
            kernel: "0".into(),
        }
    }
}

/// `b2s3-harness <version>` plus ` (<commit>)` when git knows the checkout.
fn tester_version() -> String {
    let version = format!("b2s3-harness {}", env!("CARGO_PKG_VERSION"));
    let dir = env!("CARGO_MANIFEST_DIR");
    match Command::new("git").args(["-C", dir, "rev-parse", "--short", "HEAD"]).output() {
        Ok(o) if o.status.success() => format!("{version} ({})", String::from_utf8_lossy(&o.stdout).trim()),
        _ => version,
    }
}

fn output(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("unknown: `{program}` exited with {}", o.status),
        Err(e) => format!("unknown: running `{program}`: {e}"),
    }
}
