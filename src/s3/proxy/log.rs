//! The proxy's bounded request log: one entry per request (method, bucket, key, query,
//! status, bytes, which fault applied), oldest dropped first. Readers filter by key
//! prefix, so cases sharing one proxy each see their own traffic. It records; it never
//! decides anything.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rule::RequestInfo;

/// Entries kept before the oldest are dropped.
pub const LOG_CAPACITY: usize = 20_000;

/// What the proxy did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Still in progress (or held).
    Pending,
    Forwarded,
    /// Answered by a `Fail` rule, not forwarded.
    Failed,
    /// Held, then forwarded after a release.
    ReleasedAfterHold,
    /// Held until the client went away; never forwarded.
    AbandonedWhileHeld,
    /// Forwarding failed (upstream down or connection error); answered 502.
    UpstreamError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub request: RequestInfo,
    pub disposition: Disposition,
    /// The status the client received, when it received one.
    pub status: Option<u16>,
    /// Request body bytes the proxy read from the client.
    pub request_bytes: u64,
    /// Response body size as announced (`Content-Length`) or sent by the proxy.
    pub response_bytes: Option<u64>,
    /// From arrival to the response head.
    pub elapsed: Option<Duration>,
}

impl LogEntry {
    /// Whether the request concerns `prefix`: its key starts with it, or (bucket-level
    /// listing) its `prefix=` query parameter does.
    pub fn concerns(&self, prefix: &str) -> bool {
        if !self.request.key.is_empty() {
            return self.request.key.starts_with(prefix);
        }
        self.request.query.split('&').any(|pair| {
            pair.strip_prefix("prefix=")
                .is_some_and(|value| super::percent_decode(value).starts_with(prefix))
        })
    }
}

/// An update to an entry once the outcome is known.
pub(crate) struct Outcome {
    pub disposition: Disposition,
    pub status: Option<u16>,
    pub request_bytes: u64,
    pub response_bytes: Option<u64>,
}

#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<(Instant, LogEntry)>>,
}

impl RequestLog {
    pub(crate) fn begin(&self, request: &RequestInfo) {
        let entry = LogEntry {
            request: request.clone(),
            disposition: Disposition::Pending,
            status: None,
            request_bytes: 0,
            response_bytes: None,
            elapsed: None,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back((Instant::now(), entry));
    }

    pub(crate) fn finish(&self, seq: u64, outcome: Outcome) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Sequence numbers grow along the deque; recent requests are near the back.
        if let Some((started, entry)) = entries.iter_mut().rev().find(|(_, e)| e.request.seq == seq)
        {
            entry.disposition = outcome.disposition;
            entry.status = outcome.status;
            entry.request_bytes = outcome.request_bytes;
            entry.response_bytes = outcome.response_bytes;
            entry.elapsed = Some(started.elapsed());
        }
    }

    pub(crate) fn snapshot(&self, prefix: Option<&str>) -> Vec<LogEntry> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .map(|(_, e)| e)
            .filter(|e| prefix.is_none_or(|p| e.concerns(p)))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seq: u64, key: &str, query: &str) -> RequestInfo {
        RequestInfo {
            seq,
            method: "GET".into(),
            bucket: "b".into(),
            key: key.into(),
            query: query.into(),
        }
    }

    #[test]
    fn a_listing_concerns_the_prefix_named_in_its_query() {
        let log = RequestLog::default();
        log.begin(&request(1, "", "list-type=2&prefix=case-1%2Fsubvol%2F"));
        log.begin(&request(2, "case-2/x", ""));
        let seen: Vec<u64> = log
            .snapshot(Some("case-1/"))
            .iter()
            .map(|e| e.request.seq)
            .collect();
        assert_eq!(seen, [1]);
    }

    #[test]
    fn a_finished_request_shows_its_status_and_bytes() {
        let log = RequestLog::default();
        log.begin(&request(1, "k", ""));
        let outcome = Outcome {
            disposition: Disposition::Forwarded,
            status: Some(200),
            request_bytes: 5,
            response_bytes: Some(0),
        };
        log.finish(1, outcome);
        let entry = &log.snapshot(None)[0];
        assert_eq!(
            (entry.status, entry.request_bytes, entry.disposition),
            (Some(200), 5, Disposition::Forwarded)
        );
    }

    #[test]
    fn the_log_drops_its_oldest_entries_beyond_capacity() {
        let log = RequestLog::default();
        for seq in 1..=(LOG_CAPACITY as u64 + 1) {
            log.begin(&request(seq, "k", ""));
        }
        let entries = log.snapshot(None);
        assert_eq!(entries.len(), LOG_CAPACITY);
        assert_eq!(entries[0].request.seq, 2);
    }
}
