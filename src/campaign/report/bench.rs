//! `benchmark.json`: every backup and restore invocation of the campaign with the bytes,
//! elapsed time and throughput the tool reported (`backup_metrics`/`restore_metrics`
//! events, one row per subvolume), plus totals per role. An invocation that reported no
//! metrics (killed, failed) still has a row, with its wall time and no bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::RunInfo;
use crate::campaign::run::CampaignResult;
use crate::engine::history::{Role, ToolCommand};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Benchmark {
    pub format: u32,
    pub run_id: String,
    pub profile: String,
    pub seed: u64,
    pub rows: Vec<BenchRow>,
    /// `backup` and `restore` (by command) totals over rows with bytes.
    pub totals: BTreeMap<String, BenchTotal>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    pub case_id: String,
    pub step: usize,
    pub role: String,
    pub command: String,
    /// Wall time of the whole invocation as the harness measured it.
    pub wall_ms: u64,
    pub subvolume: Option<String>,
    pub total_bytes: Option<u64>,
    /// As the tool reported it.
    pub elapsed_seconds: Option<f64>,
    pub throughput_bytes_per_sec: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BenchTotal {
    pub invocations: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub throughput_bytes_per_sec: Option<f64>,
}

impl Benchmark {
    pub fn new(run: &RunInfo, result: &CampaignResult) -> Benchmark {
        let mut rows = Vec::new();
        for r in &result.records {
            for m in &r.metrics {
                let base = BenchRow {
                    case_id: r.case_id.clone(),
                    step: m.step,
                    role: role_name(m.role).to_string(),
                    command: command(m.command).to_string(),
                    wall_ms: m.elapsed_ms,
                    subvolume: None,
                    total_bytes: None,
                    elapsed_seconds: None,
                    throughput_bytes_per_sec: None,
                };
                if m.subvolumes.is_empty() {
                    rows.push(base.clone());
                }
                rows.extend(m.subvolumes.iter().map(|s| BenchRow {
                    subvolume: Some(s.subvolume.clone()),
                    total_bytes: Some(s.total_bytes),
                    elapsed_seconds: Some(s.elapsed_seconds),
                    throughput_bytes_per_sec: rate(s.total_bytes, s.elapsed_seconds),
                    ..base.clone()
                }));
            }
        }
        let totals = totals(&rows);
        Benchmark { format: 1, run_id: run.run_id.clone(), profile: run.profile.clone(), seed: run.seed, rows, totals }
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Backup => "backup",
        Role::Contender => "contender",
        Role::Restore => "restore",
        Role::Retry => "retry",
    }
}

fn command(c: ToolCommand) -> &'static str {
    match c {
        ToolCommand::Backup => "backup",
        ToolCommand::Restore => "restore",
    }
}

fn rate(bytes: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| bytes as f64 / seconds)
}

fn totals(rows: &[BenchRow]) -> BTreeMap<String, BenchTotal> {
    let mut out: BTreeMap<String, BenchTotal> = BTreeMap::new();
    for row in rows {
        let (Some(bytes), Some(secs)) = (row.total_bytes, row.elapsed_seconds) else { continue };
        let t = out.entry(row.command.clone()).or_default();
        t.invocations += 1;
        t.bytes += bytes;
        t.seconds += secs;
    }
    for t in out.values_mut() {
        t.throughput_bytes_per_sec = rate(t.bytes, t.seconds);
    }
    out
}
