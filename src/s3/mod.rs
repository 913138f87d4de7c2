//! S3: the client built from config ([`client`]), prefix cleanup ([`cleanup`]), the
//! embedded moto server's lifecycle ([`server`], [`venv`]), the fault-injecting proxy
//! ([`proxy`]) and the read-only [`view`] the oracle judges. This module moves bytes and
//! manages processes; it does not know what a manifest or a case is, and it deletes only
//! under a prefix it is given explicitly.

pub mod cleanup;
pub mod client;
mod local_http;
pub mod proxy;
pub mod server;
pub mod venv;
pub mod view;

pub use cleanup::CleanupReport;
pub use client::{Endpoint, PutOptions, S3Client, S3Error, S3Options};
pub use proxy::FaultProxy;
pub use server::EmbeddedServer;
