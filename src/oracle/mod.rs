//! The oracle: judges observations against the model and the contract, and reports
//! findings named by the property ids of `PROPERTIES.md` (each with the step and the
//! first concrete discrepancy). It never mutates anything: it reads trees, documents,
//! exit codes, logs and (through `s3::view::StoreView`) S3 objects, and nothing else.
//!
//! - [`diff`]: expected vs restored trees (P1).
//! - [`manifest`]: manifest and `current.json` documents, exact schema (P7); [`schema`]:
//!   the same contract as JSON Schema files in `config/schemas/`.
//! - [`store`]: everything under a case prefix after each invocation (P2, P7).
//! - [`local`]: retention (P8), state file (P6), lock file and leftovers (P14).
//! - [`events`]: exit codes, error lines and tracebacks (P10).
//! - [`testkit`]: synthetic send streams and correctly published stores for tests.

pub mod diff;
pub mod events;
pub mod finding;
pub mod local;
pub mod manifest;
pub mod pyjson;
pub mod schema;
pub mod store;
pub mod testkit;
