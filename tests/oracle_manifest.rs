//! The manifest and current.json validators, and the JSON Schema files in
//! config/schemas/: a correct document passes both, and each malformation of CONTRACT.md
//! section 11 is caught by the validator (naming the field) and by the full schema.

use std::path::PathBuf;
use std::process::Command;

use b2s3_harness::oracle::manifest::{
    check_manifest, check_pointer, BackupKind, Deviation, SINGLE_PUT_MAX,
};
use b2s3_harness::oracle::pyjson::python_pretty;
use b2s3_harness::oracle::schema::{
    default_schema_dir, validate_with_schema_file, SchemaError, SCHEMA_FILES,
};
use serde_json::{json, Value};

const SHA_A: &str = "5ecf0e2895296233b427098f28ab9eb1bc2f09dd0f798d93443d5bb0d4eb2650";
const SHA_B: &str = "59d07b733808241814173c519c669869ee82ab976e6492705a5e33b2ddcf9cf2";

fn incremental() -> Value {
    json!({
        "version": 1,
        "subvolume": "data",
        "kind": "incremental",
        "created_at": "20260102T020000Z",
        "snapshot": {"name": "data__20260102T020001Z__inc", "path": "/srv/snapshots/data__20260102T020001Z__inc", "uuid": null, "parent_uuid": null},
        "parent_manifest": "p/subvol/data/full/manifest-20260101T020000Z.json",
        "chunks": [
            {"etag": "\"9a0364b9e99bb480dd25e1f0284c8555\"", "key": "p/subvol/data/incremental/chunk-20260102T020000Z-0.bin", "sha256": SHA_A, "size": 1000},
            {"etag": "\"0cc175b9c0f1b6a831c399e269772661\"", "key": "p/subvol/data/incremental/chunk-20260102T020000Z-1.bin", "sha256": SHA_B, "size": 1}
        ],
        "total_bytes": 1001,
        "chunk_size": 1000,
        "s3": {"storage_class": "DEEP_ARCHIVE"}
    })
}

fn pointer() -> Value {
    json!({"created_at": "20260102T020000Z", "kind": "incremental", "manifest_key": "p/subvol/data/incremental/manifest-20260102T020000Z.json"})
}

/// An edit that breaks a correct document in one way.
type Edit = fn(&mut Value);

fn deviations(value: &Value) -> Vec<Deviation> {
    check_manifest(python_pretty(value).as_bytes()).deviations
}

fn schema(name: &str) -> PathBuf {
    default_schema_dir().join(name)
}

fn schema_errors(name: &str, value: &Value) -> usize {
    validate_with_schema_file(&schema(name), value)
        .expect("schema usable")
        .len()
}

