//! The oracle's store checks against a real S3 server (moto): a correctly published store
//! gives no finding, and each corruption (made to the objects as they sit on the server)
//! gives the property PROPERTIES.md names for it. The crafted-store tests in
//! `oracle_store.rs` cover more cases; this file shows the verdicts hold when storage
//! classes, SSE, ETags and bodies come from a real server through the real client.

mod s3_support;

use std::collections::BTreeMap;

use b2s3_harness::oracle::finding::Property;
use b2s3_harness::oracle::manifest::BackupKind;
use b2s3_harness::oracle::pyjson::python_pretty;
use b2s3_harness::oracle::store::{StoreChecker, StoreExpect, StoreReport};
use b2s3_harness::oracle::testkit::{publish, send_stream, stream_uuid, Publish};
use b2s3_harness::s3::view::{MemStore, StoreView};
use b2s3_harness::s3::{PutOptions, S3Client};
use serde_json::{json, Value};

fn expect(prefix: &str) -> StoreExpect {
    StoreExpect {
        prefix: prefix.to_string(),
        subvolumes: vec!["data".into()],
        chunk_size: 1000,
        storage_class_chunks: "STANDARD_IA".into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
    }
}

/// Keys of the correct store under `prefix`: a full (3 chunks) and an incremental on it.
struct Keys {
    full: String,
    inc: String,
    chunk0: String,
    chunk1: String,
    pointer: String,
}

fn correct_store(prefix: &str) -> (MemStore, Keys) {
    let mut store = MemStore::default();
    let e = expect(prefix);
    let full = send_stream("data__20260101T020001Z__full", 2200, None);
    let inc = send_stream("data__20260102T020001Z__inc", 1500, Some(stream_uuid("data__20260101T020001Z__full")));
    let base = |kind, ts, stream| Publish { subvolume: "data", kind, ts, stream, parent_manifest: None, snapshots_dir: "/snap" };
    let full_key = publish(&mut store, &e, &base(BackupKind::Full, "20260101T020000Z", &full));
    let inc_publish = Publish { parent_manifest: Some(&full_key), ..base(BackupKind::Incremental, "20260102T020000Z", &inc) };
    let inc_key = publish(&mut store, &e, &inc_publish);
    let chunk = |i: u32| format!("{prefix}subvol/data/full/chunk-20260101T020000Z-{i}.bin");
    let keys = Keys { full: full_key, inc: inc_key, chunk0: chunk(0), chunk1: chunk(1), pointer: format!("{prefix}subvol/data/current.json") };
    (store, keys)
}

/// Puts every object of `mem` on the server with its storage class and SSE: chunks first,
/// then manifests with their chunk ETags set to what the server returned (as the tool
/// records them), then pointers.
fn upload(client: &S3Client, mem: &MemStore) {
    let put = |key: &str, body: Vec<u8>, class: &str, sse: &Option<String>, json: bool| {
        let how = PutOptions { storage_class: Some(class.to_string()), sse: sse.clone(), content_type: json.then(|| "application/json".to_string()) };
        client.put_object(key, body, &how).expect("put succeeds")
    };
    let mut etags = BTreeMap::new();
    for (key, (info, body)) in mem.objects.iter().filter(|(k, _)| k.contains("/chunk-")) {
        etags.insert(key.clone(), put(key, body.clone(), &info.storage_class, &info.sse, false));
    }
    for (key, (info, body)) in mem.objects.iter().filter(|(k, _)| k.contains("/manifest-")) {
        let body = match serde_json::from_slice::<Value>(body) {
            Ok(mut manifest) => {
                for chunk in manifest["chunks"].as_array_mut().into_iter().flatten() {
                    let known = chunk["key"].as_str().and_then(|k| etags.get(k));
                    if let (Some(etag), false) = (known, chunk["etag"].is_null()) {
                        chunk["etag"] = json!(etag);
                    }
                }
                python_pretty(&manifest).into_bytes()
            }
            Err(_) => body.clone(),
        };
        put(key, body, &info.storage_class, &info.sse, true);
    }
    for (key, (info, body)) in mem.objects.iter().filter(|(k, _)| k.ends_with("/current.json")) {
        put(key, body.clone(), &info.storage_class, &info.sse, true);
    }
}

