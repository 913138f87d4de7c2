//! The fault proxy in front of a real moto server: it forwards S3 traffic unchanged
//! (aws-sdk and boto3), fails exactly the request a rule names, holds a request until its
//! client goes away or the rule is released, and keeps rules of different prefixes apart.

#[path = "s3_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use b2s3_harness::s3::proxy::{Disposition, FaultProxy, Matcher, Rule};
use b2s3_harness::s3::view::{StoreError, StoreView};
use b2s3_harness::s3::{PutOptions, S3Client};
use support::{client_at, start_local, Local, BUCKET};

fn with_proxy() -> (Local, FaultProxy, S3Client) {
    let local = start_local();
    let proxy = FaultProxy::start(&local.server.url()).expect("proxy starts");
    let via = client_at(&proxy.url());
    (local, proxy, via)
}

fn put(client: &S3Client, key: &str, body: &[u8]) -> Result<String, b2s3_harness::s3::S3Error> {
    client.put_object(key, body.to_vec(), &PutOptions::default())
}

fn puts(entries: &[b2s3_harness::s3::proxy::LogEntry]) -> Vec<(String, Option<u16>)> {
    entries
        .iter()
        .filter(|e| e.request.method == "PUT")
        .map(|e| (e.request.key.clone(), e.status))
        .collect()
}

/// A complete multipart upload of `parts` (1-based part numbers in order).
fn multipart_upload(client: &S3Client, key: &str, parts: &[&Vec<u8>]) {
    let sdk = client.sdk();
    client.block_on(async {
        let created = sdk
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        let id = created.upload_id().unwrap();
        let mut done = Vec::new();
        for (n, data) in (1..).zip(parts) {
            let body = ByteStream::from((*data).clone());
            let request = sdk
                .upload_part()
                .bucket(BUCKET)
                .key(key)
                .upload_id(id)
                .part_number(n);
            let out = request.body(body).send().await.unwrap();
            done.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(out.e_tag().unwrap())
                    .build(),
            );
        }
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(done))
            .build();
        let complete = sdk
            .complete_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .upload_id(id);
        complete.multipart_upload(done).send().await.unwrap();
    });
}

#[test]
fn put_get_head_and_multipart_pass_through_the_proxy_unchanged() {
    let (local, proxy, via) = with_proxy();
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let how = PutOptions {
        storage_class: Some("STANDARD_IA".into()),
        sse: Some("AES256".into()),
        content_type: None,
    };
    via.put_object("fw/one", body.clone(), &how).unwrap();
    assert_eq!(via.get("fw/one").unwrap(), body);
    assert_eq!(via.head("fw/one").unwrap().storage_class, "STANDARD_IA");

    let part1 = vec![1u8; 5 * 1024 * 1024];
    let part2 = vec![2u8; 1000];
    multipart_upload(&via, "fw/multi", &[&part1, &part2]);
    assert_eq!(
        local.client.head("fw/multi").unwrap().size,
        (part1.len() + part2.len()) as u64
    );

    let log = proxy.log_for_prefix("fw/");
    assert!(
        log.iter()
            .all(|e| e.status == Some(200) && e.disposition == Disposition::Forwarded),
        "{log:?}"
    );
    let first_put = log.iter().find(|e| e.request.method == "PUT").unwrap();
    assert_eq!(first_put.request_bytes, body.len() as u64);
}

#[test]
fn a_fail_500_rule_on_the_second_matching_put_fails_exactly_that_request() {
    let (local, proxy, via) = with_proxy();
    let rule = proxy.arm(Rule::fail_once(
        Matcher::new(&["PUT"], "^f/subvol/[^/]+/full/chunk-").unwrap(),
        2,
        500,
    ));
    for key in [
        "f/subvol/d/full/chunk-0.bin",
        "f/subvol/d/full/chunk-1.bin",
        "f/subvol/d/full/chunk-2.bin",
        "f/subvol/d/full/manifest.json",
    ] {
        put(&via, key, b"data").expect("the client's retry gets past a one-shot failure");
    }
    let seen = puts(&proxy.log_for_prefix("f/"));
    let statuses: Vec<Option<u16>> = seen.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        statuses,
        [Some(200), Some(500), Some(200), Some(200), Some(200)],
        "{seen:?}"
    );
    assert_eq!(seen[1].0, "f/subvol/d/full/chunk-1.bin");
    let status = rule.status();
    assert_eq!((status.matched, status.fired), (4, 1));
    assert_eq!(status.first_fired.unwrap().occurrence, 2);
    assert_eq!(local.client.list("f/").unwrap().len(), 4);
}

