//! The synchronous S3 client of the harness: built from [`S3Options`], it owns a tokio
//! runtime and an `aws-sdk-s3` client, implements [`StoreView`] for the oracle, and adds
//! the few writes the harness needs (put, delete, create bucket; prefix cleanup lives in
//! `s3::cleanup`). It must not know about cases, manifests or the tool: it speaks keys
//! and bytes only. It is `Send + Sync`; call it from plain threads, never from inside an
//! async context (its methods block on its own runtime).

use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption, StorageClass,
};
use thiserror::Error;
use tokio::runtime::Runtime;

use super::view::{ObjectInfo, StoreError, StoreView, UploadInfo};

/// Dummy credentials used for a local endpoint when none are given.
pub const LOCAL_DUMMY_CREDENTIALS: (&str, &str) = ("test", "test");

/// The AWS variables of the harness's environment handed to the tool on real AWS:
/// credentials, profile and endpoint overrides.
pub const AWS_PASSTHROUGH_VARS: [&str; 8] = [
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
];

/// The largest page S3 returns for ListObjectsV2 and ListMultipartUploads.
pub const MAX_PAGE_SIZE: i32 = 1000;

/// Where the S3 API lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A local server (moto, or the fault proxy in front of it), e.g.
    /// `http://127.0.0.1:5000`: static credentials, path-style addressing.
    Url(String),
    /// Real AWS: the standard credential chain and endpoint resolution.
    Aws,
}

/// Everything needed to build an [`S3Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    pub endpoint: Endpoint,
    pub bucket: String,
    pub region: String,
    /// `(access key id, secret access key)`. `None`: `test`/`test` for a local endpoint,
    /// the standard AWS credential chain for [`Endpoint::Aws`].
    pub credentials: Option<(String, String)>,
}

/// How to store an object written by [`S3Client::put_object`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// e.g. `STANDARD`, `STANDARD_IA`, `GLACIER`; `None` leaves it to the server.
    pub storage_class: Option<String>,
    /// e.g. `AES256`; `None` sends no SSE header.
    pub sse: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Error)]
pub enum S3Error {
    #[error("could not start the tokio runtime of the S3 client: {source}; check the process's thread and file limits")]
    Runtime { source: std::io::Error },
    #[error("S3 {operation} on {target} failed: {message}")]
    Request {
        operation: &'static str,
        target: String,
        message: String,
    },
    #[error("S3 endpoint {endpoint} (bucket {bucket}) is not usable: {message}")]
    Unreachable {
        endpoint: String,
        bucket: String,
        message: String,
    },
    #[error("refusing to clean up prefix {prefix:?}: {reason}")]
    CleanupRefused { prefix: String, reason: String },
    #[error("cleanup of prefix {prefix:?} incomplete: {failed} object(s) could not be deleted (first: {first}); {deleted} were deleted; rerun the cleanup or inspect the bucket")]
    CleanupIncomplete {
        prefix: String,
        deleted: usize,
        failed: usize,
        first: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A blocking S3 client for one bucket.
pub struct S3Client {
    runtime: Runtime,
    sdk: aws_sdk_s3::Client,
    options: S3Options,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &self.options.endpoint)
            .field("bucket", &self.options.bucket)
            .field("region", &self.options.region)
            .finish_non_exhaustive()
    }
}

