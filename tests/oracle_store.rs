//! Store checks on crafted stores: a correctly published store gives no finding, and each
//! corruption gives the property PROPERTIES.md names for it.

use std::cell::Cell;

use b2s3_harness::oracle::finding::{Finding, Property};
use b2s3_harness::oracle::manifest::BackupKind;
use b2s3_harness::oracle::pyjson::python_pretty;
use b2s3_harness::oracle::store::chain::ChainEnd;
use b2s3_harness::oracle::store::{StoreChecker, StoreExpect, StoreReport};
use b2s3_harness::oracle::testkit::{
    json_of, publish, put_json, send_stream, stream_uuid, Publish,
};
use b2s3_harness::s3::view::{MemStore, ObjectInfo, StoreError, StoreView, UploadInfo};
use serde_json::{json, Value};

const P: &str = "case-7/";
const FULL: &str = "case-7/subvol/data/full/manifest-20260101T020000Z.json";
const INC: &str = "case-7/subvol/data/incremental/manifest-20260102T020000Z.json";
const CHUNK0: &str = "case-7/subvol/data/full/chunk-20260101T020000Z-0.bin";
const CHUNK1: &str = "case-7/subvol/data/full/chunk-20260101T020000Z-1.bin";
const POINTER: &str = "case-7/subvol/data/current.json";

fn expect() -> StoreExpect {
    StoreExpect {
        prefix: P.to_string(),
        subvolumes: vec!["data".into(), "home".into()],
        chunk_size: 1000,
        storage_class_chunks: "STANDARD_IA".into(),
        storage_class_manifest: "STANDARD".into(),
        sse: "AES256".into(),
    }
}

/// data: a full then an incremental on it; home: one full. Streams span 3 chunks.
fn correct_store() -> MemStore {
    let mut store = MemStore::default();
    let e = expect();
    let full = send_stream("data__20260101T020001Z__full", 2200, None);
    let inc = send_stream(
        "data__20260102T020001Z__inc",
        1500,
        Some(stream_uuid("data__20260101T020001Z__full")),
    );
    let home = send_stream("home__20260101T020002Z__full", 500, None);
    let base = |subvolume, kind, ts, stream| Publish {
        subvolume,
        kind,
        ts,
        stream,
        parent_manifest: None,
        snapshots_dir: "/snap",
    };
    assert_eq!(
        publish(
            &mut store,
            &e,
            &base("data", BackupKind::Full, "20260101T020000Z", &full)
        ),
        FULL
    );
    let inc_publish = Publish {
        parent_manifest: Some(FULL),
        ..base("data", BackupKind::Incremental, "20260102T020000Z", &inc)
    };
    assert_eq!(publish(&mut store, &e, &inc_publish), INC);
    publish(
        &mut store,
        &e,
        &base("home", BackupKind::Full, "20260101T020000Z", &home),
    );
    store
}

fn check(store: &dyn StoreView) -> StoreReport {
    StoreChecker::new(expect())
        .check(store, Some(3))
        .expect("store can be inspected")
}

fn edit_json(store: &mut MemStore, key: &str, edit: impl FnOnce(&mut Value)) {
    let mut value = json_of(store, key);
    edit(&mut value);
    put_json(store, &expect(), key, &value);
}

fn props(findings: &[Finding]) -> Vec<Property> {
    let mut p: Vec<Property> = findings.iter().map(|f| f.property).collect();
    p.sort();
    p.dedup();
    p
}