#[test]
fn a_replace_rule_serves_other_bytes_for_whole_and_ranged_gets_until_disarmed() {
    let (local, proxy, via) = with_proxy();
    let key = "r/subvol/d/full/chunk-x-0.bin";
    let original: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    put(&via, key, &original).unwrap();
    let mut altered = original.clone();
    altered[500] ^= 0xFF;
    let matcher = Matcher::new(&["GET"], &format!("^{}$", regex::escape(key))).unwrap();
    let rule = proxy.arm(Rule::replace_from(matcher, 1, altered.clone().into()));
    assert_eq!(via.get(key).unwrap(), altered, "whole GET through the proxy");
    assert_eq!(local.client.get(key).unwrap(), original, "the store is untouched");
    let ranged = via.block_on(async {
        let out = via
            .sdk()
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .range("bytes=495-504")
            .send()
            .await
            .unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    });
    assert_eq!(ranged, altered[495..505].to_vec(), "ranged GET gets its range of the body");
    assert_eq!(via.get(key).unwrap(), altered, "every GET from the n-th on");
    let status = proxy.disarm(&rule);
    assert_eq!((status.matched, status.fired), (3, 3));
    assert_eq!(via.get(key).unwrap(), original, "after disarming");
}

#[test]
fn a_persistent_503_rule_defeats_the_clients_retries() {
    let (local, proxy, via) = with_proxy();
    let rule = proxy.arm(Rule::fail_from(
        Matcher::new(&["PUT"], "^p/").unwrap(),
        1,
        503,
    ));
    let err = put(&via, "p/x", b"data").unwrap_err().to_string();
    assert!(err.contains("SlowDown"), "{err}");
    assert!(
        rule.status().fired >= 2,
        "the client retried and every attempt failed"
    );
    assert!(matches!(
        local.client.head("p/x"),
        Err(StoreError::NotFound(_))
    ));
    proxy.disarm(&rule);
    put(&via, "p/x", b"data").unwrap();
}

/// Sends a small PUT by hand, like a client that can be cut off at any moment.
fn raw_put(proxy: &FaultProxy, key: &str, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    let head = format!(
        "PUT /{BUCKET}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\r\n{body}",
        proxy.port(),
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

fn read_status(stream: &mut TcpStream, timeout: Duration) -> Option<String> {
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 => Some(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ),
        _ => None,
    }
}

#[test]
fn a_hold_rule_notifies_and_keeps_the_request_until_the_client_disconnects() {
    let (local, proxy, _via) = with_proxy();
    let (tx, rx) = mpsc::channel();
    let rule = proxy.arm(
        Rule::hold(Matcher::new(&["PUT"], "^h/.*chunk-").unwrap(), 1).on_fire(move |f| {
            let _ = tx.send(f.request.key.clone());
        }),
    );
    let mut stream = raw_put(&proxy, "h/chunk-0", "hello");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "h/chunk-0"
    );
    assert_eq!(
        rule.wait_fired(Duration::from_secs(1)).unwrap().occurrence,
        1
    );
    assert_eq!(
        read_status(&mut stream, Duration::from_millis(500)),
        None,
        "no response while held"
    );
    assert_eq!(rule.status().held_now, 1);
    assert!(
        matches!(local.client.head("h/chunk-0"), Err(StoreError::NotFound(_))),
        "not forwarded"
    );

    drop(stream); // what SIGKILLing the tool does to its connection
    let gone = rule.wait_for(Duration::from_secs(5), |s| {
        s.held_now == 0 && s.abandoned == 1
    });
    assert!(
        gone.is_some(),
        "the proxy noticed the client left: {:?}",
        rule.status()
    );
    proxy.release(&rule);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        matches!(local.client.head("h/chunk-0"), Err(StoreError::NotFound(_))),
        "never forwarded"
    );
    let entry = proxy.log_for_prefix("h/").pop().unwrap();
    assert_eq!(entry.disposition, Disposition::AbandonedWhileHeld);
}