impl S3Client {
    /// Builds the client. For [`Endpoint::Aws`] this loads the standard AWS
    /// configuration (environment, profiles, instance metadata); nothing is sent yet.
    pub fn new(options: S3Options) -> Result<S3Client, S3Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("b2s3-s3-client")
            .enable_all()
            .build()
            .map_err(|source| S3Error::Runtime { source })?;
        let sdk = match &options.endpoint {
            Endpoint::Url(url) => local_sdk_client(url, &options),
            Endpoint::Aws => runtime.block_on(aws_sdk_client(&options)),
        };
        Ok(S3Client {
            runtime,
            sdk,
            options,
        })
    }

    pub fn options(&self) -> &S3Options {
        &self.options
    }

    pub fn bucket(&self) -> &str {
        &self.options.bucket
    }

    /// The underlying SDK client, for operations this facade does not wrap (tests use it
    /// to leave multipart uploads behind). Run its futures with [`S3Client::block_on`].
    pub fn sdk(&self) -> &aws_sdk_s3::Client {
        &self.sdk
    }

    /// Runs a future on the client's runtime and waits for it.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The environment a boto3 tool needs to reach the same store: credentials, region
    /// and, for a local endpoint, `AWS_ENDPOINT_URL_S3`. With [`Endpoint::Aws`] and no
    /// explicit credentials, the harness's own [`AWS_PASSTHROUGH_VARS`] that are set
    /// (e.g. loaded from `config/test.env`) are passed on, so the tool reaches the same
    /// account the harness does.
    pub fn env_for_tool(&self) -> Vec<(String, String)> {
        match &self.options.endpoint {
            Endpoint::Url(url) => self.env_for_tool_via(url),
            Endpoint::Aws => {
                let mut env = self.credential_env();
                if self.options.credentials.is_none() {
                    env.extend(AWS_PASSTHROUGH_VARS.iter().filter_map(|name| {
                        let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
                        Some((name.to_string(), value))
                    }));
                }
                env.push(("AWS_DEFAULT_REGION".into(), self.options.region.clone()));
                env
            }
        }
    }

    /// Like [`S3Client::env_for_tool`], but pointing the tool at `endpoint_url` (the
    /// fault proxy) instead of this client's endpoint.
    pub fn env_for_tool_via(&self, endpoint_url: &str) -> Vec<(String, String)> {
        let mut env = self.credential_env();
        env.push(("AWS_DEFAULT_REGION".into(), self.options.region.clone()));
        env.push(("AWS_ENDPOINT_URL_S3".into(), endpoint_url.to_string()));
        env
    }

    fn credential_env(&self) -> Vec<(String, String)> {
        let creds = match (&self.options.credentials, &self.options.endpoint) {
            (Some((a, s)), _) => Some((a.clone(), s.clone())),
            (None, Endpoint::Url(_)) => Some(local_dummy_credentials()),
            (None, Endpoint::Aws) => None,
        };
        creds
            .map(|(access, secret)| {
                vec![
                    ("AWS_ACCESS_KEY_ID".to_string(), access),
                    ("AWS_SECRET_ACCESS_KEY".to_string(), secret),
                ]
            })
            .unwrap_or_default()
    }

    /// A doctor check: the endpoint answers and the bucket exists and is accessible.
    pub fn reachable(&self) -> Result<(), S3Error> {
        let unreachable = |message: String| S3Error::Unreachable {
            endpoint: self.endpoint_label(),
            bucket: self.options.bucket.clone(),
            message,
        };
        let head = self.sdk.head_bucket().bucket(&self.options.bucket).send();
        match self.block_on(async { tokio::time::timeout(Duration::from_secs(20), head).await }) {
            Err(_) => Err(unreachable(
                "no answer within 20 s; is the server running?".into(),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                Err(unreachable(
                    "the bucket does not exist; create it (the harness does for a local server)"
                        .into(),
                ))
            }
            Ok(Err(e)) => Err(unreachable(describe(&e))),
        }
    }

    fn endpoint_label(&self) -> String {
        match &self.options.endpoint {
            Endpoint::Url(url) => url.clone(),
            Endpoint::Aws => format!("AWS ({})", self.options.region),
        }
    }

    /// Creates the bucket; a bucket this account already owns is fine.
    pub fn create_bucket(&self) -> Result<(), S3Error> {
        let mut request = self.sdk.create_bucket().bucket(&self.options.bucket);
        if self.options.region != "us-east-1" {
            let constraint = BucketLocationConstraint::from(self.options.region.as_str());
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(constraint)
                    .build(),
            );
        }
        match self.block_on(request.send()) {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e) => Err(request_error("CreateBucket", &self.options.bucket, &e)),
        }
    }

    /// PutObject; returns the ETag as sent by the server, quotes included.
    pub fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        how: &PutOptions,
    ) -> Result<String, S3Error> {
        let request = self
            .sdk
            .put_object()
            .bucket(&self.options.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_storage_class(how.storage_class.as_deref().map(StorageClass::from))
            .set_server_side_encryption(how.sse.as_deref().map(ServerSideEncryption::from))
            .set_content_type(how.content_type.clone());
        let out = self
            .block_on(request.send())
            .map_err(|e| request_error("PutObject", key, &e))?;
        Ok(out.e_tag().unwrap_or_default().to_string())
    }

    /// DeleteObject of one explicit key (S3 answers success for a missing key too).
    /// Callers pass keys under their own case prefix only.
    pub fn delete_object(&self, key: &str) -> Result<(), S3Error> {
        if key.is_empty() {
            return Err(S3Error::Request {
                operation: "DeleteObject",
                target: "(empty key)".into(),
                message: "refusing to delete an empty key".into(),
            });
        }
        let request = self
            .sdk
            .delete_object()
            .bucket(&self.options.bucket)
            .key(key);
        self.block_on(request.send())
            .map_err(|e| request_error("DeleteObject", key, &e))?;
        Ok(())
    }

    /// Every object under `prefix`, sorted by key, fetching pages of `page_size` keys
    /// (1..=1000). Listing gives no SSE or content type: use `head` for those.
    pub fn list_with_page_size(
        &self,
        prefix: &str,
        page_size: i32,
    ) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut pages = self
            .sdk
            .list_objects_v2()
            .bucket(&self.options.bucket)
            .prefix(prefix)
            .max_keys(page_size.clamp(1, MAX_PAGE_SIZE))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        self.block_on(async {
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| store_error("ListObjectsV2", prefix, &e))?;
                found.extend(page.contents().iter().map(listed_object));
            }
            Ok::<_, StoreError>(())
        })?;
        found.sort_by(|a: &ObjectInfo, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// Incomplete multipart uploads under `prefix`, fetching pages of `page_size`.
    pub fn uploads_with_page_size(
        &self,
        prefix: &str,
        page_size: i32,
    ) -> Result<Vec<UploadInfo>, StoreError> {
        let mut found = Vec::new();
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let request = self
                .sdk
                .list_multipart_uploads()
                .bucket(&self.options.bucket)
                .prefix(prefix)
                .max_uploads(page_size.clamp(1, MAX_PAGE_SIZE))
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take());
            let page = self
                .block_on(request.send())
                .map_err(|e| store_error("ListMultipartUploads", prefix, &e))?;
            found.extend(page.uploads().iter().map(|u| UploadInfo {
                key: u.key().unwrap_or_default().to_string(),
                upload_id: u.upload_id().unwrap_or_default().to_string(),
            }));
            key_marker = page
                .next_key_marker()
                .filter(|m| !m.is_empty())
                .map(str::to_string);
            id_marker = page
                .next_upload_id_marker()
                .filter(|m| !m.is_empty())
                .map(str::to_string);
            if page.is_truncated() != Some(true) || key_marker.is_none() {
                return Ok(found);
            }
        }
    }
}

