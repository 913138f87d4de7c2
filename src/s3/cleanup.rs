//! Deleting everything under one case prefix: all objects (DeleteObjects, 1000 keys per
//! request) and all incomplete multipart uploads. This is the only bulk delete in the
//! harness, so it guards itself: it needs an explicit `yes` (the CLI's `--yes`), and it
//! refuses an empty prefix, the bucket root, and a prefix that does not end in `/` (so
//! that `run-1` can never also take `run-10/`). It must never delete outside `prefix`.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::client::{request_error, S3Client, S3Error, MAX_PAGE_SIZE};
use super::view::StoreView;

/// What [`S3Client::cleanup_prefix`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub prefix: String,
    pub objects_deleted: usize,
    pub uploads_aborted: usize,
}

/// Why a prefix may not be cleaned up, or `None` when it may.
pub fn refusal_reason(prefix: &str, yes: bool) -> Option<String> {
    if !yes {
        return Some("deleting a whole prefix needs an explicit yes (--yes)".into());
    }
    if prefix
        .trim_matches(|c: char| c == '/' || c.is_whitespace())
        .is_empty()
    {
        return Some("the prefix is empty or the bucket root; name a case or run prefix".into());
    }
    if !prefix.ends_with('/') {
        return Some(format!(
            "the prefix must end with '/' (did you mean {prefix:?}/?), or it would also match longer names"
        ));
    }
    None
}

impl S3Client {
    /// Aborts every incomplete multipart upload and deletes every object under `prefix`.
    /// Refuses (without sending anything) when [`refusal_reason`] gives a reason.
    pub fn cleanup_prefix(&self, prefix: &str, yes: bool) -> Result<CleanupReport, S3Error> {
        if let Some(reason) = refusal_reason(prefix, yes) {
            return Err(S3Error::CleanupRefused {
                prefix: prefix.to_string(),
                reason,
            });
        }
        let mut report = CleanupReport {
            prefix: prefix.to_string(),
            ..CleanupReport::default()
        };
        for upload in self.uploads(prefix)? {
            let request = self
                .sdk()
                .abort_multipart_upload()
                .bucket(self.bucket())
                .key(&upload.key)
                .upload_id(&upload.upload_id);
            self.block_on(request.send())
                .map_err(|e| request_error("AbortMultipartUpload", &upload.key, &e))?;
            report.uploads_aborted += 1;
        }
        let keys: Vec<String> = self.list(prefix)?.into_iter().map(|o| o.key).collect();
        let mut failures = Vec::new();
        for batch in keys.chunks(MAX_PAGE_SIZE as usize) {
            let failed = self.delete_batch(batch)?;
            report.objects_deleted += batch.len() - failed.len();
            failures.extend(failed);
        }
        match failures.first() {
            None => Ok(report),
            Some(first) => Err(S3Error::CleanupIncomplete {
                prefix: prefix.to_string(),
                deleted: report.objects_deleted,
                failed: failures.len(),
                first: first.clone(),
            }),
        }
    }

    /// One DeleteObjects request; returns `"<key>: <code> <message>"` per failed key.
    fn delete_batch(&self, keys: &[String]) -> Result<Vec<String>, S3Error> {
        let identifiers = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| S3Error::Request {
                operation: "DeleteObjects",
                target: keys.first().cloned().unwrap_or_default(),
                message: e.to_string(),
            })?;
        let delete = Delete::builder()
            .set_objects(Some(identifiers))
            .quiet(true)
            .build()
            .map_err(|e| S3Error::Request {
                operation: "DeleteObjects",
                target: keys[0].clone(),
                message: e.to_string(),
            })?;
        let request = self
            .sdk()
            .delete_objects()
            .bucket(self.bucket())
            .delete(delete);
        let out = self
            .block_on(request.send())
            .map_err(|e| request_error("DeleteObjects", &keys[0], &e))?;
        Ok(out
            .errors()
            .iter()
            .map(|e| {
                format!(
                    "{}: {} {}",
                    e.key().unwrap_or("?"),
                    e.code().unwrap_or("?"),
                    e.message().unwrap_or("")
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_without_yes_is_refused() {
        assert!(refusal_reason("case-1/", false).unwrap().contains("--yes"));
    }

    #[test]
    fn cleanup_of_the_bucket_root_is_refused_in_every_spelling() {
        for root in ["", "/", "//", " ", " / "] {
            assert!(
                refusal_reason(root, true).is_some(),
                "{root:?} was accepted"
            );
        }
    }

    #[test]
    fn cleanup_of_a_prefix_without_trailing_slash_is_refused() {
        assert!(refusal_reason("run-1", true)
            .unwrap()
            .contains("end with '/'"));
    }

    #[test]
    fn cleanup_of_a_case_prefix_with_yes_is_allowed() {
        assert_eq!(refusal_reason("b2s3/run-1/case-3/", true), None);
    }
}
