//! The S3 client against a real (embedded moto) server: storage classes and SSE are
//! echoed, archived objects refuse GetObject, listings paginate, and prefix cleanup
//! removes objects and multipart uploads only when allowed.

#[path = "s3_support/mod.rs"]
mod support;

use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
use b2s3_harness::s3::client::S3Error;
use b2s3_harness::s3::view::{StoreError, StoreView};
use b2s3_harness::s3::PutOptions;
use support::{start_local, BUCKET};

fn stored_as(class: &str) -> PutOptions {
    PutOptions {
        storage_class: Some(class.into()),
        sse: Some("AES256".into()),
        content_type: None,
    }
}

#[test]
fn an_object_put_as_standard_ia_with_sse_reads_back_with_its_class_sse_and_bytes() {
    let local = start_local();
    let how = PutOptions {
        content_type: Some("application/json".into()),
        ..stored_as("STANDARD_IA")
    };
    let etag = local
        .client
        .put_object("c1/a.json", b"{\"x\":1}".to_vec(), &how)
        .unwrap();
    let info = local.client.head("c1/a.json").unwrap();
    assert_eq!(info.storage_class, "STANDARD_IA");
    assert_eq!(info.sse.as_deref(), Some("AES256"));
    assert_eq!(info.content_type.as_deref(), Some("application/json"));
    assert_eq!(info.etag.as_deref(), Some(etag.as_str()));
    assert!(etag.starts_with('"'), "ETag keeps its quotes: {etag}");
    assert_eq!(info.size, 7);
    assert_eq!(local.client.get("c1/a.json").unwrap(), b"{\"x\":1}");
}

#[test]
fn a_standard_object_without_sse_reports_standard_and_no_sse() {
    let local = start_local();
    local
        .client
        .put_object("c1/plain", b"x".to_vec(), &PutOptions::default())
        .unwrap();
    let info = local.client.head("c1/plain").unwrap();
    assert_eq!((info.storage_class.as_str(), info.sse), ("STANDARD", None));
}

#[test]
fn getting_an_unrestored_glacier_object_is_reported_as_archived() {
    let local = start_local();
    local
        .client
        .put_object("c1/cold.bin", vec![7; 100], &stored_as("GLACIER"))
        .unwrap();
    assert_eq!(
        local.client.head("c1/cold.bin").unwrap().storage_class,
        "GLACIER"
    );
    match local.client.get("c1/cold.bin") {
        Err(StoreError::Archived(key)) => assert_eq!(key, "c1/cold.bin"),
        other => panic!("expected Archived, got {other:?}"),
    }
}

