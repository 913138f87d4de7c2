//! Fault injection for one invocation: kill plans (a delay or a log event through the
//! runner; an S3 request through a fault-proxy rule whose firing trips the runner's
//! [`KillSwitch`]), injected S3 errors (a persistent `fail_from` rule, so the tool's
//! retries fail too), planted stale locks, and waiting for the proxy to settle after a
//! kill so that an observation never races a request still in flight.
//!
//! Rules match keys of this case's prefix only (CONTRACT.md section 10), so cases that
//! share the proxy never see each other's faults. Without a proxy (real AWS) a request
//! kill falls back to a delay and an S3 error is skipped; both are noted.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::{Abort, Flow};
use crate::engine::history::ToolCommand;
use crate::gen::plan::{KillPoint, ObjectClass, RequestPoint, StaleLock};
use crate::oracle::local::pid_is_alive;
use crate::s3::proxy::{Disposition, Matcher, Rule, RuleHandle, RuleStatus};
use crate::tool::runner::{KillSwitch, KillTrigger};

/// How long to wait for in-flight writes of a killed tool to reach the server.
const SETTLE_LIMIT: Duration = Duration::from_secs(1);
/// Without a proxy nothing tells when writes are done; wait this long instead.
const SETTLE_WITHOUT_PROXY: Duration = Duration::from_secs(1);
/// Delay per occurrence used for a request kill when there is no proxy.
const FALLBACK_DELAY_PER_REQUEST: Duration = Duration::from_millis(400);

/// The rule matching the requests of one object class, in this case's prefix.
pub(super) fn request_matcher(
    prefix: &str,
    object: ObjectClass,
    command: ToolCommand,
) -> Flow<Matcher> {
    let tail = match object {
        ObjectClass::Chunk => r"subvol/[^/]+/(full|incremental)/chunk-[^/]+\.bin$",
        ObjectClass::Manifest => r"subvol/[^/]+/(full|incremental)/manifest-[^/]+\.json$",
        ObjectClass::Pointer => r"subvol/[^/]+/current\.json$",
    };
    let methods: &[&str] = match (command, object) {
        (ToolCommand::Backup, ObjectClass::Chunk) => &["PUT", "POST"],
        (ToolCommand::Backup, _) => &["PUT"],
        (ToolCommand::Restore, _) => &["GET"],
    };
    Matcher::new(methods, &format!("^{}{tail}", regex::escape(prefix)))
        .map_err(|e| Abort::harness("building a fault rule", e))
}

/// How one invocation is to be killed.
#[derive(Default)]
pub(super) struct KillPlan {
    pub trigger: Option<KillTrigger>,
    pub switch: Option<KillSwitch>,
    pub rule: Option<RuleHandle>,
    pub notes: Vec<String>,
}

/// The kill plan for `point`.
pub(super) fn kill_plan(
    engine: &Engine,
    prefix: &str,
    point: &KillPoint,
    command: ToolCommand,
) -> Flow<KillPlan> {
    let mut plan = KillPlan::default();
    match point {
        KillPoint::AfterDelay { ms } => {
            plan.trigger = Some(KillTrigger::AfterDelay(Duration::from_millis(*ms)))
        }
        KillPoint::OnEvent { event, nth } => {
            plan.trigger = Some(KillTrigger::OnEvent {
                name: event.clone(),
                nth: (*nth).max(1),
            })
        }
        KillPoint::OnRequest { at, before } => match engine.proxy() {
            Some(proxy) => {
                let switch = KillSwitch::new();
                let fire = switch.clone();
                let what = describe_request(at, *before);
                let matcher = request_matcher(prefix, at.object, command)?;
                let rule = if *before {
                    Rule::hold(matcher, at.nth)
                } else {
                    Rule::hold_after_response(matcher, at.nth)
                };
                let rule = rule.on_fire(move |fired| {
                    fire.fire(format!(
                        "{what}: {} {}",
                        fired.request.method, fired.request.key
                    ));
                });
                plan.rule = Some(proxy.arm(rule));
                plan.switch = Some(switch);
            }
            None => {
                let delay = FALLBACK_DELAY_PER_REQUEST * at.nth.max(1);
                plan.notes.push(format!(
                    "no fault proxy (real AWS): the kill {} fell back to a kill after {} ms",
                    describe_request(at, *before),
                    delay.as_millis()
                ));
                plan.trigger = Some(KillTrigger::AfterDelay(delay));
            }
        },
    }
    Ok(plan)
}

