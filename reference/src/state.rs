//! The JSON state file of CONTRACT.md section 6: what the last successful run recorded per
//! subvolume. Reading treats a missing file as empty state; writing is atomic (temp file in
//! the same directory, fsync, rename, fsync of the directory), so a crash leaves either the
//! old or the new file. This module must not decide when to write (the backup command
//! does, once, after every subvolume succeeded).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::pyjson::Json;

/// What the state remembers about one subvolume.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubvolumeState {
    pub last_full_at: Option<String>,
    pub last_manifest: Option<String>,
    pub last_snapshot: Option<String>,
}

/// The whole state file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    pub last_run_at: Option<String>,
    pub subvolumes: BTreeMap<String, SubvolumeState>,
}

impl State {
    /// Reads the state file; a missing file is empty state.
    pub fn load(path: &Path) -> Result<State, String> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(format!("cannot read state file {}: {e}", path.display())),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("state file {} is not valid JSON: {e}", path.display()))?;
        let mut state = State {
            last_run_at: value.get("last_run_at").and_then(|v| v.as_str()).map(str::to_string),
            subvolumes: BTreeMap::new(),
        };
        if let Some(map) = value.get("subvolumes").and_then(|v| v.as_object()) {
            for (name, entry) in map {
                let field = |k: &str| entry.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let sub = SubvolumeState {
                    last_full_at: field("last_full_at"),
                    last_manifest: field("last_manifest"),
                    last_snapshot: field("last_snapshot"),
                };
                state.subvolumes.insert(name.clone(), sub);
            }
        }
        Ok(state)
    }

    /// The state as pretty JSON with sorted keys.
    pub fn to_json(&self) -> Json {
        let subvolumes = self
            .subvolumes
            .iter()
            .map(|(name, s)| {
                let entry = Json::object([
                    ("last_full_at", Json::opt_str(s.last_full_at.as_deref())),
                    ("last_manifest", Json::opt_str(s.last_manifest.as_deref())),
                    ("last_snapshot", Json::opt_str(s.last_snapshot.as_deref())),
                ]);
                (name.clone(), entry)
            })
            .collect();
        Json::object([
            ("last_run_at", Json::opt_str(self.last_run_at.as_deref())),
            ("subvolumes", Json::Object(subvolumes)),
        ])
    }

    /// Writes the state atomically: temp file, fsync, rename, fsync of the directory.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().ok_or_else(|| format!("state path {} has no parent", path.display()))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create state directory {}: {e}", dir.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        remove_dead_temp_files(dir, &name);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let text = self.to_json().to_python_pretty() + "\n";
        let written = write_synced(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("cannot write state file {}: {e}", path.display()));
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Removes `.<name>.<pid>.tmp` files of writers killed before their rename.
fn remove_dead_temp_files(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".tmp")).and_then(|p| p.parse::<u32>().ok());
        if matches!(pid, Some(p) if p != std::process::id() && !crate::lock::pid_alive(p)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_missing_means_empty() {
        let dir = std::env::temp_dir().join(format!("b2s3-ref-state-{}", std::process::id()));
        let path = dir.join("sub/state.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut state = State { last_run_at: Some("20260101T020000Z".into()), ..State::default() };
        state.subvolumes.insert(
            "data".into(),
            SubvolumeState {
                last_full_at: Some("20260101T020000Z".into()),
                last_manifest: Some("p/subvol/data/full/manifest-20260101T020000Z.json".into()),
                last_snapshot: Some("/s/data__20260101T020001Z__full".into()),
            },
        );
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), state);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"last_run_at\": \"20260101T020000Z\",\n  \"subvolumes\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
