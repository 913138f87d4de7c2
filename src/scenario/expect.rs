//! What a scenario requires beyond the engine's own checks: small declarative
//! [`Expect`]ations about one step of the case (an exit code, a log event, what a backup
//! published, how a restore resolved its chain, how many snapshots remain), judged by
//! [`check`] over the finished [`CaseReport`] (its history of invocations and its
//! observations of the store, state and snapshots).
//!
//! Pure: it reads the report and returns findings; it never runs anything. An
//! expectation with a property yields a [`Finding`] of that property; a *guard* (no
//! property) protects the scenario itself (the kill landed, the flag was passed): when
//! it fails, the scenario did not exercise what it claims, which is the harness's
//! problem and never blamed on the tool.

use std::fmt;

use crate::engine::history::{Invocation, Observation, Role, StepRecord};
use crate::engine::names::Kind;
use crate::engine::CaseReport;
use crate::gen::plan::VerifyMode;
use crate::oracle::finding::{Finding, Property};

/// One requirement on one step of a scenario (`step` is the plan step's index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The step's invocation in `role` exited with `code`.
    Exit { step: usize, role: Role, code: i32, property: Property },
    /// ... logged `event=<event>` with each field containing its value.
    Event { step: usize, role: Role, event: String, fields: Vec<(String, String)>, property: Property },
    /// ... failed with a first `ERROR` line whose `error=` contains `text`.
    Error { step: usize, role: Role, text: String, property: Property },
    /// The restore's own verification ran in `mode` (`restore_verify_complete
    /// mode=<mode>`, or `restore_verify_skipped mode=none`). Undecidable, and only
    /// noted, when the tool found the source snapshot gone (`restore_verify_source_missing`).
    Verified { step: usize, mode: VerifyMode, property: Property },
    /// Guard: the invocation's argv has (or has not) `flag` (with `value`, if given).
    Flag { step: usize, role: Role, flag: String, value: Option<String>, present: bool },
    /// Guard: the plan's fault killed the step's backup.
    Killed { step: usize },
    /// The backup published `subvolume` (a `backup_uploaded` line, its manifest and a
    /// `current.json` naming it) as a `kind`; an incremental's `parent_manifest` is the
    /// manifest published for it before.
    Published { step: usize, subvolume: String, kind: Kind, property: Property },
    /// The backup published exactly these subvolumes.
    PublishedOnly { step: usize, subvolumes: Vec<String>, property: Property },
    /// After the step the store holds no manifest and no `current.json`.
    NothingPublished { step: usize, property: Property },
    /// After the step there is no state file.
    NoState { step: usize, property: Property },
    /// Some manifest of the case lists at least two chunks.
    SeveralChunks { property: Property },
    /// The restore went through `--manifest-key` of an incremental whose chain of
    /// `links` manifests ends in a full, and exited 0.
    Chain { step: usize, links: usize, property: Property },
    /// After the step, `subvolume` has exactly `count` local snapshots.
    Snapshots { step: usize, subvolume: String, count: usize, property: Property },
    /// The invocation ended within `ms` milliseconds.
    Within { step: usize, role: Role, ms: u64, property: Property },
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub findings: Vec<Finding>,
    /// Failed guards: the scenario did not do what it claims (a harness problem).
    pub guards: Vec<String>,
    /// What the checks resolved (e.g. a restore's chain), for the report.
    pub notes: Vec<String>,
}

/// Judges every expectation against the report. Expectations on steps the case never
/// reached are skipped with a note when the case stopped early (the report says why),
/// and are guard failures otherwise.
pub fn check(report: &CaseReport, expectations: &[Expect]) -> Checked {
    let mut out = Checked::default();
    let stopped_early = report.harness_error.is_some() || report.interrupted || report.stopped.is_some();
    for e in expectations {
        if let Some(step) = e.step() {
            if record(report, step).is_none() {
                match stopped_early {
                    true => out.notes.push(format!("not judged (the case stopped before step {step}): {e}")),
                    false => out.guards.push(format!("step {step} has no record: {e}")),
                }
                continue;
            }
        }
        judge(report, e, &mut out);
    }
    out
}

