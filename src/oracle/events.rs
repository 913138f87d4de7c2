//! P10 clean-failure, judged on one invocation's exit status and stderr: the exit code
//! is one of CONTRACT.md 1.3 (0, 1, 2) and agrees with the error event logged; a
//! non-zero exit carries an `event=... ` ERROR line, a `config error:` line or (exit 2)
//! an argparse usage error; a Python traceback is always a finding. An invocation the
//! harness killed on purpose is only checked for tracebacks.
//!
//! The log parser belongs to the tool runner; this module takes its result as plain
//! values ([`LogEvent`]) plus the raw stderr text, and does no I/O.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use super::finding::{Finding, Property};

/// One parsed `event=<name> key=value ...` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogEvent {
    pub name: String,
    /// `INFO`, `ERROR`, ... when the parser kept it. Without it, ERROR lines are found
    /// in the raw stderr instead.
    pub level: Option<String>,
    pub fields: BTreeMap<String, String>,
}

/// What one invocation left to judge.
#[derive(Debug, Clone, Copy)]
pub struct InvocationOutcome<'a> {
    /// `None` when it ended by a signal.
    pub exit_code: Option<i32>,
    /// The harness killed it on purpose (a fault): exit status says nothing.
    pub killed_by_harness: bool,
    pub events: &'a [LogEvent],
    pub stderr: &'a str,
}

/// Exit codes CONTRACT.md section 2 and 1.3 give each error event.
pub const ERROR_EVENT_EXIT: [(&str, i32); 10] = [
    ("backup_lock_failed", 1),
    ("backup_no_subvolumes", 2),
    ("backup_stream_failed", 1),
    ("btrfs_send_failed", 1),
    ("restore_no_credentials", 1),
    ("restore_current_failed", 1),
    ("restore_manifest_failed", 1),
    ("restore_failed", 1),
    ("restore_verify_failed", 1),
    ("config error", 2),
];

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

fn error_line_events(stderr: &str) -> Vec<String> {
    static ERROR_LINE: OnceLock<Regex> = OnceLock::new();
    let re = regex(&ERROR_LINE, r"(?m)\bERROR\s+\S+\s+event=(\S+)");
    re.captures_iter(stderr).map(|c| c[1].to_string()).collect()
}

fn has_config_error(stderr: &str) -> bool {
    stderr.lines().any(|l| l.starts_with("config error: "))
}

fn has_usage_error(stderr: &str) -> bool {
    stderr.lines().any(|l| l.starts_with("usage: "))
        && stderr.lines().any(|l| l.contains(": error: "))
}

/// The exception line of the first Python traceback in `stderr`, if any.
pub fn traceback(stderr: &str) -> Option<String> {
    let mut lines = stderr
        .lines()
        .skip_while(|l| !l.starts_with("Traceback (most recent call last)"));
    lines.next()?;
    let exception = lines.find(|l| !l.starts_with(' ') && !l.is_empty());
    Some(exception.unwrap_or("(exception line missing)").to_string())
}

/// Judges one invocation (P10). `what` names it in messages, e.g. `backup --once`.
pub fn check_invocation(inv: &InvocationOutcome, what: &str, step: Option<usize>) -> Vec<Finding> {
    let p10 = |message: String| Finding::new(Property::CleanFailure, step, message);
    let mut findings = Vec::new();
    let tb = traceback(inv.stderr);
    if let Some(exception) = &tb {
        findings
            .push(p10(format!("{what}: Python traceback on stderr")).subject(exception.clone()));
    }
    if inv.killed_by_harness {
        return findings;
    }
    let Some(code) = inv.exit_code else {
        findings.push(
            p10(format!(
                "{what}: ended by a signal the harness did not send"
            ))
            .expected_seen("exit code 0, 1 or 2", "killed by a signal"),
        );
        return findings;
    };
    if !(0..=2).contains(&code) {
        findings.push(
            p10(format!("{what}: exit code outside CONTRACT.md 1.3"))
                .expected_seen("0, 1 or 2", code.to_string()),
        );
    }
    let errors = error_events(inv);
    if code != 0 && errors.is_empty() && tb.is_none() && !(code == 2 && has_usage_error(inv.stderr))
    {
        let last = inv
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(empty stderr)");
        let f = p10(format!(
            "{what}: exit {code} without an event=... ERROR line or a config error: line"
        ));
        findings.push(
            f.subject(last.to_string())
                .expected_seen("an ERROR event or config error line", "none"),
        );
    }
    if let Some((event, documented)) = mismatched_exit(&errors, code) {
        let f = p10(format!(
            "{what}: exit code does not match the error logged ({event})"
        ));
        findings.push(f.subject(event).expected_seen(documented, code.to_string()));
    }
    findings
}

/// Names of the error events logged, plus `config error` for a config error line.
fn error_events(inv: &InvocationOutcome) -> Vec<String> {
    let mut names: Vec<String> = inv
        .events
        .iter()
        .filter(|e| e.level.as_deref() == Some("ERROR"))
        .map(|e| e.name.clone())
        .collect();
    for name in error_line_events(inv.stderr) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if has_config_error(inv.stderr) {
        names.push("config error".to_string());
    }
    names
}

/// The first error whose documented exit code differs from `code`; exit 0 never goes
/// with an error event.
fn mismatched_exit(errors: &[String], code: i32) -> Option<(String, String)> {
    errors.iter().find_map(|name| {
        let documented = ERROR_EVENT_EXIT
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c);
        match documented {
            Some(c) if c != code => Some((name.clone(), c.to_string())),
            None if code == 0 => Some((name.clone(), "non-zero".to_string())),
            _ => None,
        }
    })
}
