//! b2s3-harness: a property-based and fault-injection tester for `btrfs_to_s3`.
//!
//! A case flows through the modules in this order:
//!
//! 1. [`gen`] makes a seeded, shrinkable [`gen::plan::Plan`]: the tool configuration, the
//!    initial trees, and a sequence of steps (mutations, backups with faults, restores).
//! 2. [`engine`] executes the plan against the [`fixture`] (btrfs on loop files), the
//!    [`tool`] (a child process in its own process group) and [`s3`] (a real S3 server,
//!    by default an embedded moto server, optionally behind a fault-injecting proxy).
//! 3. [`model`] keeps what every subvolume and every published backup must contain.
//! 4. [`oracle`] judges observations (exit codes, log events, S3 objects, snapshots,
//!    restored trees) against the model and reports [`oracle::finding::Finding`]s named
//!    by the property ids of `PROPERTIES.md`.
//! 5. [`campaign`] runs many cases (PR and nightly profiles), shrinks failures, keeps a
//!    bug base and writes reports; [`scenario`] holds the fixed end-to-end plans.
//!
//! [`config`] loads and validates the harness configuration; [`exit`] holds the
//! documented exit codes of the binary.

pub mod campaign;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exit;
pub mod fixture;
pub mod gen;
pub mod model;
pub mod oracle;
pub mod s3;
pub mod scenario;
pub mod session;
pub mod tool;
