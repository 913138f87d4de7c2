//! Local checks after a tool invocation: snapshot retention (P8), the state file's shape
//! (P6: the state is the schedule's memory), the lock file and everything left behind
//! (P14). Inputs are plain values (snapshot names, file contents, lookups given as
//! closures) so that every rule is testable without btrfs.
//!
//! This module never touches the filesystem or S3 itself: callers observe, it judges.

pub mod leftovers;
pub mod retention;
pub mod state;

pub use leftovers::{
    check_lock_after_exit, leftovers, pid_is_alive, LeftoverCounts, LeftoverInput, Leftovers,
    LockObservation,
};
pub use retention::{check_retention, snapshots_of, RetentionInput};
pub use state::{
    check_state, check_state_matches_pointers, State, StateCheck, StateExpect, SubvolumeState,
};
