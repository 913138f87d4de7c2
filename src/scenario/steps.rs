//! Building blocks of the scenario plans: the initial trees (the `seed` layout), the
//! rounds of changes between backups (round 1 is exactly the `mutate` set, later rounds
//! are small fixed additions on top of it) and a [`Steps`] builder that hands out each
//! step's index, so that a scenario's expectations name the steps they judge.
//!
//! Everything here is pure data construction: no I/O, no randomness (content is
//! described by seeds derived from the subvolume's name, as `seed` and `mutate` do).

use crate::commands::{mutate, seed};
use crate::gen::plan::{
    BackupFault, BackupMode, BackupStep, Mutation, RestoreSource, RestoreStep, Step, SubvolumePlan, VerifyMode,
};

/// Milliseconds every backup after the first waits: snapshot names and S3 run
/// timestamps have one-second resolution (ENVIRONMENT.md), so two backups in the same
/// second would clash in a correct tool too.
pub const BACKUP_GAP_MS: u64 = 1100;

/// The highest change round [`changes`] knows.
pub const LAST_ROUND: u32 = 5;

/// The initial trees: the `seed` layout of `bytes` content bytes in each subvolume.
pub fn seeded(subvolumes: &[String], bytes: u64) -> Vec<SubvolumePlan> {
    subvolumes
        .iter()
        .map(|name| SubvolumePlan { name: name.clone(), initial: seed::seed_layout(name, bytes) })
        .collect()
}

/// The changes of round `round` (1-based) to a seeded subvolume. Round 1 is the
/// `mutate` command's set; rounds 2 to [`LAST_ROUND`] each add a directory with a file,
/// append to `new/added.bin`, overwrite the start of `media/big.bin` and delete
/// `src/small-1<round>.dat`. Rounds must be applied in order, each once.
pub fn changes(subvolume: &str, round: u32, bytes: u64) -> Vec<Mutation> {
    assert!((1..=LAST_ROUND).contains(&round), "change round {round} is not between 1 and {LAST_ROUND}");
    if round == 1 {
        return mutate::mutations(subvolume, bytes);
    }
    let file = |k: u64, len: u64| seed::random(subvolume, 2000 + u64::from(round) * 10 + k, len);
    let dir = format!("round-{round}");
    vec![
        Mutation::Mkdir { path: dir.clone(), mode: 0o755 },
        Mutation::Write { path: format!("{dir}/data.bin"), content: file(1, bytes / 2), mode: 0o644 },
        Mutation::Append { path: "new/added.bin".into(), content: file(2, bytes / 8) },
        Mutation::Overwrite { path: "media/big.bin".into(), offset: 0, content: file(3, bytes / 4) },
        Mutation::Remove { path: format!("src/small-1{round}.dat") },
    ]
}

/// A backup of every configured subvolume, no flags, no fault.
pub fn backup() -> BackupStep {
    BackupStep { gap_ms: 0, subvolumes: Vec::new(), once: false, mode: BackupMode::Normal, fault: None }
}

/// `backup --once`.
pub fn once() -> BackupStep {
    BackupStep { once: true, ..backup() }
}

/// `b` with a fault.
pub fn with_fault(b: BackupStep, fault: BackupFault) -> BackupStep {
    BackupStep { fault: Some(fault), ..b }
}

/// A restore of `subvolume`'s `current.json` with the config's verify mode and waiting.
pub fn restore(subvolume: &str, verify: VerifyMode) -> RestoreStep {
    RestoreStep {
        subvolume: subvolume.to_string(),
        source: RestoreSource::Current,
        verify,
        wait: None,
        existing_target: false,
        kill: None,
        fault: None,
        retry: false,
    }
}

/// A restore through `--manifest-key` of the backup `back` backups before the latest.
pub fn restore_key(subvolume: &str, back: u32, verify: VerifyMode) -> RestoreStep {
    RestoreStep { source: RestoreSource::Manifest { back }, ..restore(subvolume, verify) }
}

/// The steps of a plan under construction; every method returns the new step's index.
#[derive(Debug, Default)]
pub struct Steps {
    steps: Vec<Step>,
    backups: usize,
    rounds: std::collections::BTreeMap<String, u32>,
}

impl Steps {
    pub fn new() -> Steps {
        Steps::default()
    }

    /// A backup; every backup but the plan's first gets [`BACKUP_GAP_MS`].
    pub fn backup(&mut self, mut b: BackupStep) -> usize {
        if self.backups > 0 {
            b.gap_ms = b.gap_ms.max(BACKUP_GAP_MS);
        }
        self.backups += 1;
        self.push(Step::Backup(b))
    }

    /// The next round of [`changes`] to `subvolume`, with `bytes` of new content.
    pub fn change(&mut self, subvolume: &str, bytes: u64) -> usize {
        let round = self.rounds.entry(subvolume.to_string()).or_insert(0);
        *round += 1;
        let ops = changes(subvolume, *round, bytes);
        self.push(Step::Mutate { subvolume: subvolume.to_string(), ops })
    }

    /// A full backup, then `incrementals` times a round of changes to `subvolume` and
    /// `backup --once`; the backup steps' indices, full first.
    pub fn chain(&mut self, subvolume: &str, incrementals: usize, bytes: u64) -> Vec<usize> {
        let mut backups = vec![self.backup(backup())];
        for _ in 0..incrementals {
            self.change(subvolume, bytes);
            backups.push(self.backup(once()));
        }
        backups
    }

    pub fn restore(&mut self, r: RestoreStep) -> usize {
        self.push(Step::Restore(r))
    }

    pub fn force_full(&mut self, subvolume: &str) -> usize {
        self.push(Step::ForceFull { subvolume: subvolume.to_string() })
    }

    pub fn push(&mut self, step: Step) -> usize {
        self.steps.push(step);
        self.steps.len() - 1
    }

    pub fn into_steps(self) -> Vec<Step> {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelTree;

    #[test]
    fn every_change_round_applies_to_the_seed_layout_in_order() {
        let mut model = ModelTree::new();
        for m in seed::seed_layout("data", 1 << 20) {
            model.apply(&m).unwrap();
        }
        for round in 1..=LAST_ROUND {
            for m in changes("data", round, 256 << 10) {
                model.apply(&m).unwrap_or_else(|e| panic!("round {round}: {m:?}: {e}"));
            }
        }
    }

    #[test]
    fn backups_after_the_first_wait_past_the_one_second_timestamp_resolution() {
        let mut steps = Steps::new();
        let first = steps.backup(backup());
        let second = steps.backup(once());
        let plan = steps.into_steps();
        assert_eq!((first, second), (0, 1));
        let gaps: Vec<u64> = plan
            .iter()
            .map(|s| match s {
                Step::Backup(b) => b.gap_ms,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(gaps, vec![0, BACKUP_GAP_MS]);
    }
}
