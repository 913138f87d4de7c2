//! Hand-written command-line parsing that behaves like the Python tool's argparse setup
//! (CONTRACT.md section 1): `backup`/`restore` subcommands whose flags (including
//! `--config`) follow the subcommand in any order, `--flag value` and `--flag=value`,
//! unique-prefix abbreviations, help on stdout with exit 0, and usage errors as
//! `usage: ...` plus `<prog>: error: <message>` on stderr with exit 2. It also offers the
//! reference's own `--list-bugs`. This module only parses; it must not load the config or
//! act on the flags.

use std::path::PathBuf;

use crate::backup::BackupArgs;
use crate::config::VerifyMode;
use crate::logging::LEVEL_NAMES;
use crate::restore::RestoreArgs;

const PROG: &str = "btrfs_to_s3";

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Print this text on stdout and exit 0.
    Help(String),
    /// Print the bug variant names and exit 0.
    ListBugs,
    Backup(Common, BackupArgs),
    Restore(Common, RestoreArgs),
}

/// Flags both subcommands share.
#[derive(Debug, Clone)]
pub struct Common {
    pub config: String,
    pub log_level: Option<String>,
}

/// A usage error: print `text` on stderr and exit 2.
#[derive(Debug)]
pub struct UsageError {
    pub text: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Takes {
    Nothing,
    Value,
    Int,
}

struct Opt {
    name: &'static str,
    takes: Takes,
    choices: &'static [&'static str],
    required: bool,
    help: &'static str,
}

const fn opt(name: &'static str, takes: Takes, required: bool, help: &'static str) -> Opt {
    Opt { name, takes, choices: &[], required, help }
}

const fn choice(name: &'static str, choices: &'static [&'static str], help: &'static str) -> Opt {
    Opt { name, takes: Takes::Value, choices, required: false, help }
}

const BACKUP: &[Opt] = &[
    opt("--config", Takes::Value, true, "path to the TOML config (absolute; ~ is expanded)"),
    choice("--log-level", &LEVEL_NAMES, "override global.log_level"),
    opt("--dry-run", Takes::Nothing, false, "load the config and exit"),
    opt("--subvolume", Takes::Value, false, "back up only this subvolume (repeatable)"),
    opt("--once", Takes::Nothing, false, "run an incremental even if not yet due"),
    opt("--no-s3", Takes::Nothing, false, "stop after lock, state and plan"),
];

const RESTORE: &[Opt] = &[
    opt("--config", Takes::Value, true, "path to the TOML config (absolute; ~ is expanded)"),
    opt("--subvolume", Takes::Value, true, "subvolume name whose current.json is restored"),
    opt("--target", Takes::Value, true, "path the restored subvolume will have (must not exist)"),
    opt("--manifest-key", Takes::Value, false, "full S3 key of a manifest to restore instead"),
    opt("--restore-timeout", Takes::Int, false, "seconds to wait for archive restores"),
    opt("--wait-restore", Takes::Nothing, false, "request and wait for archive restores"),
    opt("--no-wait-restore", Takes::Nothing, false, "do not request archive restores"),
    choice("--verify", &VerifyMode::NAMES, "post-restore verification"),
    choice("--log-level", &LEVEL_NAMES, "override global.log_level"),
];

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, UsageError> {
    if args.is_empty() {
        return Ok(Parsed::Help(top_help()));
    }
    let mut extras: Vec<String> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help(top_help())),
            "--list-bugs" => return Ok(Parsed::ListBugs),
            "backup" | "restore" => {
                let (sub, mut rest) = parse_sub(arg, &args[i + 1..])?;
                extras.append(&mut rest);
                if !extras.is_empty() {
                    return Err(top_error(&format!("unrecognized arguments: {}", extras.join(" "))));
                }
                return Ok(sub);
            }
            a if a.starts_with('-') && a != "-" => extras.push(a.to_string()),
            other => {
                return Err(top_error(&format!(
                    "argument command: invalid choice: '{other}' (choose from 'backup', 'restore')"
                )))
            }
        }
    }
    Err(top_error("the following arguments are required: command"))
}

