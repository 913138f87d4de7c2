//! `bench [--output PATH]`: throughput of the backups and restores this run made, read
//! from the tool's own `backup_metrics` and `restore_metrics` events (CONTRACT.md
//! section 2) in `<logs_dir>/*.stderr.log`. Writes `benchmark.json` (default
//! `<run_dir>/benchmark.json`) and prints a table.
//!
//! `benchmark.json`:
//! - `runs`: one entry per metrics event, in log file order: `operation` (`backup` or
//!   `restore`), `subvolume`, `total_bytes`, `elapsed_seconds`,
//!   `throughput_bytes_per_second` (bytes / elapsed; null when elapsed is 0), the
//!   tool's own `throughput` text, and the `log` file name;
//! - `summary`: per operation and subvolume, `count`, summed `total_bytes` and
//!   `elapsed_seconds`, and their quotient `throughput_bytes_per_second`.
//!
//! It only reads logs and writes that one file; a metrics line it cannot read is
//! reported on stderr and skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit;
use crate::tool::events::parse_log;

use super::{load_config, CommandError};

/// One backup or restore, as its metrics event reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub operation: String,
    pub subvolume: String,
    pub total_bytes: u64,
    pub elapsed_seconds: f64,
    pub throughput_bytes_per_second: Option<f64>,
    /// The tool's own `throughput=` text, e.g. `2.50MB/s`.
    pub throughput: String,
    pub log: String,
}

/// Totals for one operation on one subvolume.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub count: usize,
    pub total_bytes: u64,
    pub elapsed_seconds: f64,
    pub throughput_bytes_per_second: Option<f64>,
}

/// The content of `benchmark.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Benchmark {
    pub generated_at: String,
    pub logs_dir: PathBuf,
    pub runs: Vec<Measurement>,
    /// operation -> subvolume -> totals.
    pub summary: BTreeMap<String, BTreeMap<String, Totals>>,
}

fn rate(bytes: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| bytes as f64 / seconds)
}

/// The measurements in one stderr log; unreadable metrics lines go to `problems`.
pub fn measurements(text: &str, log: &str, problems: &mut Vec<String>) -> Vec<Measurement> {
    let mut out = Vec::new();
    for event in parse_log(text) {
        let Some(operation) = event
            .name
            .strip_suffix("_metrics")
            .filter(|o| *o == "backup" || *o == "restore")
        else {
            continue;
        };
        let bytes = event
            .field("total_bytes")
            .and_then(|v| v.parse::<u64>().ok());
        let elapsed = event
            .field("elapsed_seconds")
            .and_then(|v| v.parse::<f64>().ok());
        let (Some(total_bytes), Some(elapsed_seconds)) =
            (bytes, elapsed.filter(|e| e.is_finite() && *e >= 0.0))
        else {
            problems.push(format!("{log}: unreadable metrics line: {}", event.raw));
            continue;
        };
        out.push(Measurement {
            operation: operation.to_string(),
            subvolume: event.field("subvolume").unwrap_or("?").to_string(),
            total_bytes,
            elapsed_seconds,
            throughput_bytes_per_second: rate(total_bytes, elapsed_seconds),
            throughput: event.field("throughput").unwrap_or("").to_string(),
            log: log.to_string(),
        });
    }
    out
}

/// Sums the runs per operation and subvolume.
pub fn summarize(runs: &[Measurement]) -> BTreeMap<String, BTreeMap<String, Totals>> {
    let mut summary: BTreeMap<String, BTreeMap<String, Totals>> = BTreeMap::new();
    for m in runs {
        let t = summary
            .entry(m.operation.clone())
            .or_default()
            .entry(m.subvolume.clone())
            .or_default();
        t.count += 1;
        t.total_bytes += m.total_bytes;
        t.elapsed_seconds += m.elapsed_seconds;
    }
    for t in summary.values_mut().flat_map(|s| s.values_mut()) {
        t.throughput_bytes_per_second = rate(t.total_bytes, t.elapsed_seconds);
    }
    summary
}

fn stderr_logs(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CommandError::Usage(format!(
            "cannot read the logs dir {} ({e}): run the tool first (`run -- backup`)",
            dir.display()
        ))
    })?;
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".stderr.log"))
        .collect();
    logs.sort();
    Ok(logs)
}

