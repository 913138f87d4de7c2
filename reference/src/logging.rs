//! Log lines on stderr in the shape of the Python tool's `logging` output:
//! `<local time> <LEVEL> btrfs_to_s3.cli event=<name> key=value ...`, filtered by the
//! configured level, plus the number formats of the metrics events. This module owns the
//! line format; it must not decide which events exist or when they are emitted (the
//! command modules do) and must never write to stdout.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// Python logging levels, in order of severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    /// Parses a level name as accepted by the config and `--log-level`.
    pub fn parse(name: &str) -> Option<Level> {
        match name.to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// The names accepted for a level, in the order help texts list them.
pub const LEVEL_NAMES: [&str; 5] = ["debug", "info", "warning", "error", "critical"];

static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the minimum level that is written.
pub fn set_level(level: Level) {
    THRESHOLD.store(level as u8, Ordering::Relaxed);
}

/// Writes one event line if `level` passes the threshold. Field values are written as
/// they are (an `error=` value may contain spaces or newlines, as in the Python tool).
pub fn emit(level: Level, event: &str, fields: &[(&str, String)]) {
    if (level as u8) < THRESHOLD.load(Ordering::Relaxed) {
        return;
    }
    let now = chrono::Local::now();
    let mut line = format!(
        "{},{:03} {} btrfs_to_s3.cli event={}",
        now.format("%Y-%m-%d %H:%M:%S"),
        now.timestamp_subsec_millis().min(999),
        level.label(),
        event
    );
    for (key, value) in fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.push_str(value);
    }
    line.push('\n');
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    let _ = lock.write_all(line.as_bytes());
    let _ = lock.flush();
}

/// `event!(Info, "name", key = value, ...)`: emits an event line with `Display` values.
#[macro_export]
macro_rules! event {
    ($level:ident, $name:expr $(, $key:ident = $value:expr)* $(,)?) => {
        $crate::logging::emit(
            $crate::logging::Level::$level,
            $name,
            &[$((stringify!($key), ($value).to_string())),*],
        )
    };
}

/// Seconds with three decimals, as in `elapsed_seconds=1.234`.
pub fn format_elapsed(seconds: f64) -> String {
    format!("{seconds:.3}")
}

/// Bytes per second in 1000-based units with two decimals and no space: `2.50MB/s`.
pub fn format_throughput(total_bytes: u64, seconds: f64) -> String {
    let mut value = if seconds > 0.0 { total_bytes as f64 / seconds } else { 0.0 };
    let units = ["B/s", "KB/s", "MB/s", "GB/s", "TB/s"];
    for (i, unit) in units.iter().enumerate() {
        if value < 1000.0 || i == units.len() - 1 {
            return format!("{value:.2}{unit}");
        }
        value /= 1000.0;
    }
    unreachable!("the last unit always returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_uses_1000_based_units_with_two_decimals() {
        assert_eq!(format_throughput(2_500_000, 1.0), "2.50MB/s");
        assert_eq!(format_throughput(999, 1.0), "999.00B/s");
        assert_eq!(format_throughput(1000, 1.0), "1.00KB/s");
        assert_eq!(format_throughput(3_000_000_000, 2.0), "1.50GB/s");
        assert_eq!(format_throughput(10, 0.0), "0.00B/s");
    }

    #[test]
    fn elapsed_has_three_decimals() {
        assert_eq!(format_elapsed(1.23456), "1.235");
    }
}