fn edit_json(mem: &mut MemStore, key: &str, edit: impl FnOnce(&mut Value)) {
    let (info, body) = mem.objects.get_mut(key).expect("object exists");
    let mut value: Value = serde_json::from_slice(body).unwrap();
    edit(&mut value);
    *body = python_pretty(&value).into_bytes();
    info.size = body.len() as u64;
}

fn properties(report: &StoreReport) -> Vec<Property> {
    let mut p: Vec<Property> = report.findings.iter().map(|f| f.property).collect();
    p.sort();
    p.dedup();
    p
}

type Corruption = fn(&mut MemStore, &Keys);

#[test]
fn store_corruptions_on_a_real_s3_server_each_give_their_property() {
    let local = s3_support::start_local();
    let cases: Vec<(&str, Corruption, Vec<Property>)> = vec![
        ("none", |_, _| {}, vec![]),
        ("missing chunk", |m, k| { m.objects.remove(&k.chunk1); }, vec![Property::NoPartialPublish]),
        ("wrong size", |m, k| {
            let body = m.objects[&k.chunk0].1[..999].to_vec();
            m.put(&k.chunk0, &body, "STANDARD_IA", Some("AES256"));
        }, vec![Property::NoPartialPublish]),
        ("wrong sha256", |m, k| {
            let mut body = m.objects[&k.chunk0].1.clone();
            body[500] ^= 0xff;
            m.put(&k.chunk0, &body, "STANDARD_IA", Some("AES256"));
        }, vec![Property::NoPartialPublish]),
        ("chunk storage class", |m, k| { m.objects.get_mut(&k.chunk0).unwrap().0.storage_class = "STANDARD".into(); }, vec![Property::LayoutAndMetadata]),
        ("manifest storage class", |m, k| { m.objects.get_mut(&k.full).unwrap().0.storage_class = "STANDARD_IA".into(); }, vec![Property::LayoutAndMetadata]),
        ("missing sse", |m, k| { m.objects.get_mut(&k.chunk0).unwrap().0.sse = None; }, vec![Property::LayoutAndMetadata]),
        ("pointer to a missing manifest", |m, k| { m.objects.remove(&k.inc); }, vec![Property::NoPartialPublish]),
        ("chain loop", |m, k| { let inc = k.inc.clone(); edit_json(m, &k.full.clone(), |v| { v["kind"] = json!("incremental"); v["parent_manifest"] = json!(inc); }); }, vec![Property::NoPartialPublish, Property::LayoutAndMetadata]),
        ("chain not ending in a full", |m, k| edit_json(m, &k.inc.clone(), |v| v["parent_manifest"] = Value::Null), vec![Property::NoPartialPublish, Property::LayoutAndMetadata]),
        ("malformed manifest field", |m, k| edit_json(m, &k.full.clone(), |v| v["total_bytes"] = json!("2200")), vec![Property::LayoutAndMetadata]),
        ("extra manifest field", |m, k| edit_json(m, &k.inc.clone(), |v| v["compression"] = json!("none")), vec![Property::LayoutAndMetadata]),
        ("pointer not json", |m, k| m.put(&k.pointer, b"{\"manifest_key\": ", "STANDARD", Some("AES256")), vec![Property::NoPartialPublish]),
    ];
    for (i, (name, corrupt, want)) in cases.into_iter().enumerate() {
        let prefix = format!("real-{i}/");
        let (mut mem, keys) = correct_store(&prefix);
        corrupt(&mut mem, &keys);
        upload(&local.client, &mem);
        let report = StoreChecker::new(expect(&prefix)).check(&local.client, Some(1)).expect("store can be read");
        let listed = local.client.list(&prefix).expect("list").len();
        assert!(listed >= mem.objects.len().min(1), "{name}: the objects are on the server");
        let rendered: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
        assert_eq!(properties(&report), want, "{name}: findings were:\n{}", rendered.join("\n"));
        if want.is_empty() {
            assert!(report.undecided.is_empty(), "{name}: a correct store leaves nothing undecided: {:?}", report.undecided);
        }
    }
}