fn judge(report: &CaseReport, e: &Expect, out: &mut Checked) {
    match e {
        Expect::Exit { step, role, code, property } => exit(report, *step, *role, *code, *property, out),
        Expect::Event { step, role, event, fields, property } => {
            logged(report, *step, *role, event, fields, *property, out)
        }
        Expect::Error { step, role, text, property } => error_line(report, *step, *role, text, *property, out),
        Expect::Verified { step, mode, property } => verified(report, *step, *mode, *property, out),
        Expect::Flag { step, role, flag, value, present } => {
            flag_guard(report, *step, *role, (flag, value.as_deref()), *present, out)
        }
        Expect::Killed { step } => killed(report, *step, out),
        Expect::Published { step, subvolume, kind, property } => {
            published(report, *step, subvolume, *kind, *property, out)
        }
        Expect::PublishedOnly { step, subvolumes, property } => {
            published_only(report, *step, subvolumes, *property, out)
        }
        Expect::NothingPublished { step, property } => nothing_published(report, *step, *property, out),
        Expect::NoState { step, property } => no_state(report, *step, *property, out),
        Expect::SeveralChunks { property } => several_chunks(report, *property, out),
        Expect::Chain { step, links, property } => chain(report, *step, *links, *property, out),
        Expect::Snapshots { step, subvolume, count, property } => {
            snapshots(report, *step, subvolume, *count, *property, out)
        }
        Expect::Within { step, role, ms, property } => within(report, *step, *role, *ms, *property, out),
    }
}

impl Expect {
    /// The plan step the expectation is about (`None`: the whole case).
    pub fn step(&self) -> Option<usize> {
        match self {
            Expect::Exit { step, .. }
            | Expect::Event { step, .. }
            | Expect::Error { step, .. }
            | Expect::Verified { step, .. }
            | Expect::Flag { step, .. }
            | Expect::Killed { step }
            | Expect::Published { step, .. }
            | Expect::PublishedOnly { step, .. }
            | Expect::NothingPublished { step, .. }
            | Expect::NoState { step, .. }
            | Expect::Chain { step, .. }
            | Expect::Snapshots { step, .. }
            | Expect::Within { step, .. } => Some(*step),
            Expect::SeveralChunks { .. } => None,
        }
    }

    /// Shorthand for [`Expect::Event`] with `(key, value)` fields.
    pub fn event(step: usize, role: Role, event: &str, fields: &[(&str, &str)], property: Property) -> Expect {
        let fields = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Expect::Event { step, role, event: event.to_string(), fields, property }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Exit { step, role, code, property } => {
                write!(f, "step {step}: the {} exits {code} ({})", role_word(*role), property.id())
            }
            Expect::Event { step, role, event, fields, property } => {
                let fields: String = fields.iter().map(|(k, v)| format!(" {k}={v}")).collect();
                write!(f, "step {step}: the {} logs event={event}{fields} ({})", role_word(*role), property.id())
            }
            Expect::Error { step, role, text, property } => {
                write!(f, "step {step}: the {} fails with error={text:?} ({})", role_word(*role), property.id())
            }
            Expect::Verified { step, mode, property } => {
                write!(f, "step {step}: the restore verifies in mode {} ({})", mode.as_str(), property.id())
            }
            Expect::Flag { step, role, flag, value, present } => {
                let with = if *present { "with" } else { "without" };
                write!(
                    f,
                    "step {step}: the {} is run {with} {flag} {}",
                    role_word(*role),
                    value.as_deref().unwrap_or("")
                )
            }
            Expect::Killed { step } => write!(f, "step {step}: the backup is killed by the plan's fault"),
            Expect::Published { step, subvolume, kind, property } => {
                write!(f, "step {step}: {subvolume} is published as a {} backup ({})", kind.store_word(), property.id())
            }
            Expect::PublishedOnly { step, subvolumes, property } => {
                write!(f, "step {step}: exactly {} published ({})", subvolumes.join(", "), property.id())
            }
            Expect::NothingPublished { step, property } => {
                write!(f, "step {step}: nothing is published ({})", property.id())
            }
            Expect::NoState { step, property } => {
                write!(f, "step {step}: no state file is written ({})", property.id())
            }
            Expect::SeveralChunks { property } => write!(f, "some manifest has several chunks ({})", property.id()),
            Expect::Chain { step, links, property } => {
                write!(
                    f,
                    "step {step}: the restore resolves a chain of {links} manifests back to a full ({})",
                    property.id()
                )
            }
            Expect::Snapshots { step, subvolume, count, property } => {
                write!(f, "step {step}: {subvolume} keeps {count} snapshot(s) ({})", property.id())
            }
            Expect::Within { step, role, ms, property } => {
                write!(f, "step {step}: the {} ends within {} s ({})", role_word(*role), ms / 1000, property.id())
            }
        }
    }
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Backup => "backup",
        Role::Contender => "contender",
        Role::Restore => "restore",
        Role::Retry => "retry",
    }
}