impl StoreView for S3Client {
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.list_with_page_size(prefix, MAX_PAGE_SIZE)
    }

    fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        let request = self.sdk.head_object().bucket(&self.options.bucket).key(key);
        let out = match self.block_on(request.send()) {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(HeadObjectError::NotFound(_))) => {
                return Err(StoreError::NotFound(key.to_string()))
            }
            Err(e) => return Err(store_error("HeadObject", key, &e)),
        };
        Ok(ObjectInfo {
            key: key.to_string(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            storage_class: out
                .storage_class()
                .map_or("STANDARD", |c| c.as_str())
                .to_string(),
            sse: out.server_side_encryption().map(|s| s.as_str().to_string()),
            content_type: out.content_type().map(str::to_string),
            etag: out.e_tag().map(str::to_string),
            restore: out.restore().map(str::to_string),
        })
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let request = self.sdk.get_object().bucket(&self.options.bucket).key(key);
        self.block_on(async {
            let out = match request.send().await {
                Ok(out) => out,
                Err(e) => {
                    return Err(match e.as_service_error() {
                        Some(GetObjectError::NoSuchKey(_)) => StoreError::NotFound(key.to_string()),
                        Some(GetObjectError::InvalidObjectState(_)) => {
                            StoreError::Archived(key.to_string())
                        }
                        _ => store_error("GetObject", key, &e),
                    })
                }
            };
            let body = out.body.collect().await.map_err(|e| StoreError::Other {
                operation: "GetObject (reading body)".into(),
                key: key.to_string(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>, StoreError> {
        self.uploads_with_page_size(prefix, MAX_PAGE_SIZE)
    }
}

fn local_dummy_credentials() -> (String, String) {
    (
        LOCAL_DUMMY_CREDENTIALS.0.to_string(),
        LOCAL_DUMMY_CREDENTIALS.1.to_string(),
    )
}

fn local_sdk_client(url: &str, options: &S3Options) -> aws_sdk_s3::Client {
    let (access, secret) = options
        .credentials
        .clone()
        .unwrap_or_else(local_dummy_credentials);
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(options.region.clone()))
        .credentials_provider(Credentials::new(access, secret, None, None, "b2s3-harness"))
        .endpoint_url(url)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn aws_sdk_client(options: &S3Options) -> aws_sdk_s3::Client {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(options.region.clone()));
    if let Some((access, secret)) = options.credentials.clone() {
        loader = loader.credentials_provider(Credentials::new(
            access,
            secret,
            None,
            None,
            "b2s3-harness",
        ));
    }
    aws_sdk_s3::Client::new(&loader.load().await)
}

fn listed_object(object: &aws_sdk_s3::types::Object) -> ObjectInfo {
    ObjectInfo {
        key: object.key().unwrap_or_default().to_string(),
        size: object.size().unwrap_or(0).max(0) as u64,
        storage_class: object
            .storage_class()
            .map_or("STANDARD", |c| c.as_str())
            .to_string(),
        sse: None,
        content_type: None,
        etag: object.e_tag().map(str::to_string),
        restore: None,
    }
}

/// The full error chain plus the S3 error code, for messages a person can act on.
pub(crate) fn describe<E>(error: &E) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    match error.code() {
        Some(code) => format!("{code}: {}", DisplayErrorContext(error)),
        None => DisplayErrorContext(error).to_string(),
    }
}

pub(crate) fn request_error<E>(operation: &'static str, target: &str, error: &E) -> S3Error
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    S3Error::Request {
        operation,
        target: target.to_string(),
        message: describe(error),
    }
}

fn store_error<E>(operation: &str, key: &str, error: &E) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    StoreError::Other {
        operation: operation.to_string(),
        key: key.to_string(),
        message: describe(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(credentials: Option<(String, String)>) -> S3Client {
        S3Client::new(S3Options {
            endpoint: Endpoint::Url("http://127.0.0.1:9".into()),
            bucket: "b".into(),
            region: "eu-west-1".into(),
            credentials,
        })
        .expect("client builds without network")
    }

    fn value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_client_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<S3Client>();
    }

    #[test]
    fn a_local_endpoint_gives_the_tool_dummy_credentials_region_and_endpoint() {
        let env = local(None).env_for_tool();
        assert_eq!(value(&env, "AWS_ACCESS_KEY_ID"), Some("test"));
        assert_eq!(value(&env, "AWS_SECRET_ACCESS_KEY"), Some("test"));
        assert_eq!(value(&env, "AWS_DEFAULT_REGION"), Some("eu-west-1"));
        assert_eq!(
            value(&env, "AWS_ENDPOINT_URL_S3"),
            Some("http://127.0.0.1:9")
        );
    }

    #[test]
    fn env_via_a_proxy_replaces_only_the_endpoint() {
        let client = local(Some(("ak".into(), "sk".into())));
        let env = client.env_for_tool_via("http://127.0.0.1:7");
        assert_eq!(value(&env, "AWS_ACCESS_KEY_ID"), Some("ak"));
        assert_eq!(
            value(&env, "AWS_ENDPOINT_URL_S3"),
            Some("http://127.0.0.1:7")
        );
    }

    #[test]
    fn an_unreachable_endpoint_is_reported_with_its_url() {
        let err = local(None)
            .reachable()
            .expect_err("nothing listens on port 9");
        assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
    }
}