fn only(report: &StoreReport, property: Property) -> &Finding {
    assert!(
        !report.findings.is_empty(),
        "expected a {property} finding, got none"
    );
    assert!(
        report.findings.iter().all(|f| f.property == property),
        "expected only {property}, got:\n{}",
        report
            .findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    &report.findings[0]
}

fn any_message(report: &StoreReport, needle: &str) -> bool {
    report.findings.iter().any(|f| f.message.contains(needle))
}

#[test]
fn a_correctly_published_store_gives_no_finding_and_leaves_nothing_undecided() {
    let store = correct_store();
    let report = check(&store);
    assert_eq!(report.findings, vec![], "findings: {:#?}", report.findings);
    assert_eq!(report.undecided, vec![]);
    let snapshot = &report.snapshot;
    assert_eq!(snapshot.pointers["data"].manifest_key, INC);
    assert_eq!(
        snapshot.chains["data"].manifest_keys,
        vec![INC.to_string(), FULL.to_string()]
    );
    assert_eq!(snapshot.chains["data"].end, ChainEnd::Full);
    assert_eq!(snapshot.manifests.len(), 3);
    assert!(snapshot.orphan_chunks.is_empty());
}

#[test]
fn a_missing_chunk_in_a_published_chain_is_a_partial_publish() {
    let mut store = correct_store();
    store.objects.remove(CHUNK1);
    let report = check(&store);
    let f = only(&report, Property::NoPartialPublish);
    assert_eq!(f.subject.as_deref(), Some(CHUNK1));
    assert!(f.message.contains("does not exist"), "{f}");
    assert_eq!(f.step, Some(3));
}

#[test]
fn a_chunk_of_the_wrong_size_is_a_partial_publish() {
    let mut store = correct_store();
    let body = store.objects[CHUNK0].1[..999].to_vec();
    store.put(CHUNK0, &body, "STANDARD_IA", Some("AES256"));
    let report = check(&store);
    let f = &report.findings[0];
    assert_eq!(f.property, Property::NoPartialPublish);
    assert_eq!(
        (f.expected.as_deref(), f.seen.as_deref()),
        (Some("1000"), Some("999"))
    );
}

#[test]
fn a_chunk_whose_content_does_not_match_its_sha256_is_a_partial_publish() {
    let mut store = correct_store();
    let mut body = store.objects[CHUNK0].1.clone();
    body[500] ^= 0xff;
    store.put(CHUNK0, &body, "STANDARD_IA", Some("AES256"));
    let report = check(&store);
    let f = only(&report, Property::NoPartialPublish);
    assert!(f.message.contains("wrong SHA-256"), "{f}");
    assert!(
        report
            .undecided
            .iter()
            .any(|u| u.subject == FULL && u.reason.contains("sha256")),
        "{:?}",
        report.undecided
    );
}

#[test]
fn a_chunk_with_the_wrong_storage_class_is_a_layout_violation() {
    let mut store = correct_store();
    store.objects.get_mut(CHUNK0).unwrap().0.storage_class = "STANDARD".into();
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert_eq!(f.subject.as_deref(), Some(CHUNK0));
    assert_eq!(
        (f.expected.as_deref(), f.seen.as_deref()),
        (Some("STANDARD_IA"), Some("STANDARD"))
    );
}

#[test]
fn a_manifest_with_the_wrong_storage_class_is_a_layout_violation() {
    let mut store = correct_store();
    store.objects.get_mut(INC).unwrap().0.storage_class = "GLACIER".into();
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert_eq!(f.subject.as_deref(), Some(INC));
    assert!(f.message.contains("storage class"), "{f}");
}

#[test]
fn objects_without_sse_are_one_grouped_layout_violation_naming_the_first() {
    let mut store = correct_store();
    for key in [CHUNK0, CHUNK1] {
        store.objects.get_mut(key).unwrap().0.sse = None;
    }
    let report = check(&store);
    let f = only(&report, Property::LayoutAndMetadata);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(f.subject.as_deref(), Some(CHUNK0));
    assert!(f.message.contains("and 1 more"), "{f}");
    assert_eq!(f.seen.as_deref(), Some("no SSE"));
}

#[test]
fn a_pointer_to_a_missing_manifest_is_a_partial_publish() {
    let mut store = correct_store();
    store.objects.remove(INC);
    let report = check(&store);
    let f = report
        .findings
        .iter()
        .find(|f| f.property == Property::NoPartialPublish)
        .expect("P2");
    assert_eq!(f.subject.as_deref(), Some(POINTER));
    assert!(
        f.message
            .contains(&format!("manifest {INC} does not exist")),
        "{f}"
    );
    // The incremental's chunks are now referenced by nothing: leftovers, not a finding.
    assert_eq!(report.snapshot.orphan_chunks.len(), 2);
    assert_eq!(props(&report.findings), vec![Property::NoPartialPublish]);
}

#[test]
fn a_pointer_that_is_not_json_is_a_partial_publish() {
    let mut store = correct_store();
    store.put(POINTER, b"{\"manifest_key\": ", "STANDARD", Some("AES256"));
    let f = only(&check(&store), Property::NoPartialPublish).clone();
    assert!(f.message.contains("names no manifest"), "{f}");
}

#[test]
fn a_manifest_chain_loop_is_a_partial_publish() {
    let mut store = correct_store();
    let second = send_stream("data__20260103T020001Z__inc", 100, Some(stream_uuid("x")));
    let p = Publish {
        subvolume: "data",
        kind: BackupKind::Incremental,
        ts: "20260103T020000Z",
        stream: &second,
        parent_manifest: Some(INC),
        snapshots_dir: "/snap",
    };
    let newest = publish(&mut store, &expect(), &p);
    edit_json(&mut store, INC, |v| v["parent_manifest"] = json!(newest));
    let report = check(&store);
    let f = report
        .findings
        .iter()
        .find(|f| f.property == Property::NoPartialPublish)
        .expect("P2");
    assert!(f.message.contains(&format!("loops at {newest}")), "{f}");
    assert!(matches!(
        report.snapshot.chains["data"].end,
        ChainEnd::Loop { .. }
    ));
    assert!(report.snapshot.orphan_chunks.is_empty());
}

#[test]
fn a_chain_that_does_not_end_in_a_full_is_a_partial_publish_and_a_schema_violation() {
    let mut store = correct_store();
    edit_json(&mut store, INC, |v| v["parent_manifest"] = Value::Null);
    let report = check(&store);
    assert_eq!(
        props(&report.findings),
        vec![Property::NoPartialPublish, Property::LayoutAndMetadata]
    );
    assert!(any_message(&report, "does not end in a full"));
    assert!(any_message(
        &report,
        "/parent_manifest: an incremental names its parent"
    ));
}

#[test]
fn a_missing_manifest_field_is_a_schema_violation_but_still_restorable() {
    let mut store = correct_store();
    edit_json(&mut store, FULL, |v| {
        v.as_object_mut().unwrap().remove("version");
    });
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert_eq!(f.subject.as_deref(), Some(&*format!("{FULL}#/version")));
    assert!(f.message.contains("missing field"), "{f}");
}

#[test]
fn an_extra_manifest_field_is_a_schema_violation() {
    let mut store = correct_store();
    edit_json(&mut store, INC, |v| v["compression"] = json!("none"));
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert!(f.message.contains("/compression: unexpected field"), "{f}");
}

#[test]
fn manifest_keys_out_of_order_in_the_text_are_a_schema_violation() {
    let mut store = correct_store();
    let text = String::from_utf8(store.objects[FULL].1.clone()).unwrap();
    let swapped = text
        .replacen("\"chunk_size\"", "\"zz_tmp\"", 1)
        .replacen("\"version\"", "\"chunk_size\"", 1)
        .replacen("\"zz_tmp\"", "\"version\"", 1);
    let mut info = store.objects[FULL].0.clone();
    info.size = swapped.len() as u64;
    store
        .objects
        .insert(FULL.to_string(), (info, swapped.into_bytes()));
    let report = check(&store);
    assert!(
        any_message(&report, "keys not sorted"),
        "{:#?}",
        report.findings
    );
}

#[test]
fn chunks_listed_out_of_order_are_a_layout_violation_and_break_the_stream() {
    let mut store = correct_store();
    edit_json(&mut store, FULL, |v| {
        v["chunks"].as_array_mut().unwrap().swap(0, 1)
    });
    let report = check(&store);
    let f = only(&report, Property::LayoutAndMetadata);
    assert!(f.message.contains("chunk 0 has the wrong key"), "{f}");
    assert!(
        any_message(&report, "btrfs receive --dump rejects"),
        "{:#?}",
        report.findings
    );
}

#[test]
fn a_zero_padded_chunk_index_is_a_layout_violation() {
    let mut store = correct_store();
    let padded = CHUNK1.replace("-1.bin", "-01.bin");
    let object = store.objects.remove(CHUNK1).unwrap();
    store.put(&padded, &object.1, "STANDARD_IA", Some("AES256"));
    edit_json(&mut store, FULL, |v| v["chunks"][1]["key"] = json!(padded));
    let report = check(&store);
    let f = only(&report, Property::LayoutAndMetadata);
    assert!(f.message.contains("not plain decimal"), "{f}");
}

#[test]
fn total_bytes_that_is_not_the_sum_of_chunk_sizes_is_a_schema_violation() {
    let mut store = correct_store();
    edit_json(&mut store, INC, |v| v["total_bytes"] = json!(1));
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert!(f.message.contains("total_bytes is not the sum"), "{f}");
    assert_eq!(f.seen.as_deref(), Some("1"));
}

#[test]
fn a_short_chunk_before_the_last_is_a_layout_violation() {
    let mut store = correct_store();
    let stream: Vec<u8> = [CHUNK0, CHUNK1]
        .iter()
        .flat_map(|k| store.objects[*k].1.clone())
        .collect();
    let (first, second) = stream.split_at(900);
    store.put(CHUNK0, first, "STANDARD_IA", Some("AES256"));
    store.put(CHUNK1, second, "STANDARD_IA", Some("AES256"));
    edit_json(&mut store, FULL, |v| {
        for (i, body) in [first, second].iter().enumerate() {
            v["chunks"][i]["size"] = json!(body.len());
            v["chunks"][i]["sha256"] = json!(b2s3_harness::oracle::manifest::sha256_hex(body));
            v["chunks"][i]["etag"] = json!(format!("\"{:x}\"", body.len()));
        }
    });
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert!(
        f.message
            .contains("/chunks/0/size: a chunk before the last must be exactly chunk_size"),
        "{f}"
    );
}

#[test]
fn a_chunk_size_field_other_than_the_configured_one_is_a_layout_violation() {
    let store = correct_store();
    let mut e = expect();
    e.chunk_size = 4096;
    let report = StoreChecker::new(e).check(&store, None).unwrap();
    assert!(report
        .findings
        .iter()
        .all(|f| f.property == Property::LayoutAndMetadata));
    assert!(
        any_message(&report, "chunk_size is not the configured"),
        "{:#?}",
        report.findings
    );
}

/// A second full of `data`, published with chunk size `chunk_size` at a later TS.
fn publish_second_full(store: &mut MemStore, chunk_size: u64) -> String {
    let e = StoreExpect { chunk_size, ..expect() };
    let stream = send_stream("data__20260103T020001Z__full", 2200, None);
    let p = Publish {
        subvolume: "data",
        kind: BackupKind::Full,
        ts: "20260103T020000Z",
        stream: &stream,
        parent_manifest: None,
        snapshots_dir: "/snap",
    };
    publish(store, &e, &p)
}

#[test]
fn after_a_reconfiguration_each_manifest_keeps_the_chunk_size_in_force_when_it_appeared() {
    let mut store = correct_store();
    let mut checker = StoreChecker::new(expect());
    assert_eq!(checker.check(&store, Some(0)).unwrap().findings, vec![]);
    checker.set_chunk_size(700);
    publish_second_full(&mut store, 700);
    let report = checker.check(&store, Some(2)).unwrap();
    assert_eq!(report.findings, vec![], "old manifests keep 1000, the new one has 700");
}

#[test]
fn a_manifest_written_after_a_reconfiguration_with_the_old_chunk_size_is_a_layout_violation() {
    let mut store = correct_store();
    let mut checker = StoreChecker::new(expect());
    checker.check(&store, Some(0)).unwrap();
    checker.set_chunk_size(700);
    let key = publish_second_full(&mut store, 1000);
    let report = checker.check(&store, Some(2)).unwrap();
    let f = only(&report, Property::LayoutAndMetadata);
    assert!(f.message.contains("chunk_size is not the configured"), "{f}");
    assert_eq!(f.subject.as_deref(), Some(key.as_str()));
    assert_eq!((f.expected.as_deref(), f.seen.as_deref()), (Some("700"), Some("1000")));
}

#[test]
fn an_empty_trailing_chunk_after_an_exact_multiple_is_a_layout_violation() {
    let mut store = correct_store();
    let e = expect();
    // data's full stream, cut at an exact multiple of the chunk size, plus an empty chunk.
    let stream = send_stream("data__20260103T020001Z__full", 2200, None);
    let whole = stream.len() - stream.len() % e.chunk_size as usize;
    let key = publish_second_full(&mut store, e.chunk_size);
    let empty = "case-7/subvol/data/full/chunk-20260103T020000Z-3.bin";
    store.put(empty, b"", &e.storage_class_chunks, Some(&e.sse));
    edit_json(&mut store, &key, |v| {
        let chunks = v["chunks"].as_array_mut().unwrap();
        chunks.truncate(whole / e.chunk_size as usize);
        chunks.push(json!({"etag": null, "key": empty, "sha256": b2s3_harness::oracle::testkit::sha256_hex(b""), "size": 0}));
        v["total_bytes"] = json!(whole);
    });
    let report = check(&store);
    assert!(
        report.findings.iter().any(|f| f.property == Property::LayoutAndMetadata
            && f.message.contains("the last chunk must be non-empty")),
        "{:#?}",
        report.findings
    );
}

#[test]
fn a_pointer_whose_kind_disagrees_with_its_manifest_key_is_a_layout_violation() {
    let mut store = correct_store();
    edit_json(&mut store, POINTER, |v| v["kind"] = json!("full"));
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert!(f.message.contains("manifest_key does not match"), "{f}");
}

#[test]
fn unknown_keys_orphan_chunks_and_uploads_are_reported_where_they_belong() {
    let mut store = correct_store();
    store.put(
        "case-7/subvol/data/full/chunk-20260105T020000Z-0.bin",
        b"orphan",
        "STANDARD_IA",
        Some("AES256"),
    );
    store.put("case-7/notes.txt", b"x", "STANDARD", Some("AES256"));
    store.uploads.push(UploadInfo {
        key: "case-7/subvol/data/full/chunk-20260105T020000Z-1.bin".into(),
        upload_id: "u1".into(),
    });
    let report = check(&store);
    let f = only(&report, Property::LayoutAndMetadata);
    assert_eq!(f.subject.as_deref(), Some("case-7/notes.txt"));
    assert_eq!(
        report.snapshot.orphan_chunks,
        vec!["case-7/subvol/data/full/chunk-20260105T020000Z-0.bin".to_string()]
    );
    assert_eq!(report.snapshot.uploads.len(), 1);
}

/// A view that counts downloads and refuses GetObject on archived chunks.
struct Archive<'a> {
    inner: &'a MemStore,
    archived_class: &'a str,
    gets: Cell<usize>,
}

