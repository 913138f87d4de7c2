//! The modification-time policy shared by the model and the executor.
//!
//! The kernel sets a file's mtime to "now" on every content change, which no model can
//! predict. So the executor, right after each content-changing operation (write,
//! sparse write, overwrite, append, truncate, hole punch, reflink), sets the file's
//! atime and mtime to [`stamp`] of that operation: a deterministic time derived from the
//! operation itself (SHA-256 of its JSON form). The model applies the same stamp, so it
//! knows every regular file's mtime exactly at every moment. `Touch` sets its own
//! explicit time. No other operation changes a regular file's mtime (chmod, chown,
//! xattrs, links and renames change only ctime). Directory and symlink mtimes are not
//! predicted (they change as entries come and go) and not compared.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gen::plan::Mutation;

/// Seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    pub sec: i64,
    pub nsec: u32,
}

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp { sec: 0, nsec: 0 };

    /// Nanoseconds since the epoch, as in `Entry::mtime_ns`.
    pub fn as_ns(self) -> i128 {
        i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec)
    }
}

/// Stamps fall in `[STAMP_BASE, STAMP_BASE + STAMP_SPAN)` seconds: 2020-09 to 2027-01.
const STAMP_BASE: i64 = 1_600_000_000;
const STAMP_SPAN: u64 = 200_000_000;

/// True for the operations after which the executor sets [`stamp`] as the mtime.
pub fn changes_content(m: &Mutation) -> bool {
    matches!(
        m,
        Mutation::Write { .. }
            | Mutation::WriteSparse { .. }
            | Mutation::Overwrite { .. }
            | Mutation::Append { .. }
            | Mutation::Truncate { .. }
            | Mutation::PunchHole { .. }
            | Mutation::Reflink { .. }
    )
}

/// The mtime a content-changing operation leaves on its file, or the explicit time of
/// a `Touch`; `None` for operations that leave regular-file mtimes alone.
pub fn stamp(m: &Mutation) -> Option<Timestamp> {
    if let Mutation::Touch { mtime_sec, mtime_nsec, .. } = m {
        return Some(Timestamp { sec: *mtime_sec, nsec: *mtime_nsec });
    }
    if !changes_content(m) {
        return None;
    }
    let json = serde_json::to_vec(m).expect("a mutation always serialises");
    let digest = Sha256::digest(&json);
    let a = u64::from_le_bytes(digest[0..8].try_into().expect("8 bytes"));
    let b = u64::from_le_bytes(digest[8..16].try_into().expect("8 bytes"));
    Some(Timestamp { sec: STAMP_BASE + (a % STAMP_SPAN) as i64, nsec: (b % 1_000_000_000) as u32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_change_gets_a_stamp_that_depends_on_the_operation() {
        let a = Mutation::Truncate { path: "a".into(), len: 1 };
        let b = Mutation::Truncate { path: "a".into(), len: 2 };
        assert_eq!(stamp(&a), stamp(&a.clone()));
        assert_ne!(stamp(&a), stamp(&b));
        let s = stamp(&a).unwrap();
        assert!(s.sec >= STAMP_BASE && s.nsec < 1_000_000_000);
    }

    #[test]
    fn metadata_operations_leave_the_mtime_alone() {
        assert_eq!(stamp(&Mutation::Chmod { path: "a".into(), mode: 0o600 }), None);
        assert_eq!(stamp(&Mutation::Rename { from: "a".into(), to: "b".into() }), None);
    }
}
