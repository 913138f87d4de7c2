//! A read-only view of an S3 store, as the oracle needs it. The real implementation
//! lives in `s3::client`; unit tests use the in-memory [`MemStore`]. Keeping the
//! oracle behind this trait lets its store checks be tested on crafted corruptions.

use std::collections::BTreeMap;

use thiserror::Error;

/// What HeadObject (or a listing) says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// The storage class as reported by HeadObject; `STANDARD` when the server omits it.
    pub storage_class: String,
    /// `ServerSideEncryption`, e.g. `AES256`; `None` when absent.
    pub sse: Option<String>,
    pub content_type: Option<String>,
    /// The ETag as returned, quotes included.
    pub etag: Option<String>,
    /// The `x-amz-restore` header, when present.
    pub restore: Option<String>,
}

/// An incomplete multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub key: String,
    pub upload_id: String,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("no such object: {0}")]
    NotFound(String),
    /// GetObject refused because the object is in an archive class and not restored.
    #[error("object is archived and not restored: {0}")]
    Archived(String),
    #[error("S3 {operation} failed for {key}: {message}")]
    Other { operation: String, key: String, message: String },
}

/// Read-only access to the objects of one bucket.
pub trait StoreView {
    /// Every key under `prefix`, sorted, with sizes (all pages).
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError>;
    /// HeadObject: size, storage class, SSE, ETag, restore state.
    fn head(&self, key: &str) -> Result<ObjectInfo, StoreError>;
    /// GetObject: the whole body. For archived objects that were not restored,
    /// `StoreError::Archived`.
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// Incomplete multipart uploads under `prefix`.
    fn uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>, StoreError>;
}

/// An in-memory store for unit tests of the oracle.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    pub objects: BTreeMap<String, (ObjectInfo, Vec<u8>)>,
    pub uploads: Vec<UploadInfo>,
}

impl MemStore {
    /// Adds (or replaces) an object with the given class and SSE.
    pub fn put(&mut self, key: &str, body: &[u8], storage_class: &str, sse: Option<&str>) {
        let info = ObjectInfo {
            key: key.to_string(),
            size: body.len() as u64,
            storage_class: storage_class.to_string(),
            sse: sse.map(str::to_string),
            content_type: None,
            etag: Some(format!("\"{:x}\"", body.len())),
            restore: None,
        };
        self.objects.insert(key.to_string(), (info, body.to_vec()));
    }
}

impl StoreView for MemStore {
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        Ok(self
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, (info, _))| info.clone())
            .collect())
    }

    fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        self.objects
            .get(key)
            .map(|(info, _)| info.clone())
            .ok_or_else(|| StoreError::NotFound(key.to_string()))
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.objects
            .get(key)
            .map(|(_, body)| body.clone())
            .ok_or_else(|| StoreError::NotFound(key.to_string()))
    }

    fn uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>, StoreError> {
        Ok(self.uploads.iter().filter(|u| u.key.starts_with(prefix)).cloned().collect())
    }
}
