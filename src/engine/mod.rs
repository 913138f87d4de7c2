//! The case engine's judging half: the record of what happened in a case
//! ([`history`]), the tester's own model of the tool's planner ([`planner`]), where a
//! kill landed ([`killpoint`]), indeterminate outcomes ([`expect`]) and the
//! engine-level property checks over recorded histories ([`judge`]).
//!
//! Everything here is pure logic over plain data: it must not spawn the tool, touch the
//! fixture or talk to S3. The runner that does fills a [`history::History`] and calls
//! these functions with what it observed.

pub mod delta;
pub mod expect;
pub mod history;
pub mod judge;
pub mod killpoint;
pub mod names;
pub mod planner;
pub mod state;
