//! [`Engine`]: what every case of a run shares, built once from the [`Session`]: the
//! fixture, the S3 client, the run prefix, the tool's S3 environment, and a fault proxy
//! in front of the S3 endpoint when that is a plain `http://` URL (the embedded server
//! or a local one). On real AWS there is no proxy: kills at an S3 request fall back to a
//! delay and injected S3 errors are skipped, and each case says so in its notes.
//!
//! The engine is `Sync`: cases run from several threads at once, each with its own case
//! area, S3 sub-prefix and proxy rules scoped to that prefix.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use super::options::CaseOptions;
use super::report::CaseReport;
use crate::gen::plan::Plan;
use crate::s3::proxy::ProxyError;
use crate::s3::{FaultProxy, S3Client};
use crate::session::Session;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("starting the fault proxy in front of the S3 endpoint {url}: {source}")]
    Proxy {
        url: String,
        #[source]
        source: ProxyError,
    },
}

/// Runs cases against one session.
pub struct Engine<'s> {
    session: &'s Session,
    proxy: Option<FaultProxy>,
    counter: AtomicU64,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("prefix", &self.session.prefix())
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl<'s> Engine<'s> {
    /// The engine of `session`; starts the fault proxy for an `http://` endpoint.
    pub fn new(session: &'s Session) -> Result<Engine<'s>, EngineError> {
        let proxy = match session.s3.endpoint_url.as_deref() {
            Some(url) if url.starts_with("http://") => {
                Some(FaultProxy::start(url).map_err(|source| EngineError::Proxy {
                    url: url.to_string(),
                    source,
                })?)
            }
            _ => None,
        };
        Ok(Engine {
            session,
            proxy,
            counter: AtomicU64::new(0),
        })
    }

    /// Runs one case to its end and reports what happened. Never panics on tool or
    /// harness failures: those are in the report.
    pub fn run_case(&self, plan: &Plan, options: &CaseOptions) -> CaseReport {
        super::case::run(self, plan, options)
    }

    pub fn session(&self) -> &Session {
        self.session
    }

    pub fn client(&self) -> &S3Client {
        &self.session.s3.client
    }

    /// The fault proxy, when the endpoint allows one.
    pub fn proxy(&self) -> Option<&FaultProxy> {
        self.proxy.as_ref()
    }

    /// `<run prefix>case-<id>/`.
    pub fn case_prefix(&self, case_id: &str) -> String {
        format!("{}case-{case_id}/", self.session.prefix())
    }

    /// The S3 environment of every tool invocation (through the proxy when there is one).
    pub(crate) fn tool_env(&self) -> BTreeMap<String, String> {
        let via = self.proxy.as_ref().map(FaultProxy::url);
        self.session
            .s3
            .tool_env(via.as_deref())
            .into_iter()
            .collect()
    }

    /// A fresh case id: the plan's origin (`s<seed>-c<case>` or its name) and a suffix
    /// unique to this process and moment, so reruns never share a prefix or area.
    pub fn new_case_id(&self, plan: &Plan) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!(
            "{}-{:x}{:x}-{n}",
            case_label(plan),
            millis,
            std::process::id()
        )
    }
}

/// `s<seed>-c<case>`, or the plan's name reduced to `[A-Za-z0-9_.-]`.
fn case_label(plan: &Plan) -> String {
    if let (Some(seed), Some(case)) = (plan.seed, plan.case) {
        return format!("s{seed}-c{case}");
    }
    let name: String = plan
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "plan".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::plan::{ToolSettings, VerifyMode, PLAN_FORMAT};

    fn plan(name: &str, seed: Option<u64>) -> Plan {
        Plan {
            format: PLAN_FORMAT,
            seed,
            case: seed.map(|_| 7),
            name: name.to_string(),
            tool: ToolSettings {
                chunk_size_bytes: 1,
                retain: 1,
                storage_class_chunks: "STANDARD".into(),
                storage_class_manifest: "STANDARD".into(),
                sse: "AES256".into(),
                concurrency: 1,
                spool_enabled: false,
                spool_size_bytes: 1,
                full_every_days: 1,
                incremental_every_days: 1,
                verify_mode: VerifyMode::Full,
                sample_max_files: 1,
                wait_for_restore: true,
                restore_timeout_seconds: 1,
            },
            subvolumes: Vec::new(),
            steps: Vec::new(),
        }
    }

    #[test]
    fn a_case_label_names_the_seed_and_case_or_a_path_safe_plan_name() {
        assert_eq!(case_label(&plan("x", Some(3))), "s3-c7");
        assert_eq!(
            case_label(&plan("scenario full/kill", None)),
            "scenario-full-kill"
        );
        assert_eq!(case_label(&plan("..", None)), "plan");
    }
}
