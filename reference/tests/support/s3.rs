//! The tests' S3 inspector: create a bucket, list keys, read objects and their storage
//! class, SSE and content type, count incomplete multipart uploads, and overwrite an
//! object (to corrupt a chunk on purpose). Independent of the tool's own S3 code.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// What HeadObject says about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// None means STANDARD (S3 omits the header for it).
    pub storage_class: Option<String>,
    pub sse: Option<String>,
    pub content_type: Option<String>,
    pub size: i64,
    pub etag: Option<String>,
}

/// A client on one bucket of the shared moto server.
pub struct TestS3 {
    rt: tokio::runtime::Runtime,
    client: Client,
    pub bucket: String,
}

impl TestS3 {
    /// Creates `bucket` on the server at `endpoint`.
    pub fn new(endpoint: &str, bucket: &str) -> TestS3 {
        let s3 = TestS3::attach(endpoint, bucket);
        s3.rt.block_on(s3.client.create_bucket().bucket(bucket).send()).unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
        s3
    }

    /// A client on an existing `bucket`.
    pub fn attach(endpoint: &str, bucket: &str) -> TestS3 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .build();
        let client = Client::from_conf(conf);
        TestS3 { rt, client, bucket: bucket.to_string() }
    }

    /// Every key under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let req = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).set_continuation_token(token);
            let out = self.rt.block_on(req.send()).unwrap();
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            match out.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        keys.sort();
        keys
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        self.try_get(key).unwrap_or_else(|e| panic!("GET {key}: {e}"))
    }

    pub fn try_get(&self, key: &str) -> Result<Vec<u8>, String> {
        self.rt.block_on(async {
            let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| format!("{e:?}"))?;
            Ok(out.body.collect().await.map_err(|e| e.to_string())?.into_bytes().to_vec())
        })
    }

    pub fn json(&self, key: &str) -> serde_json::Value {
        serde_json::from_slice(&self.get(key)).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
    }

    pub fn head(&self, key: &str) -> Head {
        let out = self.rt.block_on(self.client.head_object().bucket(&self.bucket).key(key).send()).unwrap();
        Head {
            storage_class: out.storage_class().map(|s| s.as_str().to_string()),
            sse: out.server_side_encryption().map(|s| s.as_str().to_string()),
            content_type: out.content_type().map(str::to_string),
            size: out.content_length().unwrap_or(-1),
            etag: out.e_tag().map(str::to_string),
        }
    }

    pub fn put(&self, key: &str, body: Vec<u8>) {
        let req = self.client.put_object().bucket(&self.bucket).key(key).body(ByteStream::from(body));
        self.rt.block_on(req.send()).unwrap();
    }

    pub fn delete(&self, key: &str) {
        self.rt.block_on(self.client.delete_object().bucket(&self.bucket).key(key).send()).unwrap();
    }

    /// Number of multipart uploads started and neither completed nor aborted.
    pub fn incomplete_uploads(&self) -> usize {
        let out = self.rt.block_on(self.client.list_multipart_uploads().bucket(&self.bucket).send()).unwrap();
        out.uploads().len()
    }
}
