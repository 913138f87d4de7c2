//! `junit.xml`: one `<testsuite>` for the run, one `<testcase>` per finished case.
//! A failing case has a `<failure type="P<n>">` naming the property, with every
//! failing finding and the replay command in its text; a harness error is an
//! `<error type="harness">`; an interrupted case is `<skipped>`. The structure follows
//! `config/schemas/junit.xsd` (the common Jenkins/Surefire shape CI servers read).

use std::fmt::Write as _;

use super::{exit_code, RunInfo};
use crate::campaign::record::CaseRecord;
use crate::campaign::run::CampaignResult;
use crate::campaign::verdict::Verdict;

/// The whole document.
pub fn junit_xml(run: &RunInfo, result: &CampaignResult) -> String {
    let records = &result.records;
    let count = |f: fn(&Verdict) -> bool| records.iter().filter(|r| f(&r.verdict)).count();
    let failures = count(Verdict::is_fail);
    let errors = count(|v| matches!(v, Verdict::HarnessError(_)));
    let skipped = count(|v| *v == Verdict::Interrupted);
    let time = secs(result.elapsed.as_millis() as u64);
    let suite = format!("b2s3-harness.fuzz.{}", run.profile);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"b2s3-harness fuzz\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">",
        records.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{}\">",
        esc(&suite),
        records.len(),
        esc(&run.started_at)
    );
    out.push_str(&properties(run, result));
    for r in records {
        out.push_str(&testcase(&suite, r));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn properties(run: &RunInfo, result: &CampaignResult) -> String {
    let mut out = String::from("    <properties>\n");
    let props = [
        ("run_id", run.run_id.clone()),
        ("profile", run.profile.clone()),
        ("seed", run.seed.to_string()),
        ("shard", run.shard.to_string()),
        ("exit_code", exit_code(result).to_string()),
        ("tester", run.versions.tester.clone()),
        ("tool_command", run.versions.tool_command.join(" ")),
        ("btrfs_progs", run.versions.btrfs_progs.clone()),
        ("kernel", run.versions.kernel.clone()),
    ];
    for (name, value) in props {
        let _ = writeln!(out, "      <property name=\"{name}\" value=\"{}\"/>", esc(&value));
    }
    out.push_str("    </properties>\n");
    out
}

fn testcase(suite: &str, r: &CaseRecord) -> String {
    let mut out = format!(
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">\n",
        esc(&r.label()),
        esc(suite),
        secs(r.elapsed_ms)
    );
    match &r.verdict {
        Verdict::Pass => {}
        Verdict::Fail { property, severity } => {
            let first = r.findings.iter().find(|f| f.property == *property).map_or(String::new(), |f| f.message.clone());
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                property.id(),
                esc(&format!("{} {} ({}): {first}", property.id(), property.name(), severity.as_str())),
                esc(&failure_text(r))
            );
        }
        Verdict::HarnessError(e) => {
            let _ = writeln!(out, "      <error type=\"harness\" message=\"{}\">{}</error>", esc(e), esc(&failure_text(r)));
        }
        Verdict::Interrupted => out.push_str("      <skipped message=\"interrupted\"/>\n"),
    }
    let _ = writeln!(out, "      <system-out>{}</system-out>", esc(&format!("case id {}", r.case_id)));
    out.push_str("    </testcase>\n");
    out
}

fn failure_text(r: &CaseRecord) -> String {
    let mut text = String::new();
    for f in &r.findings {
        let _ = writeln!(text, "{f}");
    }
    if let Some(fr) = &r.failure {
        if let Some(dir) = &fr.bug_dir {
            let _ = writeln!(text, "bug folder: {}", dir.display());
        }
        let _ = writeln!(text, "replay: {}", fr.replay);
    }
    text
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// XML text and attribute escaping; control characters other than tab, newline and
/// carriage return (not allowed in XML 1.0) become `?`.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('?'),
            c if !c.is_ascii() => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}
