//! Fault rules of the proxy: what request they match, at which occurrence they fire, and
//! what they do then. Also the per-rule observation (matched, fired, held) and the way
//! the harness waits for a rule to fire. Pure bookkeeping: no sockets, no HTTP bodies;
//! `proxy::forward` asks [`RuleSet::decide`] and carries the decision out.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use regex::Regex;
use tokio::sync::watch;

use super::ProxyError;

/// One request as the proxy sees it (path-style addressing: `/<bucket>/<key>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Proxy-wide arrival number, from 1.
    pub seq: u64,
    pub method: String,
    pub bucket: String,
    /// The percent-decoded object key; empty for bucket-level requests (listings).
    pub key: String,
    /// The raw query string, e.g. `uploads` or `partNumber=1&uploadId=...`.
    pub query: String,
}

/// Which requests a rule counts.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Upper-case HTTP methods; empty means any method.
    pub methods: Vec<String>,
    /// Matched against the object key (not the bucket), e.g.
    /// `^case-7/subvol/[^/]+/(full|incremental)/chunk-`.
    pub key: Regex,
    /// When set, the raw query string must match too (e.g. `^uploadId=` for a
    /// CompleteMultipartUpload, `partNumber=` for an UploadPart).
    pub query: Option<Regex>,
}

impl Matcher {
    /// `methods` like `["PUT", "POST"]` (empty: any), `key_regex` on the object key.
    pub fn new(methods: &[&str], key_regex: &str) -> Result<Matcher, ProxyError> {
        Ok(Matcher {
            methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            key: compile(key_regex)?,
            query: None,
        })
    }

    /// Also require the query string to match `query_regex`.
    pub fn with_query(mut self, query_regex: &str) -> Result<Matcher, ProxyError> {
        self.query = Some(compile(query_regex)?);
        Ok(self)
    }

    pub fn matches(&self, request: &RequestInfo) -> bool {
        (self.methods.is_empty() || self.methods.contains(&request.method))
            && self.key.is_match(&request.key)
            && self
                .query
                .as_ref()
                .is_none_or(|q| q.is_match(&request.query))
    }
}

fn compile(pattern: &str) -> Result<Regex, ProxyError> {
    Regex::new(pattern).map_err(|e| ProxyError::BadPattern {
        pattern: pattern.to_string(),
        detail: e.to_string(),
    })
}

/// What a rule does to the request it fires on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Do not forward; notify, then keep the request pending until the client
    /// disconnects (the harness kills the tool) or the rule is released, in which case
    /// the request is forwarded late (so Hold + release is a pure delay).
    Hold,
    /// Forward; notify once the response has been handed to the client connection.
    /// The client may already have sent its next request when the harness acts: for an
    /// exact "between A and B" point, Hold B instead.
    HoldAfterResponse,
    /// Answer `status` with an S3-style XML error, without forwarding. `persistent`:
    /// every matching request from the n-th on (defeats the client's retries); otherwise
    /// only the n-th.
    Fail { status: u16, persistent: bool },
    /// Forward every matching request from the n-th on, and answer a successful GET
    /// with `body` (the whole object; a ranged answer gets its range of it) instead of
    /// the object's bytes. Length and checksum headers are made to fit `body`: a store
    /// that serves wrong bytes, which only a hash the client kept itself can tell.
    Replace { body: Bytes },
}

/// Called (on a proxy thread) every time a rule fires. Keep it short and non-blocking.
pub type FireCallback = Arc<dyn Fn(&Fired) + Send + Sync>;

/// A fault: fire `action` on the `nth` (1-based) request matching `matcher` since arming.
#[derive(Clone)]
pub struct Rule {
    pub matcher: Matcher,
    pub nth: u32,
    pub action: Action,
    pub on_fire: Option<FireCallback>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("matcher", &self.matcher)
            .field("nth", &self.nth)
            .field("action", &self.action)
            .field("on_fire", &self.on_fire.is_some())
            .finish()
    }
}

impl Rule {
    pub fn new(matcher: Matcher, nth: u32, action: Action) -> Rule {
        Rule {
            matcher,
            nth: nth.max(1),
            action,
            on_fire: None,
        }
    }

