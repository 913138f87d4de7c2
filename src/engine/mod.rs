//! The case engine, in two halves.
//!
//! The judging half is pure logic over plain data: the record of what happened in a
//! case ([`history`]), the tester's own model of the tool's planner ([`planner`]), where
//! a kill landed ([`killpoint`]), indeterminate outcomes ([`expect`]) and the
//! engine-level property checks over recorded histories ([`judge`]). These must not
//! spawn the tool, touch the fixture or talk to S3.
//!
//! The [`executor`] is the half that does: [`Engine::run_case`] runs one plan against the
//! fixture, the tool and S3, keeps the model in step, fills a [`history::History`] and
//! calls the oracle and the judging half at every observation point. [`corrupt`] is the
//! pure part of a store fault: altering a send stream so only its hash tells.

pub mod corrupt;
pub mod delta;
pub mod executor;
pub mod expect;
pub mod history;
pub mod judge;
pub mod killpoint;
pub mod names;
pub mod planner;
pub mod state;

pub use executor::{CaseOptions, CaseReport, Engine, EngineError};
