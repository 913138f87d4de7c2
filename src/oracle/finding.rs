//! Findings: what the tester reports about the tool, always named by a property of
//! `shared/PROPERTIES.md`. A harness malfunction is never a finding (see
//! `engine::HarnessError`); this module owns only the vocabulary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a broken property is; decides whether it fails a case (see the profile's
/// `fail_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Data loss or corruption, a wrong restore, a partial publish, two backups at once.
    Violation,
    /// The tool broke but lost nothing.
    Robustness,
    /// Leftovers that cost money or space.
    Hygiene,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Violation => "violation",
            Severity::Robustness => "robustness",
            Severity::Hygiene => "hygiene",
        }
    }
}

/// The properties of PROPERTIES.md, P1 to P14.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Property {
    #[serde(rename = "P1")]
    RoundTrip,
    #[serde(rename = "P2")]
    NoPartialPublish,
    #[serde(rename = "P3")]
    OldOrNew,
    #[serde(rename = "P4")]
    Recovery,
    #[serde(rename = "P5")]
    MutualExclusion,
    #[serde(rename = "P6")]
    Schedule,
    #[serde(rename = "P7")]
    LayoutAndMetadata,
    #[serde(rename = "P8")]
    Retention,
    #[serde(rename = "P9")]
    RestoreRefusal,
    #[serde(rename = "P10")]
    CleanFailure,
    #[serde(rename = "P11")]
    RetryAfterFailure,
    #[serde(rename = "P12")]
    Archive,
    #[serde(rename = "P13")]
    SelfCheckAgreement,
    #[serde(rename = "P14")]
    Leftovers,
}

impl Property {
    pub const ALL: [Property; 14] = [
        Property::RoundTrip,
        Property::NoPartialPublish,
        Property::OldOrNew,
        Property::Recovery,
        Property::MutualExclusion,
        Property::Schedule,
        Property::LayoutAndMetadata,
        Property::Retention,
        Property::RestoreRefusal,
        Property::CleanFailure,
        Property::RetryAfterFailure,
        Property::Archive,
        Property::SelfCheckAgreement,
        Property::Leftovers,
    ];

    /// The id used in PROPERTIES.md, e.g. `P3`.
    pub fn id(self) -> &'static str {
        match self {
            Property::RoundTrip => "P1",
            Property::NoPartialPublish => "P2",
            Property::OldOrNew => "P3",
            Property::Recovery => "P4",
            Property::MutualExclusion => "P5",
            Property::Schedule => "P6",
            Property::LayoutAndMetadata => "P7",
            Property::Retention => "P8",
            Property::RestoreRefusal => "P9",
            Property::CleanFailure => "P10",
            Property::RetryAfterFailure => "P11",
            Property::Archive => "P12",
            Property::SelfCheckAgreement => "P13",
            Property::Leftovers => "P14",
        }
    }

    /// The short name used in PROPERTIES.md, e.g. `old-or-new`.
    pub fn name(self) -> &'static str {
        match self {
            Property::RoundTrip => "round-trip",
            Property::NoPartialPublish => "no-partial-publish",
            Property::OldOrNew => "old-or-new",
            Property::Recovery => "recovery",
            Property::MutualExclusion => "mutual-exclusion",
            Property::Schedule => "schedule",
            Property::LayoutAndMetadata => "layout-and-metadata",
            Property::Retention => "retention",
            Property::RestoreRefusal => "restore-refusal",
            Property::CleanFailure => "clean-failure",
            Property::RetryAfterFailure => "retry-after-failure",
            Property::Archive => "archive",
            Property::SelfCheckAgreement => "self-check-agreement",
            Property::Leftovers => "leftovers",
        }
    }

    /// The severity PROPERTIES.md gives this property.
    pub fn severity(self) -> Severity {
        match self {
            Property::CleanFailure | Property::RetryAfterFailure | Property::SelfCheckAgreement => {
                Severity::Robustness
            }
            Property::Leftovers => Severity::Hygiene,
            _ => Severity::Violation,
        }
    }

    /// Parses `P3` (case-insensitive) or `old-or-new`.
    pub fn parse(s: &str) -> Option<Property> {
        Property::ALL
            .into_iter()
            .find(|p| p.id().eq_ignore_ascii_case(s) || p.name() == s)
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id(), self.name())
    }
}

/// One broken property, observed at one step, with the first concrete discrepancy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub property: Property,
    pub severity: Severity,
    /// Index of the plan step where it was observed (`None`: at the end of the case).
    pub step: Option<usize>,
    /// One line a user can read: what is wrong.
    pub message: String,
    /// The path, S3 key, field or log line concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
}

impl Finding {
    /// A finding with the property's own severity.
    pub fn new(property: Property, step: Option<usize>, message: impl Into<String>) -> Finding {
        Finding {
            property,
            severity: property.severity(),
            step,
            message: message.into(),
            subject: None,
            expected: None,
            seen: None,
        }
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Finding {
        self.subject = Some(subject.into());
        self
    }

    pub fn expected_seen(mut self, expected: impl Into<String>, seen: impl Into<String>) -> Finding {
        self.expected = Some(expected.into());
        self.seen = Some(seen.into());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {} {}]", self.property.id(), self.property.name(), self.severity.as_str())?;
        if let Some(step) = self.step {
            write!(f, " step {step}:")?;
        }
        write!(f, " {}", self.message)?;
        if let Some(subject) = &self.subject {
            write!(f, " ({subject})")?;
        }
        if let (Some(e), Some(s)) = (&self.expected, &self.seen) {
            write!(f, ": expected {e}, seen {s}")?;
        }
        Ok(())
    }
}
