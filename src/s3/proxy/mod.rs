//! The fault proxy: an HTTP/1.1 reverse proxy on a free 127.0.0.1 port in front of a
//! local S3 server. The tool's `AWS_ENDPOINT_URL_S3` points at it; every request is
//! forwarded unchanged (method, path, query, headers including Host, streaming bodies,
//! keep-alive) unless an armed [`Rule`] fires on it, in which case the request is failed
//! with an S3 error, held, or forwarded with a notification after its response. Rules of
//! different cases coexist, scoped by their key patterns, and a bounded log of requests
//! can be read per prefix. It owns its own tokio runtime; it must never be pointed at
//! real AWS (it speaks plain HTTP only and assumes path-style addressing).

mod forward;
pub mod log;
pub mod rule;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use thiserror::Error;
use tokio::runtime::Runtime;
use tokio::sync::watch;

pub use self::forward::s3_error_code;
use self::forward::{handle, Shared};
pub use self::log::{Disposition, LogEntry, LOG_CAPACITY};
pub use self::rule::{Action, Fired, Matcher, RequestInfo, Rule, RuleHandle, RuleStatus};

#[derive(Debug, Error)]
pub enum ProxyError {
    #[error("the fault proxy needs a plain http://host:port upstream URL, got {url:?}; point it at the local S3 server")]
    BadUpstream { url: String },
    #[error("starting the fault proxy failed while {step}: {source}")]
    Start {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("invalid regular expression {pattern:?} in a fault rule: {detail}")]
    BadPattern { pattern: String, detail: String },
}

/// A running fault proxy; stopped when dropped (held requests are dropped with it).
pub struct FaultProxy {
    runtime: Option<Runtime>,
    shared: Arc<Shared>,
    port: u16,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .field("upstream", &self.shared.upstream_authority)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Listens on a free 127.0.0.1 port and forwards to `upstream_url`
    /// (`http://127.0.0.1:<port>` of the moto server).
    pub fn start(upstream_url: &str) -> Result<FaultProxy, ProxyError> {
        let authority = upstream_authority(upstream_url)?;
        let start_error = |step| move |source| ProxyError::Start { step, source };
        let listener = TcpListener::bind(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
            .map_err(start_error("binding 127.0.0.1:0"))?;
        let port = listener
            .local_addr()
            .map_err(start_error("reading the bound port"))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(start_error("making the listener non-blocking"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("b2s3-fault-proxy")
            .enable_all()
            .build()
            .map_err(start_error("building its tokio runtime"))?;
        let shared = Arc::new(Shared {
            rules: Default::default(),
            log: Default::default(),
            upstream: Client::builder(TokioExecutor::new()).build_http(),
            upstream_authority: authority,
            seq: AtomicU64::new(0),
        });
        let (shutdown, stop_rx) = watch::channel(false);
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)
                .map_err(start_error("registering the listener"))?
        };
        runtime.spawn(accept_loop(listener, shared.clone(), stop_rx));
        Ok(FaultProxy {
            runtime: Some(runtime),
            shared,
            port,
            shutdown,
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the tool.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Arms a rule; its occurrence count starts now.
    pub fn arm(&self, rule: Rule) -> RuleHandle {
        self.shared.rules.arm(rule)
    }

    /// Removes a rule, releasing any request it holds (they are forwarded if their
    /// client is still there); returns its final status.
    pub fn disarm(&self, handle: &RuleHandle) -> RuleStatus {
        self.shared.rules.disarm(handle)
    }

    /// Releases the requests a Hold rule keeps (they are forwarded); the rule stays armed
    /// but will not fire again (its occurrence has passed).
    pub fn release(&self, handle: &RuleHandle) {
        self.shared.rules.release(handle)
    }

    /// Every logged request, oldest first (at most [`LOG_CAPACITY`]).
    pub fn log(&self) -> Vec<LogEntry> {
        self.shared.log.snapshot(None)
    }

    /// The logged requests whose key (or listing prefix) starts with `prefix`.
    pub fn log_for_prefix(&self, prefix: &str) -> Vec<LogEntry> {
        self.shared.log.snapshot(Some(prefix))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // e.g. EMFILE: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(shared.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `http://host:port[/]` -> `host:port`.
fn upstream_authority(url: &str) -> Result<String, ProxyError> {
    let bad = || ProxyError::BadUpstream {
        url: url.to_string(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(bad());
    }
    Ok(authority.to_string())
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_in_keys_are_decoded_and_broken_ones_kept() {
        assert_eq!(percent_decode("a%2Fb%20c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn only_a_plain_http_authority_is_accepted_as_upstream() {
        assert_eq!(
            upstream_authority("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert!(upstream_authority("https://s3.amazonaws.com").is_err());
        assert!(upstream_authority("http://host:1/path").is_err());
    }
}