    /// Fail only the `nth` matching request with `status` (the client's retry passes).
    pub fn fail_once(matcher: Matcher, nth: u32, status: u16) -> Rule {
        Rule::new(
            matcher,
            nth,
            Action::Fail {
                status,
                persistent: false,
            },
        )
    }

    /// Fail every matching request from the `nth` on with `status`.
    pub fn fail_from(matcher: Matcher, nth: u32, status: u16) -> Rule {
        Rule::new(
            matcher,
            nth,
            Action::Fail {
                status,
                persistent: true,
            },
        )
    }

    /// Serve `body` for every matching GET from the `nth` on (see [`Action::Replace`]).
    pub fn replace_from(matcher: Matcher, nth: u32, body: Bytes) -> Rule {
        Rule::new(matcher, nth, Action::Replace { body })
    }

    /// Hold the `nth` matching request (see [`Action::Hold`]).
    pub fn hold(matcher: Matcher, nth: u32) -> Rule {
        Rule::new(matcher, nth, Action::Hold)
    }

    /// Notify after the `nth` matching request's response (see [`Action::HoldAfterResponse`]).
    pub fn hold_after_response(matcher: Matcher, nth: u32) -> Rule {
        Rule::new(matcher, nth, Action::HoldAfterResponse)
    }

    /// Also call `callback` whenever the rule fires (in addition to
    /// [`RuleHandle::wait_fired`]), e.g. to forward the event into the engine's channel.
    pub fn on_fire(mut self, callback: impl Fn(&Fired) + Send + Sync + 'static) -> Rule {
        self.on_fire = Some(Arc::new(callback));
        self
    }

    fn fires_at(&self, occurrence: u32) -> bool {
        match self.action {
            Action::Fail {
                persistent: true, ..
            }
            | Action::Replace { .. } => occurrence >= self.nth,
            _ => occurrence == self.nth,
        }
    }
}

/// One firing of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub request: RequestInfo,
    /// Which matching request this was (1-based, since arming).
    pub occurrence: u32,
    /// For `HoldAfterResponse`: the status the client received; for `Fail`: the status
    /// sent; for `Hold`: `None`.
    pub status: Option<u16>,
}

/// What has happened to a rule so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleStatus {
    /// Requests that matched since arming.
    pub matched: u32,
    /// Times the action was applied.
    pub fired: u32,
    /// Requests held right now (Hold only).
    pub held_now: u32,
    /// Held requests whose client went away before a release.
    pub abandoned: u32,
    pub released: bool,
    pub first_fired: Option<Fired>,
}

pub(crate) struct ArmedRule {
    pub(crate) id: u64,
    pub(crate) rule: Rule,
    status: Mutex<RuleStatus>,
    changed: Condvar,
    release: watch::Sender<bool>,
}

impl ArmedRule {
    fn lock(&self) -> MutexGuard<'_, RuleStatus> {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a firing and notifies waiters and the callback.
    pub(crate) fn record_fired(&self, fired: Fired) {
        {
            let mut status = self.lock();
            status.fired += 1;
            status.first_fired.get_or_insert_with(|| fired.clone());
        }
        self.changed.notify_all();
        if let Some(callback) = &self.rule.on_fire {
            callback(&fired);
        }
    }

    pub(crate) fn hold_started(&self) {
        self.lock().held_now += 1;
        self.changed.notify_all();
    }

    pub(crate) fn hold_ended(&self, abandoned: bool) {
        let mut status = self.lock();
        status.held_now = status.held_now.saturating_sub(1);
        status.abandoned += u32::from(abandoned);
        drop(status);
        self.changed.notify_all();
    }

    /// Resolves once the rule has been released (or disarmed).
    pub(crate) async fn released(&self) {
        let mut rx = self.release.subscribe();
        let _ = rx.wait_for(|released| *released).await;
    }

    fn release(&self) {
        self.lock().released = true;
        self.release.send_replace(true);
        self.changed.notify_all();
    }
}