impl StoreView for Archive<'_> {
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.inner.list(prefix)
    }
    fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        self.inner.head(key)
    }
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        match self.inner.head(key)? {
            info if info.storage_class == self.archived_class => {
                Err(StoreError::Archived(key.into()))
            }
            _ => self.inner.get(key),
        }
    }
    fn uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>, StoreError> {
        self.inner.uploads(prefix)
    }
}

#[test]
fn archived_chunks_are_checked_by_size_and_reported_as_undecided_not_passed() {
    let store = correct_store();
    let view = Archive {
        inner: &store,
        archived_class: "STANDARD_IA",
        gets: Cell::new(0),
    };
    let report = check(&view);
    assert_eq!(report.findings, vec![]);
    let about_full: Vec<_> = report
        .undecided
        .iter()
        .filter(|u| u.subject == FULL)
        .collect();
    assert!(
        about_full
            .iter()
            .any(|u| u.reason.contains("size checked by HeadObject only")),
        "{:?}",
        report.undecided
    );
    assert!(
        about_full
            .iter()
            .any(|u| u.reason.contains("--dump not run")),
        "{:?}",
        report.undecided
    );
}

#[test]
fn an_archived_chunk_of_the_wrong_size_is_still_a_partial_publish() {
    let mut store = correct_store();
    store.put(CHUNK0, b"short", "STANDARD_IA", Some("AES256"));
    let view = Archive {
        inner: &store,
        archived_class: "STANDARD_IA",
        gets: Cell::new(0),
    };
    let f = only(&check(&view), Property::NoPartialPublish).clone();
    assert_eq!(f.seen.as_deref(), Some("5"));
}

