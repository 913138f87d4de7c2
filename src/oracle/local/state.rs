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
use crate::oracle::manifest::{describe, is_compact_utc, parse_snapshot_name, Pointer};
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
    /// Set when the file has the shape of section 6 (types, keys).
    pub state: Option<State>,
    pub findings: Vec<Finding>,
}

/// Parses and judges the state file at `path`, whose content is `bytes`.
pub fn check_state(bytes: &[u8], path: &str, expect: &StateExpect, step: Option<usize>) -> StateCheck {
    let mut out = Judge { path, step, findings: Vec::new() };
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            out.push("", "state file is not JSON", "JSON object", &e.to_string());
            return StateCheck { state: None, findings: out.findings };
        }
    };
    let Some(map) = value.as_object() else {
        out.push("", "state file is not a JSON object", "object", &describe(&value));
        return StateCheck { state: None, findings: out.findings };
    };
    out.exact_keys("", map, &["last_run_at", "subvolumes"]);
    if let Some(ts) = out.string("/last_run_at", map.get("last_run_at")) {
        out.timestamp("/last_run_at", ts);
    }
    let entries = map.get("subvolumes").and_then(Value::as_object);
    if map.get("subvolumes").is_some() && entries.is_none() {
        out.push("/subvolumes", "wrong type", "object", &describe(&map["subvolumes"]));
    }
    for (name, entry) in entries.into_iter().flatten() {
        out.entry(name, entry, expect);
    }
    for name in expect.fresh.iter().filter(|n| !entries.is_some_and(|e| e.contains_key(*n))) {
        out.push(&format!("/subvolumes/{name}"), "no entry for a subvolume the run backed up", "an entry", "absent");
    }
    let state = if out.findings.is_empty() { serde_json::from_value(value).ok() } else { None };
    StateCheck { state, findings: out.findings }
}

struct Judge<'a> {
    path: &'a str,
    step: Option<usize>,
    findings: Vec<Finding>,
}

impl Judge<'_> {
    fn push(&mut self, field: &str, problem: &str, expected: &str, seen: &str) {
        let message = format!("state file {}: {}: {problem}", self.path, if field.is_empty() { "(document)" } else { field });
        let finding = Finding::new(Property::Schedule, self.step, message).subject(format!("{}#{field}", self.path));
        self.findings.push(finding.expected_seen(expected, seen));
    }

    fn exact_keys(&mut self, path: &str, map: &Map<String, Value>, keys: &[&str]) {
        for key in keys.iter().filter(|k| !map.contains_key(**k)) {
            self.push(&format!("{path}/{key}"), "missing field", "present", "absent");
        }
        for key in map.keys().filter(|k| !keys.contains(&k.as_str())) {
            self.push(&format!("{path}/{key}"), "unexpected field", "absent", "present");
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
            self.push(field, "not a compact UTC timestamp", "YYYYMMDDTHHMMSSZ", &format!("{ts:?}"));
        }
    }

    fn entry(&mut self, name: &str, entry: &Value, expect: &StateExpect) {
        let base = format!("/subvolumes/{name}");
        let Some(map) = entry.as_object() else {
            return self.push(&base, "wrong type", "object", &describe(entry));
        };
        self.exact_keys(&base, map, &["last_full_at", "last_manifest", "last_snapshot"]);
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
                self.push(&format!("{base}/last_manifest"), "not a manifest key of this subvolume under the prefix", &want, key);
            }
        }
        if let Some(path) = snapshot {
            let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
            if dir != expect.snapshots_dir || parse_snapshot_name(file).map(|(s, _, _)| s) != Some(name) {
                let want = format!("{}/{name}__TS__<full|inc>", expect.snapshots_dir);
                self.push(&format!("{base}/last_snapshot"), "not a snapshot of this subvolume in snapshots.base_dir", &want, path);
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
            let message = format!("state's last_manifest of {name} is not the manifest its current.json names");
            findings.push(
                Finding::new(Property::Schedule, step, message)
                    .subject(name.clone())
                    .expected_seen(published.unwrap_or("(no current.json)"), recorded.unwrap_or("(no entry)")),
            );
        }
    }
    findings
}
