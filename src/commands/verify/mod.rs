//! `verify manifest|s3|retention|restore`: the oracle's checks run by hand over the
//! current run (its S3 prefix, snapshots dir, state file, or a restored tree). Each
//! prints its findings with their property ids and exits 0 when clean, 1 when it found
//! something, 2 on usage errors (including "nothing to verify") and 3 on harness errors.
//!
//! The checks themselves live in `oracle`; these modules only gather the inputs from
//! the run and print. They never change the store, the snapshots or the trees.

pub mod manifest;
pub mod restore;
pub mod retention;
pub mod s3;

use crate::exit;
use crate::oracle::finding::Finding;
use crate::oracle::store::Undecided;

/// What one `verify` command found, ready to print.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// What a check could not decide, and why: printed, never counted as a pass or a
    /// finding.
    pub undecided: Vec<Undecided>,
    /// One line per thing checked, printed before the findings.
    pub checked: Vec<String>,
    /// Longer explanations of findings (e.g. a tree diff), printed after them.
    pub details: Vec<String>,
}

impl Report {
    /// Prints everything and returns the exit code: 1 with findings, else 0.
    pub fn finish(self, command: &str) -> i32 {
        for line in &self.checked {
            println!("checked: {line}");
        }
        for finding in &self.findings {
            println!("{finding}");
        }
        for detail in &self.details {
            println!("{detail}");
        }
        for u in &self.undecided {
            println!("undecided: {}: {}", u.subject, u.reason);
        }
        let undecided = match self.undecided.len() {
            0 => String::new(),
            n => format!(", {n} undecided"),
        };
        if self.findings.is_empty() {
            println!("verify {command}: clean{undecided}");
            exit::OK
        } else {
            println!(
                "verify {command}: {} finding(s){undecided}",
                self.findings.len()
            );
            exit::FINDINGS
        }
    }
}

/// The subvolumes a check covers: `requested` if any (each must be configured), else
/// all configured ones.
pub fn select_subvolumes(
    configured: &[String],
    requested: &[String],
) -> Result<Vec<String>, super::CommandError> {
    if let Some(unknown) = requested.iter().find(|r| !configured.contains(r)) {
        return Err(super::CommandError::Usage(format!(
            "{unknown} is not a configured subvolume (configured: {})",
            configured.join(", ")
        )));
    }
    Ok(if requested.is_empty() {
        configured.to_vec()
    } else {
        requested.to_vec()
    })
}