#[test]
fn python_json_dumps_and_our_rendering_agree_byte_for_byte_on_a_manifest() {
    let text = python_pretty(&incremental());
    let script = "import json,sys; print(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True), end='')";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is installed (the tool under test needs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

#[test]
fn a_correct_manifest_has_no_deviation_and_parses_completely() {
    let check = check_manifest(python_pretty(&incremental()).as_bytes());
    assert_eq!(check.deviations, vec![]);
    let manifest = check.manifest.expect("parsed");
    assert_eq!(manifest.kind, BackupKind::Incremental);
    assert_eq!(manifest.chunks.len(), 2);
    assert!(check.link.is_some());
    assert_eq!(check.unreadable, None);
}

#[test]
fn a_correct_manifest_and_pointer_pass_every_schema_file() {
    for name in ["manifest.min.json", "manifest.full.json"] {
        assert_eq!(
            validate_with_schema_file(&schema(name), &incremental()).unwrap(),
            vec![],
            "{name}"
        );
    }
    for name in ["current.min.json", "current.full.json"] {
        assert_eq!(
            validate_with_schema_file(&schema(name), &pointer()).unwrap(),
            vec![],
            "{name}"
        );
    }
    let mut full = incremental();
    full["kind"] = json!("full");
    full["parent_manifest"] = Value::Null;
    full["snapshot"]["name"] = json!("data__20260101T020001Z__full");
    full["snapshot"]["path"] = json!("/srv/snapshots/data__20260101T020001Z__full");
    assert_eq!(deviations(&full), vec![]);
    assert_eq!(schema_errors("manifest.full.json", &full), 0);
}

/// (what, edit, field the validator must name, caught by the minimal schema too)
fn malformations() -> Vec<(&'static str, Edit, &'static str, bool)> {
    vec![
        (
            "missing field",
            |v| drop(v.as_object_mut().unwrap().remove("version")),
            "/version",
            true,
        ),
        (
            "extra field",
            |v| v["compression"] = json!("zstd"),
            "/compression",
            false,
        ),
        (
            "wrong type",
            |v| v["total_bytes"] = json!("1001"),
            "/total_bytes",
            false,
        ),
        (
            "wrong null",
            |v| v["snapshot"]["uuid"] = json!("8c5e"),
            "/snapshot/uuid",
            false,
        ),
        (
            "uppercase sha256",
            |v| v["chunks"][0]["sha256"] = json!(SHA_A.to_uppercase()),
            "/chunks/0/sha256",
            false,
        ),
        (
            "short sha256",
            |v| v["chunks"][1]["sha256"] = json!("abc"),
            "/chunks/1/sha256",
            false,
        ),
        ("version 2", |v| v["version"] = json!(2), "/version", false),
        (
            "unknown kind",
            |v| v["kind"] = json!("differential"),
            "/kind",
            false,
        ),
        (
            "incremental without parent",
            |v| v["parent_manifest"] = Value::Null,
            "/parent_manifest",
            false,
        ),
        (
            "snapshot name of the wrong kind",
            |v| v["snapshot"]["name"] = json!("data__20260102T020001Z__full"),
            "/snapshot/name",
            false,
        ),
        (
            "relative snapshot path",
            |v| v["snapshot"]["path"] = json!("data__20260102T020001Z__inc"),
            "/snapshot/path",
            false,
        ),
        (
            "chunk without etag",
            |v| drop(v["chunks"][0].as_object_mut().unwrap().remove("etag")),
            "/chunks/0/etag",
            true,
        ),
        (
            "chunk with extra field",
            |v| v["chunks"][1]["part"] = json!(1),
            "/chunks/1/part",
            false,
        ),
        (
            "etag without quotes",
            |v| v["chunks"][0]["etag"] = json!("9a0364b9"),
            "/chunks/0/etag",
            false,
        ),
        (
            "s3 with extra field",
            |v| v["s3"]["sse"] = json!("AES256"),
            "/s3/sse",
            false,
        ),
        (
            "s3 without storage_class",
            |v| v["s3"] = json!({}),
            "/s3/storage_class",
            true,
        ),
        (
            "ISO created_at",
            |v| v["created_at"] = json!("2026-01-02T02:00:00Z"),
            "/created_at",
            false,
        ),
        ("not an object", |v| *v = json!([1, 2]), "", true),
    ]
}

#[test]
fn every_schema_malformation_is_named_by_the_validator_and_rejected_by_the_full_schema() {
    for (what, edit, field, minimal_too) in malformations() {
        let mut value = incremental();
        edit(&mut value);
        let devs = deviations(&value);
        assert!(
            devs.iter().any(|d| d.field == field),
            "{what}: validator missed {field:?}: {devs:#?}"
        );
        assert!(
            schema_errors("manifest.full.json", &value) > 0,
            "{what}: full schema accepted it"
        );
        assert_eq!(
            schema_errors("manifest.min.json", &value) > 0,
            minimal_too,
            "{what}: minimal schema verdict"
        );
    }
}

#[test]
fn a_full_with_a_parent_is_a_deviation_and_rejected_by_the_full_schema() {
    let mut value = incremental();
    value["kind"] = json!("full");
    value["snapshot"]["name"] = json!("data__20260102T020001Z__full");
    value["snapshot"]["path"] = json!("/srv/snapshots/data__20260102T020001Z__full");
    let devs = deviations(&value);
    assert_eq!(devs.len(), 1, "{devs:#?}");
    assert_eq!(devs[0].problem, "a full has no parent");
    assert!(schema_errors("manifest.full.json", &value) > 0);
}

#[test]
fn sums_and_chunk_sizes_the_schema_cannot_express_are_caught_by_the_validator() {
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            |v| v["total_bytes"] = json!(1000),
            "/total_bytes",
            "total_bytes is not the sum of the chunk sizes",
        ),
        (
            |v| v["chunks"][0]["size"] = json!(999),
            "/chunks/0/size",
            "a chunk before the last must be exactly chunk_size",
        ),
        (
            |v| v["chunks"][1]["size"] = json!(0),
            "/chunks/1/size",
            "the last chunk must be non-empty and at most chunk_size",
        ),
        (
            |v| v["chunks"][0]["etag"] = Value::Null,
            "/chunks/0/etag",
            "a single-PUT chunk records its ETag",
        ),
        (
            |v| v["chunks"] = json!([]),
            "/chunks",
            "no chunks (a send stream is never empty)",
        ),
    ];
    for (edit, field, problem) in cases {
        let mut value = incremental();
        edit(&mut value);
        let devs = deviations(&value);
        assert!(
            devs.iter()
                .any(|d| d.field == field && d.problem == problem),
            "{field}: {devs:#?}"
        );
    }
}

