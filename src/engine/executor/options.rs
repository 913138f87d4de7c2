//! [`CaseOptions`]: how one case is run (time limit, area kept or not, id, strictness).
//! Plain data with documented defaults; the campaign fills it from its profile.

use std::time::Duration;

/// How one case is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOptions {
    /// The whole case must end within this; a tool still running when it runs out is
    /// killed and reported as hung (P10). Default: 15 minutes.
    pub time_limit: Duration,
    /// Keep the case area (subvolumes, snapshots, restores, scratch) and its S3 objects
    /// for inspection, e.g. for the bug base. Default: false.
    pub keep_area: bool,
    /// The case id (`[A-Za-z0-9_.-]`, used in paths and the S3 prefix). Default: derived
    /// from the plan's seed and case or name, plus a unique suffix.
    pub case_id: Option<String>,
    /// Hygiene findings (P14 leftovers) fail the case too. Default: false, as
    /// PROPERTIES.md says: hygiene is counted, and fails a case only when strict.
    pub strict_hygiene: bool,
}

impl Default for CaseOptions {
    fn default() -> Self {
        CaseOptions {
            time_limit: Duration::from_secs(15 * 60),
            keep_area: false,
            case_id: None,
            strict_hygiene: false,
        }
    }
}