#[test]
fn a_missing_object_is_not_found_for_head_and_get() {
    let local = start_local();
    assert!(matches!(
        local.client.head("c1/none"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        local.client.get("c1/none"),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn listing_in_small_pages_returns_every_key_under_the_prefix_sorted() {
    let local = start_local();
    for i in 0..12 {
        local
            .client
            .put_object(&format!("c1/k{i:02}"), vec![1; i], &PutOptions::default())
            .unwrap();
    }
    local
        .client
        .put_object("c10/other", vec![1], &PutOptions::default())
        .unwrap();
    let listed = local.client.list_with_page_size("c1/", 5).unwrap();
    let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    let expected: Vec<String> = (0..12).map(|i| format!("c1/k{i:02}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(listed[11].size, 11);
}

/// PUTs `<prefix><i:04>` for i in 0..count, from four threads (moto is slow one by one).
fn put_empty_objects(client: &b2s3_harness::s3::S3Client, prefix: &str, count: usize) {
    std::thread::scope(|scope| {
        for worker in 0..4 {
            scope.spawn(move || {
                for i in (worker..count).step_by(4) {
                    client
                        .put_object(
                            &format!("{prefix}{i:04}"),
                            Vec::new(),
                            &PutOptions::default(),
                        )
                        .unwrap();
                }
            });
        }
    });
}

#[test]
fn listing_more_than_one_thousand_keys_crosses_a_page_boundary() {
    let local = start_local();
    put_empty_objects(&local.client, "big/", 1001);
    let listed = local.client.list("big/").unwrap();
    assert_eq!(listed.len(), 1001);
    assert_eq!(listed.last().unwrap().key, "big/1000");
}

fn leave_incomplete_upload(local: &support::Local, key: &str) -> String {
    let sdk = local.client.sdk();
    local.client.block_on(async {
        let created = sdk
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .storage_class(StorageClass::DeepArchive)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .unwrap();
        let id = created.upload_id().unwrap().to_string();
        let body = aws_sdk_s3::primitives::ByteStream::from(vec![3u8; 1024]);
        sdk.upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .part_number(1)
            .body(body)
            .send()
            .await
            .unwrap();
        id
    })
}

#[test]
fn an_incomplete_multipart_upload_is_listed_and_cleanup_aborts_it_with_the_objects() {
    let local = start_local();
    let id = leave_incomplete_upload(&local, "case-1/subvol/d/full/chunk-1-0.bin");
    leave_incomplete_upload(&local, "case-2/keep.bin");
    for i in 0..3 {
        local
            .client
            .put_object(&format!("case-1/o{i}"), vec![0; 10], &PutOptions::default())
            .unwrap();
    }
    local
        .client
        .put_object("case-2/keep", vec![0; 10], &PutOptions::default())
        .unwrap();
    let uploads = local.client.uploads("case-1/").unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        (uploads[0].key.as_str(), uploads[0].upload_id.as_str()),
        ("case-1/subvol/d/full/chunk-1-0.bin", id.as_str())
    );

    let report = local.client.cleanup_prefix("case-1/", true).unwrap();
    assert_eq!((report.objects_deleted, report.uploads_aborted), (3, 1));
    assert!(local.client.list("case-1/").unwrap().is_empty());
    assert!(local.client.uploads("case-1/").unwrap().is_empty());
    assert_eq!(
        local.client.list("case-2/").unwrap().len(),
        1,
        "another prefix is untouched"
    );
    assert_eq!(
        local.client.uploads("case-2/").unwrap().len(),
        1,
        "another prefix's upload is untouched"
    );
}

#[test]
fn listing_uploads_in_small_pages_returns_all_of_them() {
    let local = start_local();
    for i in 0..5 {
        leave_incomplete_upload(&local, &format!("mp/u{i}"));
    }
    let keys: Vec<String> = local
        .client
        .uploads_with_page_size("mp/", 2)
        .unwrap()
        .into_iter()
        .map(|u| u.key)
        .collect();
    assert_eq!(keys, ["mp/u0", "mp/u1", "mp/u2", "mp/u3", "mp/u4"]);
}

#[test]
fn cleanup_deletes_more_than_one_batch_of_objects() {
    let local = start_local();
    put_empty_objects(&local.client, "many/", 1003);
    let report = local.client.cleanup_prefix("many/", true).unwrap();
    assert_eq!(report.objects_deleted, 1003);
    assert!(local.client.list("many/").unwrap().is_empty());
}

#[test]
fn cleanup_without_yes_or_of_the_root_deletes_nothing() {
    let local = start_local();
    local
        .client
        .put_object("case-1/o", vec![0; 10], &PutOptions::default())
        .unwrap();
    for (prefix, yes) in [
        ("case-1/", false),
        ("", true),
        ("/", true),
        ("case-1", true),
    ] {
        let err = local.client.cleanup_prefix(prefix, yes).unwrap_err();
        assert!(
            matches!(err, S3Error::CleanupRefused { .. }),
            "{prefix:?} {yes}: {err}"
        );
    }
    assert_eq!(local.client.list("").unwrap().len(), 1);
}

#[test]
fn creating_the_bucket_twice_is_fine_and_the_bucket_is_reachable() {
    let local = start_local();
    local.client.create_bucket().unwrap();
    local.client.reachable().unwrap();
}

#[test]
fn a_missing_bucket_is_reported_as_such_by_the_doctor_check() {
    let local = start_local();
    let other = b2s3_harness::s3::S3Client::new(b2s3_harness::s3::S3Options {
        bucket: "no-such-bucket".into(),
        ..local.client.options().clone()
    })
    .unwrap();
    let err = other.reachable().unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_deleted_object_is_gone_and_an_empty_key_is_refused() {
    let local = start_local();
    local
        .client
        .put_object("c1/x", vec![1], &PutOptions::default())
        .unwrap();
    local.client.delete_object("c1/x").unwrap();
    assert!(matches!(
        local.client.head("c1/x"),
        Err(StoreError::NotFound(_))
    ));
    assert!(local.client.delete_object("").is_err());
}