#[test]
fn a_multipart_chunk_records_a_null_etag() {
    let big = SINGLE_PUT_MAX + 1;
    let mut value = incremental();
    value["chunk_size"] = json!(big);
    value["chunks"][0]["size"] = json!(big);
    value["total_bytes"] = json!(big + 1);
    let devs = deviations(&value);
    assert_eq!(devs.len(), 1, "{devs:#?}");
    assert_eq!(
        (devs[0].field.as_str(), devs[0].problem.as_str()),
        (
            "/chunks/0/etag",
            "a multipart chunk (over 5 MiB) has a null etag"
        )
    );
    value["chunks"][0]["etag"] = Value::Null;
    assert_eq!(deviations(&value), vec![]);
}

#[test]
fn unsorted_keys_and_foreign_layouts_are_deviations_of_the_text() {
    let compact = serde_json::to_string(&incremental()).unwrap();
    let devs = check_manifest(compact.as_bytes()).deviations;
    assert_eq!(devs.len(), 1, "{devs:#?}");
    assert!(devs[0]
        .problem
        .starts_with("text is not json.dumps(indent=2, sort_keys=True) output"));
    let unsorted = python_pretty(&incremental())
        .replacen("\"name\"", "\"zz\"", 1)
        .replacen("\"uuid\": null", "\"name\": null", 1);
    let devs = check_manifest(unsorted.replacen("\"zz\"", "\"uuid\"", 1).as_bytes()).deviations;
    assert!(
        devs.iter()
            .any(|d| d.field == "/snapshot" && d.problem == "keys not sorted"),
        "{devs:#?}"
    );
    let trailing_newline = python_pretty(&incremental()) + "\n";
    assert_eq!(
        check_manifest(trailing_newline.as_bytes()).deviations,
        vec![]
    );
}

#[test]
fn a_manifest_that_is_not_json_is_unreadable_with_its_reason() {
    let check = check_manifest(b"{\"version\": 1,");
    assert!(check.link.is_none() && check.manifest.is_none());
    assert!(check.unreadable.unwrap().starts_with("not JSON"));
}

#[test]
fn a_manifest_missing_a_non_chain_field_still_yields_a_chain_link() {
    let mut value = incremental();
    value.as_object_mut().unwrap().remove("snapshot");
    let check = check_manifest(python_pretty(&value).as_bytes());
    assert!(check.manifest.is_none());
    assert_eq!(check.link.expect("restorable").chunks.len(), 2);
}

#[test]
fn pointer_deviations_are_named_and_rejected_by_the_full_schema() {
    assert_eq!(
        check_pointer(python_pretty(&pointer()).as_bytes()).deviations,
        vec![]
    );
    let cases: Vec<(Edit, &str, bool)> = vec![
        (
            |v| drop(v.as_object_mut().unwrap().remove("manifest_key")),
            "/manifest_key",
            true,
        ),
        (|v| v["extra"] = json!(1), "/extra", false),
        (|v| v["kind"] = json!("inc"), "/kind", false),
        (
            |v| v["created_at"] = json!("20260132T020000Z"),
            "/created_at",
            false,
        ),
    ];
    for (edit, field, minimal_too) in cases {
        let mut value = pointer();
        edit(&mut value);
        let check = check_pointer(python_pretty(&value).as_bytes());
        assert!(
            check.deviations.iter().any(|d| d.field == field),
            "{field}: {:#?}",
            check.deviations
        );
        assert!(schema_errors("current.full.json", &value) > 0, "{field}");
        assert_eq!(
            schema_errors("current.min.json", &value) > 0,
            minimal_too,
            "{field}"
        );
    }
    assert!(check_pointer(b"{}").unreadable.is_some());
}

#[test]
fn every_shipped_schema_file_loads_and_a_missing_one_is_a_clear_error() {
    for name in SCHEMA_FILES {
        validate_with_schema_file(&schema(name), &json!({})).expect(name);
    }
    let err = validate_with_schema_file(&schema("nope.json"), &json!({})).unwrap_err();
    assert!(matches!(err, SchemaError::Read { .. }));
    assert!(err.to_string().contains("nope.json"));
}
