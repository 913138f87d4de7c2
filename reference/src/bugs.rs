//! Bug variants: the named, deliberate defects that `B2S3_REF_BUG=<name>` switches on, so
//! that the tester can prove it catches each one. This module owns the list of names and
//! the process-wide choice; it must not implement any defect itself (each defect lives at
//! the one place of the tool it corrupts, guarded by `bugs::on(Bug::...)`). At most one
//! variant is active; an unknown name is an error, never ignored.

use std::sync::OnceLock;

/// One deliberate defect. See `reference/README.md` for the property each one breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    NoLock,
    StaleLockNeverTaken,
    PointerBeforeManifest,
    PointerBeforeLastChunk,
    WrongParentManifest,
    SendWrongParent,
    DropLastPartialChunk,
    EmptyTrailingChunk,
    WrongManifestSize,
    PruneParent,
    StateBeforeUpload,
    RestoreFullOnly,
    RestoreSkipHash,
    RestoreLeavePartial,
    ArchiveNoWait,
    ManifestChunkClass,
    MissingSse,
}

/// Every variant with its kebab-case name, in documentation order.
pub const ALL: [(Bug, &str); 17] = [
    (Bug::NoLock, "no-lock"),
    (Bug::StaleLockNeverTaken, "stale-lock-never-taken"),
    (Bug::PointerBeforeManifest, "pointer-before-manifest"),
    (Bug::PointerBeforeLastChunk, "pointer-before-last-chunk"),
    (Bug::WrongParentManifest, "wrong-parent-manifest"),
    (Bug::SendWrongParent, "send-wrong-parent"),
    (Bug::DropLastPartialChunk, "drop-last-partial-chunk"),
    (Bug::EmptyTrailingChunk, "empty-trailing-chunk"),
    (Bug::WrongManifestSize, "wrong-manifest-size"),
    (Bug::PruneParent, "prune-parent"),
    (Bug::StateBeforeUpload, "state-before-upload"),
    (Bug::RestoreFullOnly, "restore-full-only"),
    (Bug::RestoreSkipHash, "restore-skip-hash"),
    (Bug::RestoreLeavePartial, "restore-leave-partial"),
    (Bug::ArchiveNoWait, "archive-no-wait"),
    (Bug::ManifestChunkClass, "manifest-chunk-class"),
    (Bug::MissingSse, "missing-sse"),
];

/// How long `pointer-before-manifest` and `pointer-before-last-chunk` hold their crash
/// window open, so that a kill by a black-box tester can land inside it.
pub const CRASH_WINDOW: std::time::Duration = std::time::Duration::from_millis(1500);

/// How long `no-lock` runs before planning, so that two backups started together overlap.
pub const NO_LOCK_OVERLAP: std::time::Duration = std::time::Duration::from_millis(2000);

/// The environment variable that selects a variant.
pub const ENV_VAR: &str = "B2S3_REF_BUG";

static ACTIVE: OnceLock<Option<Bug>> = OnceLock::new();

/// Parses a variant name; `""` means no variant.
pub fn parse(name: &str) -> Result<Option<Bug>, String> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    ALL.iter().find(|(_, n)| *n == name).map(|(b, _)| Some(*b)).ok_or_else(|| {
        let known: Vec<&str> = ALL.iter().map(|(_, n)| *n).collect();
        format!(
            "unknown {ENV_VAR} variant '{name}'; known variants: {} (run `b2s3-ref --list-bugs`)",
            known.join(", ")
        )
    })
}

/// Reads `B2S3_REF_BUG` once and fixes the choice for the whole process.
pub fn init_from_env() -> Result<Option<Bug>, String> {
    let chosen = match std::env::var(ENV_VAR) {
        Ok(v) => parse(&v)?,
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!("{ENV_VAR} is not valid UTF-8"));
        }
    };
    Ok(*ACTIVE.get_or_init(|| chosen))
}

/// True when `bug` is the active variant.
pub fn on(bug: Bug) -> bool {
    matches!(ACTIVE.get(), Some(Some(b)) if *b == bug)
}

/// The names, one per line, for `--list-bugs`.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_variant() {
        for (bug, name) in ALL {
            assert_eq!(parse(name).unwrap(), Some(bug));
        }
    }

    #[test]
    fn an_unknown_name_is_an_error_that_lists_the_known_ones() {
        let err = parse("no-such-bug").unwrap_err();
        assert!(err.contains("no-such-bug") && err.contains("pointer-before-manifest"), "{err}");
    }

    #[test]
    fn an_empty_name_means_no_variant() {
        assert_eq!(parse("").unwrap(), None);
    }
}
