//! The proxy's request path: count the request against the rules, then forward it
//! (streaming both ways, headers and Host unchanged), fail it with an S3-style error, or
//! hold it. Every request is logged. Nothing here decides *which* request to fault;
//! that is `proxy::rule`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::http::request::Parts;
use hyper::{header, Method, Request, Response, StatusCode, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use super::log::{Disposition, Outcome, RequestLog};
use super::percent_decode;
use super::rule::{ArmedRule, Decision, Fired, RequestInfo, RuleSet};

pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;
pub(crate) type Upstream = Client<HttpConnector, ProxyBody>;

/// State shared by all connections of one proxy.
pub(crate) struct Shared {
    pub rules: RuleSet,
    pub log: RequestLog,
    pub upstream: Upstream,
    /// `host:port` of the S3 server behind the proxy.
    pub upstream_authority: String,
    pub seq: AtomicU64,
}

/// The hyper service: one request in, one response out.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let info = request_info(shared.seq.fetch_add(1, Ordering::Relaxed) + 1, &request);
    shared.log.begin(&info);
    let response = match shared.rules.decide(&info) {
        Decision::Forward => forward_streaming(&shared, &info, request, None).await,
        Decision::NotifyAfterResponse(rule, fired) => {
            forward_streaming(&shared, &info, request, Some((rule, fired))).await
        }
        Decision::Fail(_, _, status) => fail(&shared, &info, request, status).await,
        Decision::Hold(rule, _) => hold(&shared, &info, request, rule).await,
        Decision::Replace(rule, fired, body) => {
            let response = forward_streaming(&shared, &info, request, None).await;
            replace_body(response, &rule, fired, body).await
        }
    };
    Ok(response)
}

fn request_info(seq: u64, request: &Request<Incoming>) -> RequestInfo {
    let path = request.uri().path().trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    RequestInfo {
        seq,
        method: request.method().as_str().to_string(),
        bucket: percent_decode(bucket),
        key: percent_decode(key),
        query: request.uri().query().unwrap_or("").to_string(),
    }
}

async fn forward_streaming(
    shared: &Shared,
    info: &RequestInfo,
    request: Request<Incoming>,
    notify_after: Option<(Arc<ArmedRule>, Fired)>,
) -> Response<ProxyBody> {
    let counter = Arc::new(AtomicU64::new(0));
    let counting = counter.clone();
    let (parts, body) = request.into_parts();
    let body = body
        .map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counting.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        })
        .boxed_unsync();
    send_upstream(
        shared,
        info,
        parts,
        body,
        &counter,
        Disposition::Forwarded,
        notify_after,
    )
    .await
}

/// Sends the request to the upstream server and relays its response.
async fn send_upstream(
    shared: &Shared,
    info: &RequestInfo,
    parts: Parts,
    body: ProxyBody,
    request_bytes: &AtomicU64,
    disposition: Disposition,
    notify_after: Option<(Arc<ArmedRule>, Fired)>,
) -> Response<ProxyBody> {
    let (status, response) = match upstream_request(shared, parts, body).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let sent = content_length(&response);
            let done = outcome(disposition, Some(status), request_bytes, sent);
            shared.log.finish(info.seq, done);
            (status, response.map(BodyExt::boxed_unsync))
        }
        Err(message) => {
            let message = format!("proxy could not reach the S3 server: {message}");
            let done = outcome(Disposition::UpstreamError, Some(502), request_bytes, None);
            shared.log.finish(info.seq, done);
            (502, s3_error_response(info, 502, &message))
        }
    };
    match notify_after {
        None => response,
        Some((rule, fired)) => notify_when_sent(
            response,
            rule,
            Fired {
                status: Some(status),
                ..fired
            },
        ),
    }
}

/// The same request, aimed at the upstream server (path, query, headers, body kept).
async fn upstream_request(
    shared: &Shared,
    mut parts: Parts,
    body: ProxyBody,
) -> Result<Response<Incoming>, String> {
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = format!("http://{}{}", shared.upstream_authority, path_and_query);
    parts.uri = target
        .parse()
        .map_err(|e| format!("cannot build upstream URI {target}: {e}"))?;
    parts.version = Version::HTTP_11;
    let request = Request::from_parts(parts, body);
    shared
        .upstream
        .request(request)
        .await
        .map_err(|e| error_chain(&e))
}

/// Records the rule's firing once hyper has taken the whole response body.
fn notify_when_sent(
    response: Response<ProxyBody>,
    rule: Arc<ArmedRule>,
    fired: Fired,
) -> Response<ProxyBody> {
    response.map(|body| {
        let notify = move || rule.record_fired(fired);
        OnEnd {
            inner: body,
            on_end: Some(Box::new(notify)),
        }
        .boxed_unsync()
    })
}

