//! The built-in profiles, loading a profile from a TOML table over a base, and
//! validation with errors that name the key.

use serde::Serialize;

use super::{
    FaultWeights, GenProfile, InitialWeights, MutationWeights, PatternWeights, ProfileError,
    SizeWeights, StepWeights, VerifyWeights, KIB, MIB,
};
use crate::model::MAX_PATH;

impl GenProfile {
    /// The PR profile: a case takes seconds. Few files, mostly below 1 MiB with an
    /// occasional one around 5 MiB, 3 to 8 steps, chunks of 64 KiB to 1 MiB.
    pub fn pr() -> GenProfile {
        GenProfile {
            steps_min: 3,
            steps_max: 8,
            subvolumes_max: 2,
            initial_ops_min: 2,
            initial_ops_max: 8,
            mutate_ops_min: 1,
            mutate_ops_max: 6,
            fan_out_max: 12,
            depth_max: 8,
            max_file_size: 6 * MIB,
            small_file_max: 64 * KIB,
            medium_file_max: MIB,
            max_path_bytes: 1024,
            xattr_value_max: 128,
            stress_name_rate: 0.3,
            odd_mode_rate: 0.15,
            first_backup_rate: 0.95,
            final_restore_rate: 0.9,
            once_rate: 0.85,
            filter_rate: 0.15,
            dry_run_rate: 0.03,
            no_s3_rate: 0.03,
            fault_rate: 0.25,
            backup_retry_rate: 0.8,
            gap_ms_min: 1000,
            gap_ms_max: 2500,
            short_gap_rate: 0.1,
            chunk_size_min: 64 * KIB,
            chunk_size_max: MIB,
            chunk_near_put_rate: 0.15,
            retain_max: 3,
            concurrency_max: 4,
            archive_rate: 0.1,
            no_wait_rate: 0.05,
            spool_rate: 0.2,
            small_spool_rate: 0.1,
            restore_back_rate: 0.3,
            restore_wait_override_rate: 0.1,
            restore_existing_target_rate: 0.05,
            restore_kill_rate: 0.05,
            restore_retry_rate: 0.7,
            restore_corrupt_rate: 0.25,
            sizes: SizeWeights::default(),
            patterns: PatternWeights::default(),
            initial: InitialWeights::default(),
            mutations: MutationWeights::default(),
            steps: StepWeights::default(),
            faults: FaultWeights::default(),
            verify: VerifyWeights::default(),
        }
    }

    /// The nightly profile: up to three subvolumes, bigger trees and files (up to
    /// 48 MiB, chunks up to 8 MiB), longer plans (6 to 24 steps), more faults.
    pub fn nightly() -> GenProfile {
        GenProfile {
            steps_min: 6,
            steps_max: 24,
            subvolumes_max: 3,
            initial_ops_min: 5,
            initial_ops_max: 30,
            mutate_ops_min: 1,
            mutate_ops_max: 20,
            fan_out_max: 200,
            depth_max: 30,
            max_file_size: 48 * MIB,
            medium_file_max: 8 * MIB,
            max_path_bytes: 2048,
            xattr_value_max: 512,
            chunk_size_max: 8 * MIB,
            chunk_near_put_rate: 0.25,
            fault_rate: 0.35,
            archive_rate: 0.2,
            spool_rate: 0.3,
            restore_kill_rate: 0.1,
            sizes: SizeWeights {
                medium: 6,
                near_put: 3,
                chunk_multiple: 4,
                several_chunks: 3,
                ..SizeWeights::default()
            },
            ..GenProfile::pr()
        }
    }

    /// A profile from a TOML table (`[profile.<name>.gen]`) over [`GenProfile::pr`].
    pub fn from_table(table: &toml::Table) -> Result<GenProfile, ProfileError> {
        GenProfile::from_table_over(&GenProfile::pr(), table)
    }

    /// A profile from a TOML table: the keys present replace those of `base`
    /// (sub-tables such as `sizes` key by key), then the result is validated.
    pub fn from_table_over(
        base: &GenProfile,
        table: &toml::Table,
    ) -> Result<GenProfile, ProfileError> {
        let mut merged = toml::Table::try_from(base)
            .map_err(|e| ProfileError::Parse { message: e.to_string() })?;
        merge(&mut merged, table);
        // Going through the text form makes toml's errors name the offending key.
        let text =
            toml::to_string(&merged).map_err(|e| ProfileError::Parse { message: e.to_string() })?;
        let profile: GenProfile = toml::from_str(&text).map_err(|e| ProfileError::Parse {
            message: e.message().to_owned() + &key_hint(&e, &text),
        })?;
        profile.validate()?;
        Ok(profile)
    }