/// The record of plan step `step` (final restores share the index after the last step;
/// the first record with the index is the step's own).
fn record(report: &CaseReport, step: usize) -> Option<&StepRecord> {
    report.history.steps.iter().find(|r| r.index == step)
}

fn invocation(report: &CaseReport, step: usize, role: Role) -> Option<&Invocation> {
    record(report, step)?.invocations.iter().find(|i| i.role == role)
}

/// The last observation of the step.
fn after(report: &CaseReport, step: usize) -> Option<&Observation> {
    record(report, step)?.observations.last()
}

fn finding(
    property: Property,
    step: usize,
    message: String,
    expected: impl Into<String>,
    seen: impl Into<String>,
) -> Finding {
    Finding::new(property, Some(step), message).expected_seen(expected, seen)
}

/// The invocation or a guard failure saying it is missing.
fn need<'r>(report: &'r CaseReport, step: usize, role: Role, out: &mut Checked) -> Option<&'r Invocation> {
    let inv = invocation(report, step, role);
    if inv.is_none() {
        out.guards.push(format!("step {step} ran no {}", role_word(role)));
    }
    inv
}

fn exit(report: &CaseReport, step: usize, role: Role, code: i32, property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, role, out) else { return };
    if inv.exit_code() != Some(code) {
        let message = format!("the {} of step {step} did not exit {code}", role_word(role));
        out.findings
            .push(finding(property, step, message, format!("exit {code}"), inv.describe_end()).subject(describe(inv)));
    }
}

fn logged(
    report: &CaseReport,
    step: usize,
    role: Role,
    event: &str,
    fields: &[(String, String)],
    property: Property,
    out: &mut Checked,
) {
    let Some(inv) = need(report, step, role, out) else { return };
    let matches = |e: &&crate::engine::history::EventRecord| {
        fields.iter().all(|(k, v)| e.field(k).is_some_and(|seen| seen.contains(v.as_str())))
    };
    if inv.events_named(event).find(matches).is_none() {
        let want: String = fields.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let seen = inv.events.iter().rev().find(|e| e.name == event).or(inv.events.last());
        let message = format!("the {} of step {step} did not log event={event}{want}", role_word(role));
        let seen = seen.map_or("no event at all".to_string(), |e| e.render());
        out.findings
            .push(finding(property, step, message, format!("event={event}{want}"), seen).subject(describe(inv)));
    }
}

fn error_line(report: &CaseReport, step: usize, role: Role, text: &str, property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, role, out) else { return };
    let first = inv.first_error();
    if !first.and_then(|e| e.field("error")).is_some_and(|e| e.contains(text)) {
        let message = format!("the {} of step {step} did not fail with {text:?}", role_word(role));
        let seen = first.map_or_else(|| inv.describe_end(), |e| e.render());
        out.findings.push(
            finding(property, step, message, format!("an ERROR line with error={text}..."), seen)
                .subject(describe(inv)),
        );
    }
}

fn verified(report: &CaseReport, step: usize, mode: VerifyMode, property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, Role::Restore, out) else { return };
    if let Some(e) = inv.event("restore_verify_source_missing") {
        let path = e.field("path").unwrap_or("?");
        out.notes.push(format!(
            "step {step}: verify mode {} not decidable: the tool found its source {path} gone",
            mode.as_str()
        ));
        return;
    }
    let event = if mode == VerifyMode::None { "restore_verify_skipped" } else { "restore_verify_complete" };
    let fields = [("mode".to_string(), mode.as_str().to_string())];
    logged(report, step, Role::Restore, event, &fields, property, out);
}

fn flag_guard(
    report: &CaseReport,
    step: usize,
    role: Role,
    (flag, value): (&str, Option<&str>),
    present: bool,
    out: &mut Checked,
) {
    let Some(inv) = need(report, step, role, out) else { return };
    let has = match value {
        Some(v) => inv.arg_value(flag) == Some(v),
        None => inv.has_flag(flag),
    };
    if has != present {
        out.guards.push(format!(
            "step {step}: the {} was run {} {flag}: {}",
            role_word(role),
            if present { "without" } else { "with" },
            inv.argv.join(" ")
        ));
    } else if present {
        out.notes.push(format!("step {step}: the record shows `{}`", describe(inv)));
    }
}

