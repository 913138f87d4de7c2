//! Live progress of a campaign: on a terminal, an indicatif bar (cases done, findings,
//! elapsed, ETA) with failures and notes printed above it; otherwise one plain line per
//! finished case, so CI logs read top to bottom. Workers call [`Progress::note`] from
//! their threads; the campaign loop calls the rest.

use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::record::CaseRecord;
use super::verdict::Verdict;

/// Receives the campaign's progress.
pub trait Progress: Sync {
    fn started(&self, total: usize);
    fn case_done(&self, record: &CaseRecord);
    /// A line of news from a worker (a failure being shrunk, a bug folder written).
    fn note(&self, line: &str);
    fn finish(&self);
}

/// Writes `text` to stdout, ignoring errors: a full disk or a closed pipe must not
/// panic the campaign (a panic would skip the teardown).
pub fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `text` to stderr, ignoring errors (see [`say`]).
pub fn warn(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// `println!` that never panics (see [`say`]).
macro_rules! say_line {
    ($($t:tt)*) => { $crate::campaign::progress::say(&format!("{}\n", format_args!($($t)*))) };
}

/// `print!` that never panics (see [`say`]).
macro_rules! say_text {
    ($($t:tt)*) => { $crate::campaign::progress::say(&format!($($t)*)) };
}

/// `eprintln!` that never panics (see [`say`]).
macro_rules! warn_line {
    ($($t:tt)*) => { $crate::campaign::progress::warn(&format!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {say_line, say_text, warn_line};

/// One line describing a finished case.
pub fn case_line(r: &CaseRecord) -> String {
    let time = format!("{} steps, {:.1} s", r.steps, r.elapsed_ms as f64 / 1000.0);
    match &r.verdict {
        Verdict::Pass => {
            let hygiene = r.findings.len();
            let extra = if hygiene > 0 { format!(", {hygiene} non-failing finding(s)") } else { String::new() };
            format!("{}: pass ({time}{extra})", r.label())
        }
        Verdict::Fail { property, severity } => {
            let msg = r.findings.iter().find(|f| f.property == *property).map_or("", |f| f.message.as_str());
            format!("{}: FAIL {} {} ({}): {msg} ({time})", r.label(), property.id(), property.name(), severity.as_str())
        }
        Verdict::HarnessError(e) => format!("{}: HARNESS ERROR: {e} ({time})", r.label()),
        Verdict::Interrupted => format!("{}: interrupted ({time})", r.label()),
    }
}

/// The progress display for this process: a bar on a terminal, plain lines otherwise.
pub fn for_terminal() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Plain::default())
    }
}

/// One line per case on stdout.
#[derive(Debug, Default)]
pub struct Plain {
    total: AtomicUsize,
    done: AtomicUsize,
    out: Mutex<()>,
}

impl Progress for Plain {
    fn started(&self, total: usize) {
        self.total.store(total, Ordering::SeqCst);
    }

    fn case_done(&self, record: &CaseRecord) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let _g = self.out.lock().unwrap_or_else(|p| p.into_inner());
        say(&format!("[{n}/{}] {}\n", self.total.load(Ordering::SeqCst), case_line(record)));
    }

    fn note(&self, line: &str) {
        let _g = self.out.lock().unwrap_or_else(|p| p.into_inner());
        say(&format!("{line}\n"));
    }

    fn finish(&self) {}
}

/// An indicatif bar on stderr.
pub struct Bar {
    bar: ProgressBar,
    failing: AtomicUsize,
    findings: AtomicUsize,
}

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} cases, {msg}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(500));
        Bar { bar, failing: AtomicUsize::new(0), findings: AtomicUsize::new(0) }
    }

    fn message(&self) -> String {
        format!("{} failing case(s), {} finding(s)", self.failing.load(Ordering::SeqCst), self.findings.load(Ordering::SeqCst))
    }
}

impl Progress for Bar {
    fn started(&self, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_message(self.message());
    }

    fn case_done(&self, record: &CaseRecord) {
        self.findings.fetch_add(record.findings.len(), Ordering::SeqCst);
        if !matches!(record.verdict, Verdict::Pass) {
            self.failing.fetch_add(1, Ordering::SeqCst);
            self.bar.println(case_line(record));
        }
        self.bar.set_message(self.message());
        self.bar.inc(1);
    }

    fn note(&self, line: &str) {
        self.bar.println(line);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Nothing shown (tests).
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _total: usize) {}
    fn case_done(&self, _record: &CaseRecord) {}
    fn note(&self, _line: &str) {}
    fn finish(&self) {}
}