/// Parses a subcommand's flags; returns the result and the unrecognized arguments.
fn parse_sub(sub: &str, args: &[String]) -> Result<(Parsed, Vec<String>), UsageError> {
    let spec = if sub == "backup" { BACKUP } else { RESTORE };
    let mut seen: Vec<(&'static str, Option<String>)> = Vec::new();
    let mut extras = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            extras.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with("--") || arg.len() == 2 {
            if arg == "-h" {
                return Ok((Parsed::Help(sub_help(sub, spec)), Vec::new()));
            }
            extras.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        if "--help".starts_with(name) && name.len() > 2 && resolve(spec, name).is_none() {
            return Ok((Parsed::Help(sub_help(sub, spec)), Vec::new()));
        }
        let Some(opt) = resolve_checked(sub, spec, name)? else {
            extras.push(arg.clone());
            continue;
        };
        let value = take_value(sub, spec, opt, inline, args, &mut i)?;
        seen.push((opt.name, value));
    }
    let missing: Vec<&str> =
        spec.iter().filter(|o| o.required && !seen.iter().any(|(n, _)| *n == o.name)).map(|o| o.name).collect();
    if !missing.is_empty() {
        return Err(sub_error(sub, spec, &format!("the following arguments are required: {}", missing.join(", "))));
    }
    Ok((build(sub, &seen), extras))
}

/// Finds the option `name` names exactly or as a unique prefix.
fn resolve(spec: &'static [Opt], name: &str) -> Option<&'static Opt> {
    if let Some(exact) = spec.iter().find(|o| o.name == name) {
        return Some(exact);
    }
    let mut matches = spec.iter().filter(|o| o.name.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn resolve_checked(sub: &str, spec: &'static [Opt], name: &str) -> Result<Option<&'static Opt>, UsageError> {
    if let Some(found) = resolve(spec, name) {
        return Ok(Some(found));
    }
    let mut candidates: Vec<&str> = spec.iter().map(|o| o.name).filter(|n| n.starts_with(name)).collect();
    if "--help".starts_with(name) {
        candidates.insert(0, "--help");
    }
    if candidates.len() > 1 {
        let message = format!("ambiguous option: {name} could match {}", candidates.join(", "));
        return Err(sub_error(sub, spec, &message));
    }
    Ok(None)
}

fn take_value(
    sub: &str,
    spec: &'static [Opt],
    opt: &Opt,
    inline: Option<String>,
    args: &[String],
    i: &mut usize,
) -> Result<Option<String>, UsageError> {
    let err = |m: String| sub_error(sub, spec, &format!("argument {}: {m}", opt.name));
    if opt.takes == Takes::Nothing {
        return match inline {
            Some(v) => Err(err(format!("ignored explicit argument '{v}'"))),
            None => Ok(None),
        };
    }
    let value = match inline {
        Some(v) => v,
        None => match args.get(*i) {
            Some(next) if !(next.starts_with('-') && next.len() > 1 && next.parse::<f64>().is_err()) => {
                *i += 1;
                next.clone()
            }
            _ => return Err(err("expected one argument".to_string())),
        },
    };
    if opt.takes == Takes::Int && value.trim().parse::<i64>().is_err() {
        return Err(err(format!("invalid int value: '{value}'")));
    }
    if !opt.choices.is_empty() && !opt.choices.contains(&value.as_str()) {
        let quoted: Vec<String> = opt.choices.iter().map(|c| format!("'{c}'")).collect();
        return Err(err(format!("invalid choice: '{value}' (choose from {})", quoted.join(", "))));
    }
    Ok(Some(value))
}

fn build(sub: &str, seen: &[(&'static str, Option<String>)]) -> Parsed {
    let last = |name: &str| seen.iter().rev().find(|(n, _)| *n == name).and_then(|(_, v)| v.clone());
    let has = |name: &str| seen.iter().any(|(n, _)| *n == name);
    let common = Common { config: last("--config").unwrap_or_default(), log_level: last("--log-level") };
    if sub == "backup" {
        let subvolumes = seen.iter().filter(|(n, _)| *n == "--subvolume").filter_map(|(_, v)| v.clone()).collect();
        let args = BackupArgs { dry_run: has("--dry-run"), subvolumes, once: has("--once"), no_s3: has("--no-s3") };
        return Parsed::Backup(common, args);
    }
    let wait = seen.iter().rev().find_map(|(n, _)| match *n {
        "--wait-restore" => Some(true),
        "--no-wait-restore" => Some(false),
        _ => None,
    });
    let args = RestoreArgs {
        subvolume: last("--subvolume").unwrap_or_default(),
        target: PathBuf::from(last("--target").unwrap_or_default()),
        manifest_key: last("--manifest-key"),
        restore_timeout: last("--restore-timeout").and_then(|v| v.trim().parse().ok()),
        wait_restore: wait,
        verify: last("--verify").and_then(|v| VerifyMode::parse(&v)),
    };
    Parsed::Restore(common, args)
}

fn invocation(o: &Opt) -> String {
    let metavar = o.name.trim_start_matches("--").replace('-', "_").to_uppercase();
    match (o.takes, o.choices.is_empty()) {
        (Takes::Nothing, _) => o.name.to_string(),
        (_, false) => format!("{} {{{}}}", o.name, o.choices.join(",")),
        (_, true) => format!("{} {metavar}", o.name),
    }
}

/// The usage line(s), wrapped like argparse at 80 columns.
fn usage(prog: &str, parts: &[String]) -> String {
    let lead = format!("usage: {prog} ");
    let indent = " ".repeat(lead.len());
    let mut lines = vec![lead.trim_end().to_string()];
    for part in parts {
        let last = lines.last_mut().expect("lines start non-empty");
        if last.len() + 1 + part.len() > 78 && last.len() > lead.len() {
            lines.push(format!("{indent}{part}"));
        } else {
            last.push(' ');
            last.push_str(part);
        }
    }
    lines.join("\n")
}

fn sub_usage(sub: &str, spec: &[Opt]) -> String {
    let mut parts = vec!["[-h]".to_string()];
    parts.extend(spec.iter().map(|o| if o.required { invocation(o) } else { format!("[{}]", invocation(o)) }));
    usage(&format!("{PROG} {sub}"), &parts)
}

fn top_usage() -> String {
    usage(PROG, &["[-h]".to_string(), "{backup,restore}".to_string(), "...".to_string()])
}

fn help_line(invocation: &str, help: &str) -> String {
    if invocation.len() <= 20 {
        format!("  {invocation:<22}{help}\n")
    } else {
        format!("  {invocation}\n{:24}{help}\n", "")
    }
}

fn top_help() -> String {
    let mut text = format!("{}\n\nBack up btrfs subvolumes to S3 with btrfs send, and restore them.\n\n", top_usage());
    text.push_str("positional arguments:\n  {backup,restore}\n");
    text.push_str(&help_line("  backup", "snapshot due subvolumes and upload them to S3"));
    text.push_str(&help_line("  restore", "restore a subvolume from S3 into a new target"));
    text.push_str("\noptions:\n");
    text.push_str(&help_line("-h, --help", "show this help message and exit"));
    text
}

fn sub_help(sub: &str, spec: &[Opt]) -> String {
    let mut text = format!("{}\n\noptions:\n", sub_usage(sub, spec));
    text.push_str(&help_line("-h, --help", "show this help message and exit"));
    for o in spec {
        text.push_str(&help_line(&invocation(o), o.help));
    }
    text
}

fn top_error(message: &str) -> UsageError {
    UsageError { text: format!("{}\n{PROG}: error: {message}\n", top_usage()) }
}

fn sub_error(sub: &str, spec: &[Opt], message: &str) -> UsageError {
    UsageError { text: format!("{}\n{PROG} {sub}: error: {message}\n", sub_usage(sub, spec)) }
}

#[cfg(test)]
mod tests;