fn killed(report: &CaseReport, step: usize, out: &mut Checked) {
    let Some(inv) = need(report, step, Role::Backup, out) else { return };
    let by_fault = inv.kill.as_ref().is_some_and(|k| k.reason == crate::engine::history::KillReason::Fault);
    if !(by_fault && inv.was_signalled()) {
        out.guards.push(format!("step {step}: the planned kill did not land ({})", inv.describe_end()));
    } else if let Some(l) = inv.kill.as_ref().and_then(|k| k.landed.as_ref()) {
        out.notes.push(format!("step {step}: the kill landed at {}", l.describe()));
    }
}

/// `backup --once`, `restore --subvolume data ...`: argv without program and config.
fn describe(inv: &Invocation) -> String {
    let start = inv.argv.iter().position(|w| w == "backup" || w == "restore").unwrap_or(0);
    let end = inv.argv.iter().rposition(|w| w.starts_with("--config")).unwrap_or(inv.argv.len()).max(start);
    inv.argv[start..end].join(" ")
}

/// The manifest key `backup_uploaded` names for `subvolume` in this invocation.
fn uploaded<'i>(inv: &'i Invocation, subvolume: &str) -> Option<&'i str> {
    inv.event_with("backup_uploaded", "subvolume", subvolume).and_then(|e| e.field("manifest_key"))
}

/// The manifest published for `subvolume` by the latest backup before `step`.
fn previous_manifest<'r>(report: &'r CaseReport, step: usize, subvolume: &str) -> Option<&'r str> {
    report
        .history
        .steps
        .iter()
        .filter(|r| r.index < step)
        .flat_map(|r| r.invocations.iter())
        .filter_map(|i| uploaded(i, subvolume))
        .next_back()
}

fn published(report: &CaseReport, step: usize, subvolume: &str, kind: Kind, property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, Role::Backup, out) else { return };
    let word = kind.store_word();
    let Some(key) = uploaded(inv, subvolume) else {
        let message = format!("the backup of step {step} did not publish {subvolume}");
        let expected = format!("event=backup_uploaded subvolume={subvolume} and exit 0");
        out.findings.push(finding(property, step, message, expected, inv.describe_end()).subject(describe(inv)));
        return;
    };
    let obs = after(report, step);
    let manifest = obs.and_then(|o| o.store.manifests.get(key));
    let pointer = obs.and_then(|o| o.pointer(subvolume)).map(|p| p.manifest_key.as_str());
    let seen_kind = manifest.map_or("no such manifest", |m| m.kind.as_str());
    if seen_kind != word || pointer != Some(key) {
        let message = format!("the backup of step {step} did not publish {subvolume} as a {word} backup");
        let seen = format!("manifest kind {seen_kind}, current.json naming {}", pointer.unwrap_or("nothing"));
        out.findings.push(
            finding(property, step, message, format!("a {word} manifest named by current.json"), seen)
                .subject(key.to_string()),
        );
        return;
    }
    let parent = manifest.and_then(|m| m.parent_manifest.as_deref());
    let before = previous_manifest(report, step, subvolume);
    if kind == Kind::Incremental && parent != before {
        let message = format!("the incremental of {subvolume} at step {step} does not chain to the previous backup");
        let (want, seen) = (before.unwrap_or("a previous manifest"), parent.unwrap_or("null"));
        out.findings.push(finding(property, step, message, want, seen).subject(format!("{key}: parent_manifest")));
        return;
    }
    out.notes.push(format!("step {step}: {subvolume} published {key} (`{}`)", describe(inv)));
}

fn published_only(report: &CaseReport, step: usize, subvolumes: &[String], property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, Role::Backup, out) else { return };
    let mut seen: Vec<String> =
        inv.events_named("backup_uploaded").filter_map(|e| e.field("subvolume")).map(str::to_string).collect();
    seen.sort();
    let mut want = subvolumes.to_vec();
    want.sort();
    if seen != want {
        let message = format!("the backup of step {step} published other subvolumes than asked");
        let show = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        out.findings.push(finding(property, step, message, show(&want), show(&seen)).subject(describe(inv)));
    }
}

fn nothing_published(report: &CaseReport, step: usize, property: Property, out: &mut Checked) {
    let Some(obs) = after(report, step) else { return };
    let first = obs
        .store
        .pointers
        .keys()
        .next()
        .map(|s| format!("current.json of {s}"))
        .or_else(|| obs.store.manifests.keys().next().cloned());
    if let Some(what) = first {
        let message = format!("step {step} published a backup where none may be published");
        out.findings.push(finding(property, step, message, "no manifest and no current.json", what));
    }
}