/// `bench`: reads the logs, writes the JSON report and prints the table.
pub fn bench(config_path: &Path, output: Option<&Path>) -> Result<i32, CommandError> {
    let config = load_config(config_path)?;
    let logs_dir = &config.paths.logs_dir;
    let mut runs = Vec::new();
    let mut problems = Vec::new();
    for log in stderr_logs(logs_dir)? {
        let text = std::fs::read_to_string(&log)
            .map_err(|e| CommandError::harness(&format!("reading {}", log.display()), e))?;
        let name = log
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        runs.extend(measurements(&text, &name, &mut problems));
    }
    for problem in &problems {
        eprintln!("b2s3-harness: bench: {problem}");
    }
    if runs.is_empty() {
        return Err(CommandError::Usage(format!(
            "no backup_metrics or restore_metrics events in {}/*.stderr.log: run `run -- backup` (and a restore) first",
            logs_dir.display()
        )));
    }
    let summary = summarize(&runs);
    let report = Benchmark {
        generated_at: chrono::Utc::now().to_rfc3339(),
        logs_dir: logs_dir.clone(),
        runs,
        summary,
    };
    let path = output.map_or_else(
        || config.paths.run_dir.join("benchmark.json"),
        Path::to_path_buf,
    );
    let text = serde_json::to_string_pretty(&report).expect("the benchmark serialises") + "\n";
    std::fs::write(&path, text)
        .map_err(|e| CommandError::harness(&format!("writing {}", path.display()), e))?;
    print_table(&report);
    println!("wrote {}", path.display());
    Ok(exit::OK)
}

/// `12.35 MB/s` (1000-based, like the tool's own throughput).
fn human_rate(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_string(),
        Some(r) => format!("{:.2} MB/s", r / 1e6),
    }
}

fn print_table(b: &Benchmark) {
    println!(
        "{:<8} {:<12} {:>14} {:>10} {:>14}  log",
        "op", "subvolume", "bytes", "seconds", "throughput"
    );
    for m in &b.runs {
        let rate = human_rate(m.throughput_bytes_per_second);
        println!(
            "{:<8} {:<12} {:>14} {:>10.3} {:>14}  {}",
            m.operation, m.subvolume, m.total_bytes, m.elapsed_seconds, rate, m.log
        );
    }
    println!("totals:");
    for (op, per) in &b.summary {
        for (sv, t) in per {
            let rate = human_rate(t.throughput_bytes_per_second);
            println!(
                "{op:<8} {sv:<12} {:>14} {:>10.3} {rate:>14}  {} run(s)",
                t.total_bytes, t.elapsed_seconds, t.count
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-01-01 02:00:00,1 INFO btrfs_to_s3.cli event=backup_metrics subvolume=data total_bytes=2000000 elapsed_seconds=0.500 throughput=4.00MB/s\n\
        botocore noise\n\
        2026-01-01 02:00:01,1 INFO btrfs_to_s3.cli event=backup_metrics subvolume=root total_bytes=10 elapsed_seconds=0.000 throughput=0.00B/s\n\
        2026-01-01 02:00:02,1 INFO btrfs_to_s3.cli event=restore_metrics subvolume=data total_bytes=2000000 elapsed_seconds=1.0 throughput=2.00MB/s\n\
        2026-01-01 02:00:03,1 INFO btrfs_to_s3.cli event=backup_metrics subvolume=home total_bytes=x elapsed_seconds=1\n";

    #[test]
    fn metrics_events_become_measurements_and_bad_ones_are_reported() {
        let mut problems = Vec::new();
        let runs = measurements(LOG, "run-1.stderr.log", &mut problems);
        assert_eq!(runs.len(), 3);
        assert_eq!(
            (runs[0].operation.as_str(), runs[0].subvolume.as_str()),
            ("backup", "data")
        );
        assert_eq!(runs[0].throughput_bytes_per_second, Some(4e6));
        assert_eq!(
            runs[1].throughput_bytes_per_second, None,
            "zero elapsed has no rate"
        );
        assert_eq!(runs[2].operation, "restore");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("total_bytes=x"), "{problems:?}");
    }

    #[test]
    fn the_summary_sums_per_operation_and_subvolume() {
        let runs = measurements(&format!("{LOG}{LOG}"), "l", &mut Vec::new());
        let summary = summarize(&runs);
        let data = &summary["backup"]["data"];
        assert_eq!((data.count, data.total_bytes), (2, 4_000_000));
        assert_eq!(data.throughput_bytes_per_second, Some(4e6));
        assert_eq!(summary["restore"]["data"].count, 2);
    }
}
