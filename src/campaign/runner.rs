//! [`CaseRunner`]: the one seam between the campaign and the machinery that runs a case.
//! The real implementation is the [`Engine`] (fixture, tool, S3); unit tests use fakes
//! that decide findings from the plan alone, so that shrinking, the bug base, replay,
//! regressions, sharding and reports are tested without btrfs.
//!
//! Besides running a case, a runner can list what a kept case left in S3 and discard a
//! kept case (both used once per bug, for the bug base); the defaults do nothing.

use crate::engine::{CaseOptions, CaseReport, Engine};
use crate::fixture::CaseArea;
use crate::gen::plan::Plan;
use crate::s3::view::StoreView;

/// One object of a case's S3 prefix, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub storage_class: String,
}

/// Runs cases. Shared by the campaign's worker threads.
pub trait CaseRunner: Sync {
    /// Runs one case to its end. Never panics on tool or harness failures.
    fn run(&self, plan: &Plan, opts: &CaseOptions) -> CaseReport;

    /// Every object under `prefix` (a kept case's prefix), sorted by key.
    fn list_prefix(&self, _prefix: &str) -> Result<Vec<ListedObject>, String> {
        Ok(Vec::new())
    }

    /// Removes what a case run with `keep_area` left: its area and its S3 objects.
    fn discard(&self, _report: &CaseReport) -> Result<(), String> {
        Ok(())
    }
}

impl CaseRunner for Engine<'_> {
    fn run(&self, plan: &Plan, opts: &CaseOptions) -> CaseReport {
        self.run_case(plan, opts)
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<ListedObject>, String> {
        let listed = StoreView::list(self.client(), prefix).map_err(|e| format!("listing {prefix}: {e}"))?;
        Ok(listed
            .into_iter()
            .map(|o| ListedObject { key: o.key, size: o.size, storage_class: o.storage_class })
            .collect())
    }

    fn discard(&self, report: &CaseReport) -> Result<(), String> {
        let area = CaseArea::destroy_leftovers(&self.session().fixture, &report.case_id)
            .map_err(|e| format!("destroying the kept case area {}: {e}", report.case_id));
        let objects = self
            .client()
            .cleanup_prefix(&report.prefix, true)
            .map_err(|e| format!("deleting the kept case's S3 objects under {}: {e}", report.prefix));
        area.and(objects).map(|_| ())
    }
}