    /// Checks ranges, rates and that every weight table can choose something.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let bad =
            |key: &str, reason: String| Err(ProfileError::Invalid { key: key.to_owned(), reason });
        for (key, min, max) in [
            ("steps_min", self.steps_min, self.steps_max),
            ("initial_ops_min", self.initial_ops_min, self.initial_ops_max),
            ("mutate_ops_min", self.mutate_ops_min, self.mutate_ops_max),
        ] {
            if min > max {
                return bad(key, format!("({min}) is above its maximum ({max})"));
            }
        }
        if self.steps_max < 1 || self.mutate_ops_min < 1 {
            return bad("steps_max / mutate_ops_min", "must be at least 1".into());
        }
        if !(1..=3).contains(&self.subvolumes_max) {
            return bad("subvolumes_max", format!("is {}, must be 1 to 3", self.subvolumes_max));
        }
        if !(1..=3).contains(&self.retain_max) {
            return bad("retain_max", format!("is {}, must be 1 to 3", self.retain_max));
        }
        if self.concurrency_max < 1 || self.fan_out_max < 1 || self.depth_max < 1 {
            return bad("concurrency_max / fan_out_max / depth_max", "must be at least 1".into());
        }
        if self.chunk_size_min == 0 || self.chunk_size_min > self.chunk_size_max {
            return bad(
                "chunk_size_min",
                format!("must be in 1..=chunk_size_max ({})", self.chunk_size_max),
            );
        }
        if self.small_file_max < 65 || self.small_file_max >= self.medium_file_max {
            return bad("small_file_max", "must be at least 65 and below medium_file_max".into());
        }
        if self.gap_ms_min > self.gap_ms_max {
            return bad("gap_ms_min", format!("is above gap_ms_max ({})", self.gap_ms_max));
        }
        if !(64..=MAX_PATH as u32).contains(&self.max_path_bytes) {
            return bad("max_path_bytes", format!("must be 64 to {MAX_PATH}"));
        }
        if self.max_file_size == 0 || self.xattr_value_max as usize > crate::model::MAX_XATTR_VALUE
        {
            return bad(
                "max_file_size / xattr_value_max",
                "must be positive / at most 4096".into(),
            );
        }
        self.validate_rates()?;
        self.validate_weights()
    }

    fn validate_rates(&self) -> Result<(), ProfileError> {
        let rates = [
            ("stress_name_rate", self.stress_name_rate),
            ("odd_mode_rate", self.odd_mode_rate),
            ("first_backup_rate", self.first_backup_rate),
            ("final_restore_rate", self.final_restore_rate),
            ("once_rate", self.once_rate),
            ("filter_rate", self.filter_rate),
            ("dry_run_rate", self.dry_run_rate),
            ("no_s3_rate", self.no_s3_rate),
            ("fault_rate", self.fault_rate),
            ("backup_retry_rate", self.backup_retry_rate),
            ("short_gap_rate", self.short_gap_rate),
            ("chunk_near_put_rate", self.chunk_near_put_rate),
            ("archive_rate", self.archive_rate),
            ("no_wait_rate", self.no_wait_rate),
            ("spool_rate", self.spool_rate),
            ("small_spool_rate", self.small_spool_rate),
            ("restore_back_rate", self.restore_back_rate),
            ("restore_wait_override_rate", self.restore_wait_override_rate),
            ("restore_existing_target_rate", self.restore_existing_target_rate),
            ("restore_kill_rate", self.restore_kill_rate),
            ("restore_retry_rate", self.restore_retry_rate),
            ("restore_corrupt_rate", self.restore_corrupt_rate),
        ];
        match rates.iter().find(|(_, r)| !(0.0..=1.0).contains(r)) {
            Some((key, r)) => Err(ProfileError::Invalid {
                key: (*key).into(),
                reason: format!("is {r}, must be in [0, 1]"),
            }),
            None => Ok(()),
        }
    }

    fn validate_weights(&self) -> Result<(), ProfileError> {
        if self.dry_run_rate + self.no_s3_rate > 1.0 {
            return Err(ProfileError::Invalid {
                key: "dry_run_rate + no_s3_rate".into(),
                reason: "must not exceed 1".into(),
            });
        }
        let tables: [(&str, u64); 7] = [
            ("sizes", sum(&self.sizes)),
            ("patterns", sum(&self.patterns)),
            ("initial", sum(&self.initial)),
            ("mutations", sum(&self.mutations)),
            ("steps", sum(&self.steps)),
            ("faults", sum(&self.faults)),
            ("verify", sum(&self.verify)),
        ];
        match tables.iter().find(|(_, s)| *s == 0) {
            Some((key, _)) => Err(ProfileError::Invalid {
                key: (*key).into(),
                reason: "has only zero weights".into(),
            }),
            None => Ok(()),
        }
    }
}

/// Sum of the integer fields of a weight table.
fn sum(weights: &impl Serialize) -> u64 {
    let table = toml::Table::try_from(weights).expect("weight tables serialise");
    table.values().filter_map(toml::Value::as_integer).map(|v| v as u64).sum()
}

/// Replaces `base`'s keys by `over`'s, recursing into tables both have.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// ` (key `section.key`)` from the error's span in `text`, when toml gives one.
fn key_hint(e: &toml::de::Error, text: &str) -> String {
    let Some(span) = e.span() else {
        return String::new();
    };
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    let section = text[..line_start].lines().rev().find(|l| l.starts_with('['));
    match section.map(|l| l.trim().trim_matches(|c| c == '[' || c == ']')) {
        Some(s) => format!(" (key `{s}.{key}`)"),
        None => format!(" (key `{key}`)"),
    }
}