#[test]
fn a_second_check_downloads_no_chunk_again() {
    let store = correct_store();
    let view = Archive {
        inner: &store,
        archived_class: "none",
        gets: Cell::new(0),
    };
    let mut checker = StoreChecker::new(expect());
    let report = checker.check(&view, Some(1)).unwrap();
    assert_eq!(report.findings, vec![]);
    let chunks = report.snapshot.chunk_keys.len() as u64;
    let first = view.gets.get();
    assert_eq!(checker.chunk_downloads(), chunks);
    assert_eq!(checker.check(&view, Some(2)).unwrap().findings, vec![]);
    assert_eq!(
        checker.chunk_downloads(),
        chunks,
        "chunks were downloaded again"
    );
    assert_eq!(
        view.gets.get() - first,
        2,
        "only the two pointers are read again"
    );
}

#[test]
fn a_manifest_whose_chunks_are_not_a_send_stream_is_a_layout_violation() {
    let mut store = MemStore::default();
    let garbage = vec![7u8; 1500];
    let p = Publish {
        subvolume: "home",
        kind: BackupKind::Full,
        ts: "20260101T020000Z",
        stream: &garbage,
        parent_manifest: None,
        snapshots_dir: "/s",
    };
    let key = publish(&mut store, &expect(), &p);
    let f = only(&check(&store), Property::LayoutAndMetadata).clone();
    assert_eq!(f.subject.as_deref(), Some(key.as_str()));
    assert!(f.message.contains("btrfs receive --dump rejects"), "{f}");
    assert!(python_pretty(&json!(1)) == "1");
}