/// `before chunk request 2` / `after manifest request 1`.
pub(super) fn describe_request(at: &RequestPoint, before: bool) -> String {
    let object = match at.object {
        ObjectClass::Chunk => "chunk",
        ObjectClass::Manifest => "manifest",
        ObjectClass::Pointer => "pointer",
    };
    format!(
        "{} {object} request {}",
        if before { "before" } else { "after" },
        at.nth
    )
}

/// Removes a rule after its invocation; its final status.
pub(super) fn disarm(engine: &Engine, rule: Option<RuleHandle>) -> Option<RuleStatus> {
    let (proxy, rule) = (engine.proxy()?, rule?);
    Some(proxy.disarm(&rule))
}

/// Arms an S3 error on the `at` request and every one after it; `None` (with a note)
/// without a proxy.
pub(super) fn arm_s3_error(
    engine: &Engine,
    prefix: &str,
    at: &RequestPoint,
    status: u16,
    notes: &mut Vec<String>,
) -> Flow<Option<RuleHandle>> {
    let Some(proxy) = engine.proxy() else {
        notes.push(format!(
            "no fault proxy (real AWS): the S3 error {status} at {} was skipped",
            describe_request(at, true)
        ));
        return Ok(None);
    };
    let matcher = request_matcher(prefix, at.object, ToolCommand::Backup)?;
    Ok(Some(proxy.arm(Rule::fail_from(matcher, at.nth, status))))
}

/// The highest proxy sequence number seen so far for `prefix` (0 without a proxy).
pub(super) fn log_mark(engine: &Engine, prefix: &str) -> u64 {
    engine.proxy().map_or(0, |p| {
        p.log_for_prefix(prefix)
            .iter()
            .map(|e| e.request.seq)
            .max()
            .unwrap_or(0)
    })
}

/// Waits until no write of this prefix newer than `mark` is still in flight in the
/// proxy (bounded), so that the next observation sees everything the killed tool sent.
pub(super) fn settle(engine: &Engine, prefix: &str, mark: u64) {
    let Some(proxy) = engine.proxy() else {
        std::thread::sleep(SETTLE_WITHOUT_PROXY);
        return;
    };
    let deadline = Instant::now() + SETTLE_LIMIT;
    while Instant::now() < deadline {
        let in_flight = proxy.log_for_prefix(prefix).iter().any(|e| {
            e.request.seq > mark
                && e.disposition == Disposition::Pending
                && matches!(e.request.method.as_str(), "PUT" | "POST" | "DELETE")
        });
        if !in_flight {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes a stale lock at `path`: the PID of a process that has exited (spawned and
/// reaped here), nothing, or text that is no PID. Returns the content written.
pub(super) fn plant_stale_lock(path: &Path, content: StaleLock) -> Flow<String> {
    let text = match content {
        StaleLock::DeadPid => format!("{}\n", dead_pid()?),
        StaleLock::Empty => String::new(),
        StaleLock::Garbage => "stale-lock-planted-by-b2s3-harness\n".to_string(),
    };
    std::fs::write(path, &text)
        .map_err(|e| Abort::harness(format!("writing a stale lock at {}", path.display()), e))?;
    Ok(text)
}

/// The PID of a process that ran and was reaped (and is not reused yet).
fn dead_pid() -> Flow<u32> {
    for _ in 0..10 {
        let mut child = Command::new("true")
            .spawn()
            .map_err(|e| Abort::harness("spawning `true` for a dead PID", e))?;
        let pid = child.id();
        child
            .wait()
            .map_err(|e| Abort::harness("reaping `true`", e))?;
        if !pid_is_alive(pid as i32) {
            return Ok(pid);
        }
    }
    Err(Abort::Harness(
        "no dead PID found: every reaped PID was reused at once".into(),
    ))
}

/// Any write (PUT or POST) under this case's prefix: the first backup's first S3
/// request, which it makes only while holding the lock.
pub(super) fn request_matcher_any_write(prefix: &str) -> Flow<Matcher> {
    Matcher::new(&["PUT", "POST"], &format!("^{}", regex::escape(prefix)))
        .map_err(|e| Abort::harness("building a fault rule", e))
}