/// Swaps the body of a 200 (or 206: its range) answer for `body`, with the length
/// fitted and any checksum header dropped; other answers pass unchanged. Records the
/// firing with the status the client gets.
async fn replace_body(
    response: Response<ProxyBody>,
    rule: &ArmedRule,
    fired: Fired,
    body: Bytes,
) -> Response<ProxyBody> {
    let status = response.status().as_u16();
    let range = match status {
        200 => Some((0, body.len())),
        206 => content_range(&response).filter(|(_, end)| *end <= body.len()),
        _ => None,
    };
    let Some((start, end)) = range else {
        return response;
    };
    let (mut parts, original) = response.into_parts();
    // Read the object's own bytes to the end, so the upstream connection stays usable.
    let _ = original.collect().await;
    let checksums: Vec<_> = parts
        .headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-amz-checksum-") || *name == "content-md5")
        .cloned()
        .collect();
    for name in checksums {
        parts.headers.remove(name);
    }
    let piece = body.slice(start..end);
    parts.headers.insert(header::CONTENT_LENGTH, piece.len().into());
    parts.headers.remove(header::TRANSFER_ENCODING);
    rule.record_fired(Fired {
        status: Some(status),
        ..fired
    });
    let body = Full::new(piece).map_err(|never| match never {}).boxed_unsync();
    Response::from_parts(parts, body)
}

/// `Content-Range: bytes <first>-<last>/<total>` as the half-open `(first, last + 1)`.
fn content_range<B>(response: &Response<B>) -> Option<(usize, usize)> {
    let text = response.headers().get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (first, last) = text.strip_prefix("bytes ")?.split('/').next()?.split_once('-')?;
    Some((first.trim().parse().ok()?, last.trim().parse::<usize>().ok()? + 1))
}

/// An error and its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Answers with an S3 error after reading the request body (so the client sees the
/// error, not a reset while it is still sending).
async fn fail(
    shared: &Shared,
    info: &RequestInfo,
    request: Request<Incoming>,
    status: u16,
) -> Response<ProxyBody> {
    let read = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().len() as u64)
        .unwrap_or(0);
    let response = s3_error_response(info, status, "injected by the b2s3-harness fault proxy");
    let sent = response.body().size_hint().exact();
    shared.log.finish(
        info.seq,
        outcome(
            Disposition::Failed,
            Some(status),
            &AtomicU64::new(read),
            sent,
        ),
    );
    response
}

/// Keeps the request until the rule is released (then forwards it) or the client goes
/// away (hyper then drops this future, and the guard records the abandonment).
async fn hold(
    shared: &Shared,
    info: &RequestInfo,
    request: Request<Incoming>,
    rule: Arc<ArmedRule>,
) -> Response<ProxyBody> {
    let mut guard = HoldGuard {
        shared,
        seq: info.seq,
        rule: rule.clone(),
        abandoned: true,
    };
    let (parts, body) = request.into_parts();
    let Ok(collected) = body.collect().await else {
        // The client went away while still sending; this response goes nowhere.
        return s3_error_response(info, 400, "client disconnected while held");
    };
    rule.released().await;
    guard.abandoned = false;
    drop(guard);
    let bytes = collected.to_bytes();
    let request_bytes = AtomicU64::new(bytes.len() as u64);
    let body = Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync();
    send_upstream(
        shared,
        info,
        parts,
        body,
        &request_bytes,
        Disposition::ReleasedAfterHold,
        None,
    )
    .await
}

struct HoldGuard<'a> {
    shared: &'a Shared,
    seq: u64,
    rule: Arc<ArmedRule>,
    abandoned: bool,
}

impl Drop for HoldGuard<'_> {
    fn drop(&mut self) {
        if self.abandoned {
            let nothing = AtomicU64::new(0);
            self.shared.log.finish(
                self.seq,
                outcome(Disposition::AbandonedWhileHeld, None, &nothing, None),
            );
        }
        self.rule.hold_ended(self.abandoned);
    }
}

fn outcome(
    disposition: Disposition,
    status: Option<u16>,
    request_bytes: &AtomicU64,
    response_bytes: Option<u64>,
) -> Outcome {
    Outcome {
        disposition,
        status,
        request_bytes: request_bytes.load(Ordering::Relaxed),
        response_bytes,
    }
}

fn content_length<B>(response: &Response<B>) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// An S3-style XML error response (no body for HEAD, as S3 does).
pub(crate) fn s3_error_response(
    info: &RequestInfo,
    status: u16,
    message: &str,
) -> Response<ProxyBody> {
    let code = s3_error_code(status);
    let request_id = format!("b2s3-proxy-{}", info.seq);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
         <Resource>/{}/{}</Resource><RequestId>{request_id}</RequestId></Error>",
        info.bucket, info.key
    );
    let body = if info.method == Method::HEAD.as_str() {
        Bytes::new()
    } else {
        Bytes::from(xml)
    };
    let mut response = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/xml"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", value);
    }
    response
}

/// The S3 error code real S3 uses for a status.
pub fn s3_error_code(status: u16) -> &'static str {
    match status {
        400 => "InvalidRequest",
        403 => "AccessDenied",
        404 => "NoSuchKey",
        409 => "OperationAborted",
        500 => "InternalError",
        501 => "NotImplemented",
        503 => "SlowDown",
        s if s >= 500 => "ServiceUnavailable",
        _ => "InvalidRequest",
    }
}

/// A response body that runs `on_end` when it ends or is dropped (hyper drops an empty
/// body without polling it).
struct OnEnd {
    inner: ProxyBody,
    on_end: Option<Box<dyn FnOnce() + Send>>,
}

impl OnEnd {
    fn fire(&mut self) {
        if let Some(on_end) = self.on_end.take() {
            on_end();
        }
    }
}

impl Body for OnEnd {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.fire();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for OnEnd {
    fn drop(&mut self) {
        self.fire();
    }
}
