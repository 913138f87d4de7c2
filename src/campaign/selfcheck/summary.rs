//! The self-check's result: the correct tool's hunt and one hunt per bug variant,
//! aggregated into the numbers that say how good the tester is (variants found, false
//! alarms, the median time to the first finding), printed as a table and serialized as
//! `selfcheck.json`. Pure data and formatting: nothing here runs a case.

use std::fmt::Write as _;

use serde::Serialize;

use super::expected::expected;
use super::hunt::Hunt;

/// Where and when the self-check ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub date: String,
    pub nproc: usize,
    pub kernel: String,
}

impl Machine {
    /// This machine, now.
    pub fn detect() -> Machine {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "unknown".into(), |s| s.trim().to_string());
        Machine {
            date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            nproc: std::thread::available_parallelism().map_or(1, usize::from),
            kernel,
        }
    }
}

/// One variant's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRow {
    pub variant: String,
    pub found: bool,
    /// The property ids reference/README.md lists for the variant (`None`: not listed).
    pub expected: Option<Vec<String>>,
    /// Whether the first finding's property is one of `expected`.
    pub property_expected: Option<bool>,
    pub hunt: Hunt,
}

impl VariantRow {
    pub fn new(variant: &str, hunt: Hunt) -> VariantRow {
        let expected = expected(variant).map(|ps| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        let property_expected = match (&hunt.found, &expected) {
            (Some(f), Some(e)) => Some(e.iter().any(|p| p == f.failure.property.id())),
            _ => None,
        };
        VariantRow { variant: variant.to_string(), found: hunt.found.is_some(), expected, property_expected, hunt }
    }
}

/// The whole self-check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selfcheck {
    pub machine: Machine,
    pub profile: String,
    pub seeds: Vec<u64>,
    pub correct: Hunt,
    pub variants: Vec<VariantRow>,
    pub found: usize,
    /// Median over the found variants of the wall time to the first finding.
    pub median_secs_to_find: Option<f64>,
    pub false_alarms: usize,
    /// The correct tool ran cases with zero findings and no harness error, and every
    /// variant was found.
    pub passed: bool,
}

impl Selfcheck {
    pub fn new(machine: Machine, profile: &str, seeds: Vec<u64>, correct: Hunt, variants: Vec<VariantRow>) -> Selfcheck {
        let found = variants.iter().filter(|v| v.found).count();
        let times: Vec<f64> = variants.iter().filter_map(|v| v.hunt.found.as_ref().map(|f| f.secs_until)).collect();
        let false_alarms = correct.failures.len();
        let passed = correct.cases > 0 && false_alarms == 0 && correct.harness_errors.is_empty() && !correct.interrupted && found == variants.len();
        Selfcheck { machine, profile: profile.to_string(), seeds, correct, variants, found, median_secs_to_find: median(times), false_alarms, passed }
    }

    /// 0 when passed, 1 otherwise (the command maps an interruption to 130).
    pub fn exit_code(&self) -> i32 {
        if self.passed {
            crate::exit::OK
        } else {
            crate::exit::FINDINGS
        }
    }

    /// The table printed on stdout and copied into docs/selfcheck.md (Markdown).
    pub fn table(&self) -> String {
        let m = &self.machine;
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let mut t = format!("selfcheck: profile {}, seeds {}, {}, nproc {}, kernel {}\n\n", self.profile, seeds.join(","), m.date, m.nproc, m.kernel);
        t.push_str("| tool | found | property | expected | cases | time s | shrink s | shrunk steps/files/bytes |\n");
        t.push_str("|---|---|---|---|---|---|---|---|\n");
        let c = &self.correct;
        let _ = writeln!(t, "| correct | {} finding(s) | {} | - | {} | {:.0} | - | - |", c.failures.len(), properties(c), c.cases, c.secs);
        for v in &self.variants {
            t.push_str(&row(v));
        }
        let median = self.median_secs_to_find.map_or_else(|| "-".into(), |s| format!("{s:.0} s"));
        let _ = writeln!(
            t,
            "\nfound {} of {} variants; median time to first finding {median}; correct tool: {} case(s), {} finding(s), {} harness error(s); {}",
            self.found,
            self.variants.len(),
            c.cases,
            self.false_alarms,
            c.harness_errors.len(),
            if self.passed { "PASS" } else { "FAIL" }
        );
        t
    }
}

fn row(v: &VariantRow) -> String {
    let h = &v.hunt;
    let expected = match v.property_expected {
        Some(true) => "yes".to_string(),
        Some(false) => format!("no ({})", v.expected.clone().unwrap_or_default().join(",")),
        None => "-".into(),
    };
    let mut notes = Vec::new();
    if h.unconfirmed > 0 {
        notes.push(format!("{} unconfirmed", h.unconfirmed));
    }
    if !h.harness_errors.is_empty() {
        notes.push(format!("{} harness error(s)", h.harness_errors.len()));
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
    match &h.found {
        Some(f) => format!(
            "| {} | yes{notes} | {} | {expected} | {} | {:.0} | {:.0} | {}/{}/{} |\n",
            v.variant,
            f.failure.property.id(),
            f.cases_until,
            f.secs_until,
            f.shrink_secs,
            f.shrunk.steps,
            f.shrunk.files,
            f.shrunk.bytes
        ),
        None => format!("| {} | no{notes} | - | - | {} | {:.0} | - | - |\n", v.variant, h.cases, h.secs),
    }
}

/// The distinct property ids of a hunt's failures, or `-`.
fn properties(h: &Hunt) -> String {
    let mut ids: Vec<&str> = h.failures.iter().map(|f| f.property.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        "-".into()
    } else {
        ids.join(",")
    }
}

/// The median (mean of the middle two for an even count); `None` when empty.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}