/// The harness's side of an armed rule.
#[derive(Clone)]
pub struct RuleHandle {
    pub(crate) armed: Arc<ArmedRule>,
}

impl fmt::Debug for RuleHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleHandle")
            .field("id", &self.armed.id)
            .field("rule", &self.armed.rule)
            .finish()
    }
}

impl RuleHandle {
    pub fn id(&self) -> u64 {
        self.armed.id
    }

    pub fn status(&self) -> RuleStatus {
        self.armed.lock().clone()
    }

    /// Blocks until the rule has fired at least once (returns the first firing) or
    /// `timeout` passes (`None`).
    pub fn wait_fired(&self, timeout: Duration) -> Option<Fired> {
        self.wait_for(timeout, |s| s.first_fired.is_some())
            .and_then(|s| s.first_fired)
    }

    /// Blocks until `condition` holds on the rule's status or `timeout` passes.
    pub fn wait_for(
        &self,
        timeout: Duration,
        condition: impl Fn(&RuleStatus) -> bool,
    ) -> Option<RuleStatus> {
        let deadline = Instant::now() + timeout;
        let mut status = self.armed.lock();
        loop {
            if condition(&status) {
                return Some(status.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            status = self
                .armed
                .changed
                .wait_timeout(status, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// What the proxy must do with one request.
pub(crate) enum Decision {
    Forward,
    Hold(Arc<ArmedRule>, Fired),
    NotifyAfterResponse(Arc<ArmedRule>, Fired),
    Fail(Arc<ArmedRule>, Fired, u16),
    /// Forward, then swap the body (the firing is recorded by the caller).
    Replace(Arc<ArmedRule>, Fired, Bytes),
}

/// The armed rules, in arming order.
#[derive(Default)]
pub(crate) struct RuleSet {
    rules: Mutex<Vec<Arc<ArmedRule>>>,
    next_id: Mutex<u64>,
}

impl RuleSet {
    pub(crate) fn arm(&self, rule: Rule) -> RuleHandle {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        let armed = Arc::new(ArmedRule {
            id,
            rule,
            status: Mutex::new(RuleStatus::default()),
            changed: Condvar::new(),
            release: watch::Sender::new(false),
        });
        self.lock().push(armed.clone());
        RuleHandle { armed }
    }

    /// Removes the rule and releases anything it holds; returns its final status.
    pub(crate) fn disarm(&self, handle: &RuleHandle) -> RuleStatus {
        self.lock().retain(|r| r.id != handle.armed.id);
        handle.armed.release();
        handle.status()
    }

    pub(crate) fn release(&self, handle: &RuleHandle) {
        handle.armed.release();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<ArmedRule>>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `request` against every matching rule; the earliest-armed rule whose
    /// occurrence has come decides. A Fail or Hold firing is recorded here; a
    /// HoldAfterResponse firing is recorded by the caller once the response is out.
    pub(crate) fn decide(&self, request: &RequestInfo) -> Decision {
        let mut decision = Decision::Forward;
        for armed in self.lock().iter() {
            if !armed.rule.matcher.matches(request) {
                continue;
            }
            let occurrence = {
                let mut status = armed.lock();
                status.matched += 1;
                status.matched
            };
            if !matches!(decision, Decision::Forward) || !armed.rule.fires_at(occurrence) {
                continue;
            }
            let fired = Fired {
                request: request.clone(),
                occurrence,
                status: None,
            };
            decision = match &armed.rule.action {
                Action::Hold => Decision::Hold(armed.clone(), fired),
                Action::HoldAfterResponse => Decision::NotifyAfterResponse(armed.clone(), fired),
                Action::Fail { status, .. } => Decision::Fail(armed.clone(), fired, *status),
                Action::Replace { body } => Decision::Replace(armed.clone(), fired, body.clone()),
            };
        }
        match &decision {
            Decision::Hold(armed, fired) => {
                armed.hold_started();
                armed.record_fired(fired.clone());
            }
            Decision::Fail(armed, fired, status) => {
                armed.record_fired(Fired {
                    status: Some(*status),
                    ..fired.clone()
                });
            }
            _ => {}
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(seq: u64, key: &str) -> RequestInfo {
        RequestInfo {
            seq,
            method: "PUT".into(),
            bucket: "b".into(),
            key: key.into(),
            query: String::new(),
        }
    }

    fn fail_rule(key: &str, nth: u32, persistent: bool) -> Rule {
        Rule::new(
            Matcher::new(&["PUT"], key).unwrap(),
            nth,
            Action::Fail {
                status: 500,
                persistent,
            },
        )
    }

    fn failed(decision: Decision) -> bool {
        matches!(decision, Decision::Fail(..))
    }

    #[test]
    fn a_one_shot_fail_fires_on_exactly_the_nth_matching_request() {
        let rules = RuleSet::default();
        let handle = rules.arm(fail_rule("^a/", 2, false));
        let outcomes: Vec<bool> = (1..=4)
            .map(|i| failed(rules.decide(&put(i, "a/x"))))
            .collect();
        assert_eq!(outcomes, [false, true, false, false]);
        let status = handle.status();
        assert_eq!((status.matched, status.fired), (4, 1));
        assert_eq!(status.first_fired.unwrap().occurrence, 2);
    }

    #[test]
    fn a_persistent_fail_fires_on_every_request_from_the_nth_on() {
        let rules = RuleSet::default();
        rules.arm(fail_rule("^a/", 2, true));
        let outcomes: Vec<bool> = (1..=4)
            .map(|i| failed(rules.decide(&put(i, "a/x"))))
            .collect();
        assert_eq!(outcomes, [false, true, true, true]);
    }

    #[test]
    fn requests_outside_a_rules_key_pattern_are_not_counted() {
        let rules = RuleSet::default();
        let a = rules.arm(fail_rule("^a/", 1, false));
        assert!(!failed(rules.decide(&put(1, "b/x"))));
        assert_eq!(a.status().matched, 0);
        assert!(failed(rules.decide(&put(2, "a/x"))));
    }

    #[test]
    fn a_method_outside_the_set_does_not_match() {
        let matcher = Matcher::new(&["put"], "").unwrap();
        let get = RequestInfo {
            method: "GET".into(),
            ..put(1, "k")
        };
        assert!(!matcher.matches(&get));
        assert!(matcher.matches(&put(1, "k")));
    }

    #[test]
    fn a_query_pattern_narrows_the_match_to_one_multipart_step() {
        let matcher = Matcher::new(&["POST"], "")
            .unwrap()
            .with_query("^uploadId=")
            .unwrap();
        let create = RequestInfo {
            method: "POST".into(),
            query: "uploads".into(),
            ..put(1, "k")
        };
        let complete = RequestInfo {
            query: "uploadId=abc".into(),
            ..create.clone()
        };
        assert!(!matcher.matches(&create));
        assert!(matcher.matches(&complete));
    }

    #[test]
    fn a_disarmed_rule_no_longer_fires() {
        let rules = RuleSet::default();
        let handle = rules.arm(fail_rule("", 1, true));
        rules.disarm(&handle);
        assert!(!failed(rules.decide(&put(1, "k"))));
        assert!(handle.status().released);
    }

    #[test]
    fn a_hold_is_visible_to_waiters_and_the_callback() {
        let rules = RuleSet::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let rule = Rule::new(Matcher::new(&[], "").unwrap(), 1, Action::Hold).on_fire(move |f| {
            let _ = tx.send(f.request.seq);
        });
        let handle = rules.arm(rule);
        assert!(handle.wait_fired(Duration::from_millis(10)).is_none());
        assert!(matches!(rules.decide(&put(7, "k")), Decision::Hold(..)));
        assert_eq!(
            handle
                .wait_fired(Duration::from_millis(10))
                .unwrap()
                .request
                .seq,
            7
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(1)).unwrap(), 7);
        assert_eq!(handle.status().held_now, 1);
    }

    #[test]
    fn a_bad_key_pattern_is_reported_with_the_pattern() {
        let err = Matcher::new(&[], "(").unwrap_err();
        assert!(err.to_string().contains("\"(\""), "{err}");
    }
}
