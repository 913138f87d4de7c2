//! The state file of CONTRACT.md section 6, parsed strictly. Its deviations are P6
//! findings: the state is what the planner reads to decide full vs incremental and which
//! parent to use, so a malformed state breaks the schedule. Entries of subvolumes the run
//! just backed up must be exactly as the tool writes them; other entries may hold values
//! the harness wrote itself (e.g. an ISO `last_full_at` that forces a full), so only
//! their shape is checked. Pure: the file's bytes are an input.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::oracle::finding::{Finding, Property};
use crate::oracle::manifest::{
    describe, is_compact_utc, key_deviations, parse_snapshot_name, Pointer,
};
use crate::oracle::store::layout::{parse_key, KeyRole};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub last_run_at: String,
    pub subvolumes: BTreeMap<String, SubvolumeState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubvolumeState {
    pub last_full_at: String,
    pub last_manifest: String,
    pub last_snapshot: String,
}

/// What the state must agree with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateExpect {
    /// The case prefix `P`, with its trailing `/`.
    pub prefix: String,
    /// `snapshots.base_dir`, without a trailing `/`.
    pub snapshots_dir: String,
    /// Subvolumes the run just backed up successfully: their entries must exist and be
    /// exactly as the tool writes them.
    pub fresh: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StateCheck {
    /// Set when the file deserializes into [`State`] (every field present with its
    /// type; extra fields ignored), even if findings were made.
    pub state: Option<State>,
    pub findings: Vec<Finding>,
}

/// Parses and judges the state file at `path`, whose content is `bytes`.
pub fn check_state(
    bytes: &[u8],
    path: &str,
    expect: &StateExpect,
    step: Option<usize>,
) -> StateCheck {
    let mut out = Judge {
        path,
        step,
        findings: Vec::new(),
    };
    let value = match parse_object(bytes) {
        Ok(value) => value,
        Err((problem, seen)) => {
            out.push("", problem, "JSON object", &seen);
            return StateCheck {
                state: None,
                findings: out.findings,
            };
        }
    };
    if let Some(map) = value.as_object() {
        out.document(map, expect);
    }
    StateCheck {
        state: serde_json::from_value(value).ok(),
        findings: out.findings,
    }
}

fn parse_object(bytes: &[u8]) -> Result<Value, (&'static str, String)> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ("state file is not JSON", e.to_string()))?;
    if !value.is_object() {
        return Err(("state file is not a JSON object", describe(&value)));
    }
    Ok(value)
}

struct Judge<'a> {
    path: &'a str,
    step: Option<usize>,
    findings: Vec<Finding>,
}

impl Judge<'_> {
    fn push(&mut self, field: &str, problem: &str, expected: &str, seen: &str) {
        let message = format!(
            "state file {}: {}: {problem}",
            self.path,
            if field.is_empty() {
                "(document)"
            } else {
                field
            }
        );
        let finding = Finding::new(Property::Schedule, self.step, message)
            .subject(format!("{}#{field}", self.path));
        self.findings.push(finding.expected_seen(expected, seen));
    }

    fn exact_keys(&mut self, path: &str, map: &Map<String, Value>, keys: &[&str]) {
        for (at, what, expected, seen) in key_deviations(path, map, keys) {
            self.push(&at, what, expected, seen);
        }
    }

    fn string<'v>(&mut self, field: &str, v: Option<&'v Value>) -> Option<&'v str> {
        let v = v?;
        let s = v.as_str();
        if s.is_none() {
            self.push(field, "wrong type", "string", &describe(v));
        }
        s
    }

    fn timestamp(&mut self, field: &str, ts: &str) {
        if !is_compact_utc(ts) {
            self.push(
                field,
                "not a compact UTC timestamp",
                "YYYYMMDDTHHMMSSZ",
                &format!("{ts:?}"),
            );
        }
    }

    fn document(&mut self, map: &Map<String, Value>, expect: &StateExpect) {
        self.exact_keys("", map, &["last_run_at", "subvolumes"]);
        if let Some(ts) = self.string("/last_run_at", map.get("last_run_at")) {
            self.timestamp("/last_run_at", ts);
        }
        let entries = map.get("subvolumes").and_then(Value::as_object);
        if let Some(v) = map.get("subvolumes").filter(|_| entries.is_none()) {
            self.push("/subvolumes", "wrong type", "object", &describe(v));
        }
        for (name, entry) in entries.into_iter().flatten() {
            self.entry(name, entry, expect);
        }
        for name in expect.fresh.iter() {
            if !entries.is_some_and(|e| e.contains_key(name)) {
                let field = format!("/subvolumes/{name}");
                let problem = "no entry for a subvolume the run backed up";
                self.push(&field, problem, "an entry", "absent");
            }
        }
    }

    fn entry(&mut self, name: &str, entry: &Value, expect: &StateExpect) {
        let base = format!("/subvolumes/{name}");
        let Some(map) = entry.as_object() else {
            return self.push(&base, "wrong type", "object", &describe(entry));
        };
        self.exact_keys(
            &base,
            map,
            &["last_full_at", "last_manifest", "last_snapshot"],
        );
        let full = self.string(&format!("{base}/last_full_at"), map.get("last_full_at"));
        let manifest = self.string(&format!("{base}/last_manifest"), map.get("last_manifest"));
        let snapshot = self.string(&format!("{base}/last_snapshot"), map.get("last_snapshot"));
        if !expect.fresh.iter().any(|f| f == name) {
            return;
        }
        if let Some(ts) = full {
            self.timestamp(&format!("{base}/last_full_at"), ts);
        }
        if let Some(key) = manifest {
            let ok = matches!(parse_key(&expect.prefix, key), Ok(KeyRole::Manifest { subvolume, .. }) if subvolume == name);
            if !ok {
                let want = format!("{}subvol/{name}/K/manifest-TS.json", expect.prefix);
                self.push(
                    &format!("{base}/last_manifest"),
                    "not a manifest key of this subvolume under the prefix",
                    &want,
                    key,
                );
            }
        }
        if let Some(path) = snapshot {
            let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
            if dir != expect.snapshots_dir
                || parse_snapshot_name(file).map(|(s, _, _)| s) != Some(name)
            {
                let want = format!("{}/{name}__TS__<full|inc>", expect.snapshots_dir);
                self.push(
                    &format!("{base}/last_snapshot"),
                    "not a snapshot of this subvolume in snapshots.base_dir",
                    &want,
                    path,
                );
            }
        }
    }
}

/// After a run that exited 0 and published every due subvolume, the state's
/// `last_manifest` of each of them is what its `current.json` names (P6: the next
/// incremental's parent). Do not call after a failed run: the state is then not rewritten
/// while earlier subvolumes' pointers moved on, by design.
pub fn check_state_matches_pointers(
    state: &State,
    pointers: &BTreeMap<String, Pointer>,
    subvolumes: &[String],
    step: Option<usize>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for name in subvolumes {
        let recorded = state.subvolumes.get(name).map(|s| s.last_manifest.as_str());
        let published = pointers.get(name).map(|p| p.manifest_key.as_str());
        if recorded != published {
            let message = format!(
                "state's last_manifest of {name} is not the manifest its current.json names"
            );
            findings.push(
                Finding::new(Property::Schedule, step, message)
                    .subject(name.clone())
                    .expected_seen(
                        published.unwrap_or("(no current.json)"),
                        recorded.unwrap_or("(no entry)"),
                    ),
            );
        }
    }
    findings
}
