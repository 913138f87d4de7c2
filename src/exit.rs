//! The documented, stable exit codes of `b2s3-harness`. Library errors are mapped to
//! these only at the binary edge (`main.rs`).

/// Everything ran and nothing that fails the run was found.
pub const OK: i32 = 0;
/// The run finished and reported findings that fail it (per the profile's severities).
pub const FINDINGS: i32 = 1;
/// Bad command line, bad config file or bad environment variable.
pub const USAGE: i32 = 2;
/// The harness itself failed (fixture, S3 server, model/scan mismatch): not the tool's fault.
pub const HARNESS_ERROR: i32 = 3;
/// Interrupted by SIGINT/SIGTERM; everything was torn down and partial reports written.
pub const INTERRUPTED: i32 = 130;
