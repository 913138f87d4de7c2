//! The S3 client of the tool, as a small blocking facade over `aws-sdk-s3`: the
//! credentials gate and endpoint rules of CONTRACT.md section 4 (path-style addressing and
//! checksums only when required with a custom endpoint, as boto3 does), and the handful of
//! calls the tool makes. Each call runs on a private current-thread tokio runtime. This
//! module must not decide keys, storage classes or order; it never lists or deletes
//! objects (backups only write, restores only read and request archive restores).

use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, GlacierJobParameters, RestoreRequest, ServerSideEncryption,
    StorageClass, Tier,
};
use aws_sdk_s3::Client;
use bytes::Bytes;

/// True if the environment carries credentials the tool accepts (section 4).
pub fn credentials_present() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("AWS_PROFILE") || (set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"))
}

/// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, if set and non-empty.
pub fn endpoint_from_env() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
}

/// How an object is stored when it is written.
#[derive(Clone, Copy, Debug)]
pub struct PutOptions<'a> {
    pub storage_class: &'a str,
    /// `None` sends no `ServerSideEncryption` header.
    pub sse: Option<&'a str>,
    pub content_type: Option<&'a str>,
}

/// The body of one multipart part.
pub enum PartBody {
    Memory(Bytes),
    File(PathBuf),
}

/// Why a GET failed.
#[derive(Debug)]
pub enum GetError {
    /// NoSuchKey (or 404).
    Missing,
    /// Anything else, described with its S3 error code.
    Other(String),
}

/// Outcome of a RestoreObject request.
#[derive(Debug, PartialEq, Eq)]
pub enum RestoreRequested {
    /// Accepted now or earlier; poll HeadObject for completion.
    Pending,
    /// The object is not in an archive class (S3 says InvalidObjectState): readable as is.
    NotArchived,
}

/// A bucket the tool talks to.
pub struct Store {
    rt: tokio::runtime::Runtime,
    client: Client,
    bucket: String,
}

fn describe<E, R>(doing: &str, key: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!("{doing} {key} failed: {code}: {}", e.message().unwrap_or("")),
        None => format!("{doing} {key} failed: {}", DisplayErrorContext(e)),
    }
}

impl Store {
    /// Builds a client for `bucket` in `region`, honouring the endpoint variables.
    pub fn connect(bucket: &str, region: &str) -> Result<Store, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the S3 runtime: {e}"))?;
        let shared = rt.block_on(
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string())).load(),
        );
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = endpoint_from_env() {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        let client = Client::from_conf(builder.build());
        Ok(Store { rt, client, bucket: bucket.to_string() })
    }

    /// PutObject of an in-memory body; returns the ETag (quotes included).
    pub fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<Option<String>, String> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .storage_class(StorageClass::from(opts.storage_class));
        if let Some(sse) = opts.sse {
            req = req.server_side_encryption(ServerSideEncryption::from(sse));
        }
        if let Some(ct) = opts.content_type {
            req = req.content_type(ct);
        }
        let out = self.rt.block_on(req.send()).map_err(|e| describe("PutObject", key, &e))?;
        Ok(out.e_tag().map(str::to_string))
    }

    /// CreateMultipartUpload; returns the upload id.
    pub fn create_multipart(&self, key: &str, opts: PutOptions) -> Result<String, String> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .storage_class(StorageClass::from(opts.storage_class));
        if let Some(sse) = opts.sse {
            req = req.server_side_encryption(ServerSideEncryption::from(sse));
        }
        let out = self.rt.block_on(req.send()).map_err(|e| describe("CreateMultipartUpload", key, &e))?;
        out.upload_id().map(str::to_string).ok_or_else(|| format!("CreateMultipartUpload {key} returned no upload id"))
    }

    /// UploadPart; returns the part's ETag.
    pub fn upload_part(&self, key: &str, upload_id: &str, number: i32, body: PartBody) -> Result<String, String> {
        let etag = self.rt.block_on(async {
            let stream = match body {
                PartBody::Memory(bytes) => ByteStream::from(bytes),
                PartBody::File(path) => ByteStream::from_path(&path)
                    .await
                    .map_err(|e| format!("cannot read spool file {}: {e}", path.display()))?,
            };
            let req = self.client.upload_part().bucket(&self.bucket).key(key);
            let out = req
                .upload_id(upload_id)
                .part_number(number)
                .body(stream)
                .send()
                .await
                .map_err(|e| describe("UploadPart", key, &e))?;
            Ok::<_, String>(out.e_tag().unwrap_or_default().to_string())
        })?;
        Ok(etag)
    }

    /// CompleteMultipartUpload with `(part number, etag)` pairs.
    pub fn complete_multipart(&self, key: &str, upload_id: &str, parts: &[(i32, String)]) -> Result<(), String> {
        let completed: Vec<CompletedPart> =
            parts.iter().map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build()).collect();
        let req = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build());
        self.rt.block_on(req.send()).map(drop).map_err(|e| describe("CompleteMultipartUpload", key, &e))
    }

    /// AbortMultipartUpload, best effort (the failure being handled matters more).
    pub fn abort_multipart(&self, key: &str, upload_id: &str) {
        let req = self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id);
        let _ = self.rt.block_on(req.send());
    }

    /// GetObject, handing the body to `sink` piece by piece; returns the byte count.
    pub fn get_with(&self, key: &str, sink: &mut dyn FnMut(&[u8]) -> Result<(), String>) -> Result<u64, GetError> {
        self.rt.block_on(async {
            let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
                let missing = e.code() == Some("NoSuchKey")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if missing {
                    GetError::Missing
                } else {
                    GetError::Other(describe("GetObject", key, &e))
                }
            })?;
            let mut body = out.body;
            let mut total = 0u64;
            loop {
                let next = body.try_next().await;
                match next.map_err(|e| GetError::Other(format!("GetObject {key} failed while reading: {e}")))? {
                    Some(piece) => {
                        total += piece.len() as u64;
                        sink(&piece).map_err(GetError::Other)?;
                    }
                    None => return Ok(total),
                }
            }
        })
    }

    /// GetObject of a small document into memory.
    pub fn get_all(&self, key: &str) -> Result<Vec<u8>, GetError> {
        let mut buf = Vec::new();
        self.get_with(key, &mut |piece| {
            buf.extend_from_slice(piece);
            Ok(())
        })?;
        Ok(buf)
    }

    /// RestoreObject for one day at `tier`.
    pub fn request_restore(&self, key: &str, tier: &str) -> Result<RestoreRequested, String> {
        let params = GlacierJobParameters::builder()
            .tier(Tier::from(tier))
            .build()
            .map_err(|e| format!("cannot build the restore request for {key}: {e}"))?;
        let request = RestoreRequest::builder().days(1).glacier_job_parameters(params).build();
        let req = self.client.restore_object().bucket(&self.bucket).key(key).restore_request(request);
        match self.rt.block_on(req.send()) {
            Ok(_) => Ok(RestoreRequested::Pending),
            Err(e) if e.code() == Some("RestoreAlreadyInProgress") => Ok(RestoreRequested::Pending),
            Err(e) if e.code() == Some("InvalidObjectState") => Ok(RestoreRequested::NotArchived),
            Err(e) => Err(describe("RestoreObject", key, &e)),
        }
    }

    /// HeadObject's `x-amz-restore` header (None when absent).
    pub fn restore_status(&self, key: &str) -> Result<Option<String>, String> {
        let req = self.client.head_object().bucket(&self.bucket).key(key);
        let out = self.rt.block_on(req.send()).map_err(|e| describe("HeadObject", key, &e))?;
        Ok(out.restore().map(str::to_string))
    }
}
