//! The process-global registry of live tool process groups, and the group-level process
//! operations the runner and the signal handler share: kill a group, list its members.
//!
//! A runner registers a group right after spawning its leader and unregisters it only
//! once no member is left, so the signal handler can always SIGKILL every tool process
//! the harness started. This module never spawns or reaps anything.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live() -> MutexGuard<'static, BTreeSet<i32>> {
    // A panic while holding the lock leaves a plain set behind: still usable.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps `pgid` in the registry until dropped.
#[derive(Debug)]
pub struct Registration(i32);

impl Registration {
    pub fn new(pgid: i32) -> Registration {
        live().insert(pgid);
        Registration(pgid)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        live().remove(&self.0);
    }
}

/// The process groups of tool invocations that are running now.
pub fn live_groups() -> Vec<i32> {
    live().iter().copied().collect()
}

/// SIGKILLs one process group; a group that is already gone is not an error.
pub fn kill_group(pgid: i32) {
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

/// SIGKILLs every registered group; returns how many there were.
pub fn kill_all() -> usize {
    let groups = live_groups();
    groups.iter().for_each(|&pgid| kill_group(pgid));
    groups.len()
}

/// Pids of the processes in group `pgid` that are not dead (zombies excluded), read from
/// `/proc/<pid>/stat`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            matches!(parse_stat(&stat), Some((state, group)) if group == pgid && !matches!(state, 'Z' | 'X'))
        })
        .collect()
}

/// State and process group from a `/proc/<pid>/stat` line (`pid (comm) S ppid pgrp ...`;
/// `comm` may contain spaces and parentheses, so fields are counted after the last `)`).
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_parentheses_in_the_name_gives_state_and_group() {
        assert_eq!(
            parse_stat("42 (a) b (c)) S 1 4242 4242 0"),
            Some(('S', 4242))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_current_process_is_a_member_of_its_own_group() {
        let pgid = nix::unistd::getpgrp().as_raw();
        assert!(group_members(pgid).contains(&(std::process::id() as i32)));
    }
}