fn no_state(report: &CaseReport, step: usize, property: Property, out: &mut Checked) {
    let Some(obs) = after(report, step) else { return };
    if obs.state != crate::engine::state::StateObservation::Absent {
        let message = format!("a backup that published nothing wrote the state file at step {step}");
        let seen = match obs.state.parsed() {
            Some(s) => format!("a state recording {}", s.subvolumes.keys().cloned().collect::<Vec<_>>().join(", ")),
            None => "an unreadable state file".to_string(),
        };
        out.findings.push(finding(
            property,
            step,
            message,
            "no state file (CONTRACT.md 9: no state after a failure)",
            seen,
        ));
    }
}

fn several_chunks(report: &CaseReport, property: Property, out: &mut Checked) {
    let observations = report.history.steps.iter().flat_map(|r| r.observations.iter());
    let most = observations.flat_map(|o| o.store.manifests.iter()).max_by_key(|(_, m)| m.chunk_count);
    match most {
        Some((key, m)) if m.chunk_count >= 2 => {
            out.notes.push(format!("{key} has {} chunks", m.chunk_count));
        }
        other => {
            let seen = other
                .map_or("no manifest at all".to_string(), |(k, m)| format!("at most {} chunk(s) ({k})", m.chunk_count));
            let step = report.plan.steps.len();
            let message = "no manifest of the case has several chunks".to_string();
            let mut f = finding(property, step, message, "a manifest with at least 2 chunks", seen);
            f.step = None;
            out.findings.push(f);
        }
    }
}

fn chain(report: &CaseReport, step: usize, links: usize, property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, Role::Restore, out) else { return };
    let Some(key) = inv.arg_value("--manifest-key") else {
        out.guards.push(format!("step {step}: the restore did not use --manifest-key: {}", describe(inv)));
        return;
    };
    let Some(obs) = after(report, step) else { return };
    let mut chain = vec![key.to_string()];
    let mut kinds = Vec::new();
    while let Some(m) = chain.last().and_then(|k| obs.store.manifests.get(k)) {
        kinds.push(m.kind.clone());
        match &m.parent_manifest {
            Some(p) if !chain.contains(p) && chain.len() <= links + 1 => chain.push(p.clone()),
            _ => break,
        }
    }
    let shown: Vec<String> = chain
        .iter()
        .zip(kinds.iter().map(String::as_str).chain(std::iter::repeat("missing")))
        .map(|(k, kind)| format!("{k} ({kind})"))
        .collect();
    let shape_ok = kinds.len() == links
        && chain.len() == links
        && kinds.first().map(String::as_str) == Some("incremental")
        && kinds.last().map(String::as_str) == Some("full");
    if !shape_ok {
        let message =
            format!("the manifest restored at step {step} does not chain through {links} manifests to a full");
        out.findings.push(
            finding(
                property,
                step,
                message,
                format!("{links} manifests, incremental first, full last"),
                shown.join(" -> "),
            )
            .subject(key.to_string()),
        );
    } else if inv.exit_code() != Some(0) {
        let message = format!("the restore of step {step} through an incremental manifest key failed");
        out.findings.push(finding(property, step, message, "exit 0", inv.describe_end()).subject(key.to_string()));
    } else {
        out.notes.push(format!("step {step}: restored chain {}", shown.join(" -> ")));
    }
}

fn snapshots(report: &CaseReport, step: usize, subvolume: &str, count: usize, property: Property, out: &mut Checked) {
    let Some(obs) = after(report, step) else { return };
    let names = obs.snapshots_of(subvolume);
    if names.len() != count {
        let message = format!("after step {step}, {subvolume} keeps {} snapshot(s)", names.len());
        let seen = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        out.findings.push(finding(property, step, message, format!("{count} snapshot(s)"), seen));
    }
}

fn within(report: &CaseReport, step: usize, role: Role, ms: u64, property: Property, out: &mut Checked) {
    let Some(inv) = need(report, step, role, out) else { return };
    let took = inv.end_ms.saturating_sub(inv.start_ms);
    if took > ms {
        let message = format!("the {} of step {step} ran past its time limit", role_word(role));
        out.findings.push(
            finding(property, step, message, format!("at most {} ms", ms), format!("{took} ms")).subject(describe(inv)),
        );
    }
}