#[test]
fn releasing_a_held_request_forwards_it_late() {
    let (local, proxy, _via) = with_proxy();
    let rule = proxy.arm(Rule::hold(Matcher::new(&["PUT"], "^r/").unwrap(), 1));
    let mut stream = raw_put(&proxy, "r/obj", "late");
    rule.wait_fired(Duration::from_secs(5)).expect("held");
    assert_eq!(read_status(&mut stream, Duration::from_millis(300)), None);
    let status = proxy.disarm(&rule);
    assert_eq!((status.fired, status.released), (1, true));
    let line = read_status(&mut stream, Duration::from_secs(5)).expect("a response after release");
    assert!(line.contains("200"), "{line}");
    assert_eq!(local.client.get("r/obj").unwrap(), b"late");
    assert_eq!(
        proxy.log_for_prefix("r/")[0].disposition,
        Disposition::ReleasedAfterHold
    );
}

#[test]
fn hold_after_response_notifies_once_the_object_is_stored() {
    let (local, proxy, via) = with_proxy();
    let rule = proxy.arm(Rule::hold_after_response(
        Matcher::new(&["PUT"], "^m/.*manifest").unwrap(),
        1,
    ));
    put(&via, "m/chunk-0", b"c").unwrap();
    assert!(
        rule.wait_fired(Duration::from_millis(100)).is_none(),
        "a chunk PUT does not match"
    );
    put(&via, "m/manifest-1.json", b"{}").unwrap();
    let fired = rule
        .wait_fired(Duration::from_secs(5))
        .expect("fired after the manifest PUT");
    assert_eq!(
        (fired.request.key.as_str(), fired.status),
        ("m/manifest-1.json", Some(200))
    );
    assert_eq!(local.client.get("m/manifest-1.json").unwrap(), b"{}");
}

#[test]
fn concurrent_rules_with_different_prefixes_do_not_interfere() {
    let (local, proxy, via) = with_proxy();
    let a = proxy.arm(Rule::fail_from(
        Matcher::new(&["PUT"], "^case-a/").unwrap(),
        1,
        500,
    ));
    let b = proxy.arm(Rule::fail_once(
        Matcher::new(&["PUT"], "^case-b/").unwrap(),
        3,
        500,
    ));
    let (a_results, b_results) = std::thread::scope(|scope| {
        let run = |prefix: &'static str| {
            let via = &via;
            scope.spawn(move || {
                (0..5)
                    .map(|i| put(via, &format!("{prefix}/o{i}"), b"x").is_ok())
                    .collect::<Vec<_>>()
            })
        };
        let (ta, tb) = (run("case-a"), run("case-b"));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!(a_results, [false; 5]);
    assert_eq!(b_results, [true; 5]);
    assert_eq!(b.status().fired, 1);
    assert_eq!(b.status().matched, 6, "five PUTs plus one retry");
    assert_eq!(
        a.status().matched,
        a.status().fired,
        "rule A saw only its own requests"
    );
    assert!(local.client.list("case-a/").unwrap().is_empty());
    assert_eq!(local.client.list("case-b/").unwrap().len(), 5);
}

#[test]
fn a_paginated_listing_shows_one_logged_request_per_page() {
    let (_local, proxy, via) = with_proxy();
    for i in 0..12 {
        put(&via, &format!("pg/k{i:02}"), b"").unwrap();
    }
    assert_eq!(via.list_with_page_size("pg/", 5).unwrap().len(), 12);
    let listings = proxy
        .log_for_prefix("pg/")
        .into_iter()
        .filter(|e| e.request.method == "GET" && e.request.key.is_empty())
        .count();
    assert_eq!(listings, 3);
}

const BOTO3_SCRIPT: &str = r#"
import boto3, botocore.config
s3 = boto3.client("s3", config=botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"}))
b = "harness-test"
s3.put_object(Bucket=b, Key="bt/small", Body=b"x" * 1000, StorageClass="STANDARD_IA", ServerSideEncryption="AES256")
mp = s3.create_multipart_upload(Bucket=b, Key="bt/chunk-0", StorageClass="DEEP_ARCHIVE", ServerSideEncryption="AES256")
part = s3.upload_part(Bucket=b, Key="bt/chunk-0", UploadId=mp["UploadId"], PartNumber=1, Body=b"y" * (6 * 1024 * 1024))
s3.complete_multipart_upload(Bucket=b, Key="bt/chunk-0", UploadId=mp["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
print("ok")
"#;

#[test]
fn boto3_uploads_through_the_proxy_and_retries_an_injected_upload_part_failure() {
    let (local, proxy, via) = with_proxy();
    let rule = proxy.arm(Rule::fail_once(
        Matcher::new(&["PUT"], "^bt/chunk-")
            .unwrap()
            .with_query("partNumber=")
            .unwrap(),
        1,
        500,
    ));
    let python = support::venv_dir().join("bin").join("python3");
    let started = Instant::now();
    let out = std::process::Command::new(python)
        .args(["-c", BOTO3_SCRIPT])
        .env_clear()
        .envs(via.env_for_tool_via(&proxy.url()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("boto3 script took {:?}", started.elapsed());
    assert_eq!(rule.status().fired, 1);
    let chunk = local.client.head("bt/chunk-0").unwrap();
    assert_eq!(
        (chunk.size, chunk.storage_class.as_str()),
        (6 * 1024 * 1024, "DEEP_ARCHIVE")
    );
    assert_eq!(
        local.client.head("bt/small").unwrap().sse.as_deref(),
        Some("AES256")
    );
}

#[test]
fn a_boto3_process_killed_while_its_chunk_put_is_held_leaves_nothing_behind() {
    let (local, proxy, via) = with_proxy();
    let rule = proxy.arm(Rule::hold(
        Matcher::new(&["PUT"], "^kill/.*chunk-").unwrap(),
        2,
    ));
    let script = r#"
import boto3
s3 = boto3.client("s3")
for i in range(3):
    s3.put_object(Bucket="harness-test", Key=f"kill/full/chunk-{i}.bin", Body=b"z" * 100000)
"#;
    let python = support::venv_dir().join("bin").join("python3");
    let mut tool = std::process::Command::new(python)
        .args(["-c", script])
        .env_clear()
        .envs(via.env_for_tool_via(&proxy.url()))
        .spawn()
        .unwrap();
    let fired = rule
        .wait_fired(Duration::from_secs(20))
        .expect("the second chunk PUT was held");
    assert_eq!(fired.request.key, "kill/full/chunk-1.bin");
    tool.kill().unwrap(); // SIGKILL
    tool.wait().unwrap();
    assert!(
        rule.wait_for(Duration::from_secs(5), |s| s.abandoned == 1
            && s.held_now == 0)
            .is_some(),
        "{:?}",
        rule.status()
    );
    let keys: Vec<String> = local
        .client
        .list("kill/")
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["kill/full/chunk-0.bin"]);
}

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

/// Run with `cargo test --test s3_proxy -- --ignored --nocapture` to see the numbers.
#[test]
#[ignore = "a measurement, not a check"]
fn proxy_overhead_on_a_50_mib_upload_and_download() {
    let (local, _proxy, via) = with_proxy();
    let body = vec![0x5au8; 50 * 1024 * 1024];
    for (name, client) in [
        ("direct", &local.client),
        ("proxy", &via),
        ("direct", &local.client),
        ("proxy", &via),
    ] {
        let started = Instant::now();
        put(client, &format!("perf/{name}"), &body).unwrap();
        let up = started.elapsed();
        let started = Instant::now();
        assert_eq!(
            client.get(&format!("perf/{name}")).unwrap().len(),
            body.len()
        );
        let down = started.elapsed();
        eprintln!(
            "{name:>6}: PUT 50 MiB {up:>8.2?} ({:.0} MB/s), GET {down:>8.2?} ({:.0} MB/s)",
            mb_per_s(body.len(), up),
            mb_per_s(body.len(), down)
        );
    }
}

#[test]
fn the_proxy_answers_502_when_the_server_is_gone() {
    let (mut local, proxy, via) = with_proxy();
    local.server.stop();
    let err = put(&via, "gone/x", b"x").unwrap_err().to_string();
    assert!(
        err.contains("502") || err.contains("InternalError"),
        "{err}"
    );
    assert_eq!(
        proxy.log_for_prefix("gone/")[0].disposition,
        Disposition::UpstreamError
    );
}
