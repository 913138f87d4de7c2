//! The TOML configuration of CONTRACT.md section 3: keys, defaults, `~` expansion and
//! validation with the contract's messages (`<section>.<key> must be ...`, `... is
//! required`, `config path must be absolute: <p>`, `config file not found: <p>`). Unknown
//! keys and sections are ignored. This module only reads and checks the file; it must not
//! touch the filesystem beyond reading it, nor log (the caller prints `config error:`).

use std::path::{Path, PathBuf};

use crate::logging::{Level, LEVEL_NAMES};

/// Post-restore verification mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyMode {
    Full,
    Sample,
    None,
}

impl VerifyMode {
    pub const NAMES: [&'static str; 3] = ["full", "sample", "none"];

    pub fn parse(name: &str) -> Option<VerifyMode> {
        match name {
            "full" => Some(VerifyMode::Full),
            "sample" => Some(VerifyMode::Sample),
            "none" => Some(VerifyMode::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VerifyMode::Full => "full",
            VerifyMode::Sample => "sample",
            VerifyMode::None => "none",
        }
    }
}

/// The `[s3]` section.
#[derive(Clone, Debug)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Always ends with exactly one `/`.
    pub prefix: String,
    pub chunk_size_bytes: u64,
    pub storage_class_chunks: String,
    pub storage_class_manifest: String,
    /// Validated only: chunks are uploaded one after another, in order.
    #[allow(dead_code)]
    pub concurrency: u64,
    pub spool_enabled: bool,
    pub sse: String,
}

/// The `[restore]` section.
#[derive(Clone, Debug)]
pub struct RestoreConfig {
    /// Validated only: not used by the tool (CONTRACT.md section 3).
    #[allow(dead_code)]
    pub target_base_dir: PathBuf,
    pub verify_mode: VerifyMode,
    pub sample_max_files: u64,
    pub wait_for_restore: bool,
    pub restore_timeout_seconds: u64,
    pub restore_tier: String,
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub log_level: Level,
    pub state_path: PathBuf,
    pub lock_path: PathBuf,
    pub spool_dir: PathBuf,
    pub spool_size_bytes: u64,
    pub full_every_days: u64,
    pub incremental_every_days: u64,
    /// Validated only: not used for planning (CONTRACT.md section 3).
    #[allow(dead_code)]
    pub run_at: String,
    pub snapshots_base_dir: PathBuf,
    pub retain: u64,
    pub subvolumes: Vec<PathBuf>,
    pub s3: S3Config,
    pub restore: RestoreConfig,
}

/// Expands a leading `~` or `~user` like Python's `os.path.expanduser`.
pub fn expand_user(text: &str) -> String {
    let Some(rest) = text.strip_prefix('~') else {
        return text.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let home = if user.is_empty() { std::env::var("HOME").ok() } else { home_of(user) };
    match home {
        Some(home) => format!("{}{}", home.trim_end_matches('/'), tail),
        None => text.to_string(),
    }
}

fn home_of(user: &str) -> Option<String> {
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage valid until the next
    // call; the home directory is copied out immediately.
    unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        if entry.is_null() || (*entry).pw_dir.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr((*entry).pw_dir).to_string_lossy().into_owned())
    }
}

/// Loads and validates the config file named on the command line.
pub fn load(raw_path: &str) -> Result<Config, String> {
    let path = PathBuf::from(expand_user(raw_path));
    if !path.is_absolute() {
        return Err(format!("config path must be absolute: {}", path.display()));
    }
    if !path.is_file() {
        return Err(format!("config file not found: {}", path.display()));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let flat = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        format!("invalid TOML in {}: {flat}", path.display())
    })?;
    from_table(&table)
}

/// Validates a parsed TOML document.
pub fn from_table(doc: &toml::Table) -> Result<Config, String> {
    let global = Section::of(doc, "global")?;
    let schedule = Section::of(doc, "schedule")?;
    let snapshots = Section::of(doc, "snapshots")?;
    let level_name = global.choice("log_level", "info", &LEVEL_NAMES)?;
    Ok(Config {
        log_level: Level::parse(&level_name).expect("choice() returned a known level"),
        state_path: global.path("state_path", "~/.local/state/btrfs_to_s3/state.json")?,
        lock_path: global.path("lock_path", "/var/lock/btrfs_to_s3.lock")?,
        spool_dir: global.path("spool_dir", "/mnt/ssd/btrfs_to_s3_spool")?,
        spool_size_bytes: global.int_at_least("spool_size_bytes", 214_748_364_800, 1)?,
        full_every_days: schedule.int_at_least("full_every_days", 180, 1)?,
        incremental_every_days: schedule.int_at_least("incremental_every_days", 7, 1)?,
        run_at: schedule.run_at()?,
        snapshots_base_dir: snapshots.path("base_dir", "/srv/snapshots")?,
        retain: snapshots.int_at_least("retain", 2, 1)?,
        subvolumes: Section::of(doc, "subvolumes")?.subvolume_paths()?,
        s3: s3_section(&Section::of(doc, "s3")?)?,
        restore: restore_section(&Section::of(doc, "restore")?)?,
    })
}

fn s3_section(s3: &Section) -> Result<S3Config, String> {
    let prefix = s3.required_string("prefix")?;
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("s3.prefix must be a non-empty string other than '/'".to_string());
    }
    Ok(S3Config {
        bucket: s3.required_string("bucket")?,
        region: s3.required_string("region")?,
        prefix: format!("{trimmed}/"),
        chunk_size_bytes: s3.int_at_least("chunk_size_bytes", 214_748_364_800, 1)?,
        storage_class_chunks: s3.string("storage_class_chunks", "DEEP_ARCHIVE")?,
        storage_class_manifest: s3.string("storage_class_manifest", "STANDARD")?,
        concurrency: s3.int_at_least("concurrency", 4, 1)?,
        spool_enabled: s3.boolean("spool_enabled", false)?,
        sse: s3.string("sse", "AES256")?,
    })
}

fn restore_section(restore: &Section) -> Result<RestoreConfig, String> {
    let mode = restore.choice("verify_mode", "full", &VerifyMode::NAMES)?;
    Ok(RestoreConfig {
        target_base_dir: restore.path("target_base_dir", "/srv/restore")?,
        verify_mode: VerifyMode::parse(&mode).expect("choice() returned a known mode"),
        sample_max_files: restore.int_at_least("sample_max_files", 1000, 1)?,
        wait_for_restore: restore.boolean("wait_for_restore", true)?,
        restore_timeout_seconds: restore.int_at_least("restore_timeout_seconds", 259_200, 1)?,
        restore_tier: restore.string("restore_tier", "Standard")?,
    })
}

/// One `[section]` of the document (absent sections behave as empty ones).
struct Section<'a> {
    name: &'static str,
    table: Option<&'a toml::Table>,
}

impl<'a> Section<'a> {
    fn of(doc: &'a toml::Table, name: &'static str) -> Result<Section<'a>, String> {
        match doc.get(name) {
            None => Ok(Section { name, table: None }),
            Some(toml::Value::Table(table)) => Ok(Section { name, table: Some(table) }),
            Some(_) => Err(format!("{name} must be a table")),
        }
    }

    fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.table.and_then(|t| t.get(key))
    }

    fn required_string(&self, key: &str) -> Result<String, String> {
        match self.get(key) {
            None => Err(format!("{}.{key} is required", self.name)),
            Some(_) => self.string(key, ""),
        }
    }

    fn string(&self, key: &str, default: &str) -> Result<String, String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(toml::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(format!("{}.{key} must be a non-empty string", self.name)),
        }
    }

    fn path(&self, key: &str, default: &str) -> Result<PathBuf, String> {
        let raw = self.string(key, default)?;
        let expanded = PathBuf::from(expand_user(&raw));
        if expanded.is_absolute() {
            Ok(expanded)
        } else {
            Err(format!("{}.{key} must be an absolute path, got {raw}", self.name))
        }
    }

    fn int_at_least(&self, key: &str, default: u64, min: u64) -> Result<u64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(n)) if *n >= min as i64 => Ok(*n as u64),
            Some(_) if min == 1 => Err(format!("{}.{key} must be an integer > 0", self.name)),
            Some(_) => Err(format!("{}.{key} must be an integer >= {min}", self.name)),
        }
    }

    fn boolean(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(_) => Err(format!("{}.{key} must be a boolean", self.name)),
        }
    }

    fn choice(&self, key: &str, default: &str, choices: &[&str]) -> Result<String, String> {
        let value = self.string(key, default).map(|v| v.to_ascii_lowercase());
        match value {
            Ok(v) if choices.contains(&v.as_str()) => Ok(v),
            _ => Err(format!("{}.{key} must be one of {}", self.name, choices.join(", "))),
        }
    }

    fn run_at(&self) -> Result<String, String> {
        let text = self.string("run_at", "02:00").ok();
        let valid = text.as_deref().and_then(|t| {
            let (h, m) = t.split_once(':')?;
            let hour: u32 = h.parse().ok().filter(|_| !h.is_empty() && h.len() <= 2)?;
            let minute: u32 = m.parse().ok().filter(|_| !m.is_empty() && m.len() <= 2)?;
            (hour < 24 && minute < 60).then_some(())
        });
        match (text, valid) {
            (Some(t), Some(())) => Ok(t),
            _ => Err(format!("{}.run_at must be a time in H:M form, e.g. 02:00", self.name)),
        }
    }

    fn subvolume_paths(&self) -> Result<Vec<PathBuf>, String> {
        let what = format!("{}.paths", self.name);
        let items = match self.get("paths") {
            None => return Err(format!("{what} is required")),
            Some(toml::Value::Array(items)) if !items.is_empty() => items,
            Some(_) => return Err(format!("{what} must be a non-empty list of absolute paths")),
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for item in items {
            let raw = item.as_str().filter(|s| !s.is_empty());
            let path = raw.map(|s| PathBuf::from(expand_user(s)));
            match path {
                Some(p) if p.is_absolute() && subvolume_name(&p).is_some() => paths.push(p),
                _ => return Err(format!("{what} must contain only absolute paths, got {item}")),
            }
        }
        for (i, p) in paths.iter().enumerate() {
            if paths[..i].iter().any(|q| subvolume_name(q) == subvolume_name(p)) {
                let name = subvolume_name(p).unwrap_or_default();
                return Err(format!("{what} must have distinct basenames, '{name}' repeats"));
            }
        }
        Ok(paths)
    }
}

/// A subvolume's name: the basename of its configured path.
pub fn subvolume_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        from_table(&text.parse::<toml::Table>().unwrap())
    }

    const MINIMAL: &str = "[subvolumes]\npaths = [\"/mnt/data\"]\n\
                           [s3]\nbucket = \"b\"\nregion = \"us-east-1\"\nprefix = \"p//\"\n";

    #[test]
    fn defaults_apply_and_the_prefix_gets_one_slash() {
        let cfg = parse(MINIMAL).unwrap();
        assert_eq!(cfg.s3.prefix, "p/");
        assert_eq!(cfg.s3.chunk_size_bytes, 214_748_364_800);
        assert_eq!(cfg.s3.storage_class_chunks, "DEEP_ARCHIVE");
        assert_eq!(cfg.retain, 2);
        assert_eq!(cfg.restore.verify_mode, VerifyMode::Full);
        assert_eq!(cfg.lock_path, PathBuf::from("/var/lock/btrfs_to_s3.lock"));
    }

    #[test]
    fn messages_name_the_section_and_key() {
        let missing = "[subvolumes]\npaths = [\"/a\"]\n[s3]\nregion = \"r\"\nprefix = \"p\"\n";
        assert_eq!(parse(missing).unwrap_err(), "s3.bucket is required");
        let bad = format!("{MINIMAL}[snapshots]\nretain = 0\n");
        assert_eq!(parse(&bad).unwrap_err(), "snapshots.retain must be an integer > 0");
        let rel = format!("{MINIMAL}[global]\nstate_path = \"rel/state.json\"\n");
        assert!(parse(&rel).unwrap_err().starts_with("global.state_path must be an absolute"));
        let mode = format!("{MINIMAL}[restore]\nverify_mode = \"most\"\n");
        assert_eq!(parse(&mode).unwrap_err(), "restore.verify_mode must be one of full, sample, none");
        assert_eq!(parse("[s3]\nbucket=\"b\"").unwrap_err(), "subvolumes.paths is required");
    }

    #[test]
    fn unknown_keys_and_sections_are_ignored() {
        let text = format!("{MINIMAL}extra = 1\n[whatever]\nx = 2\n");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn tilde_expands_to_home() {
        std::env::set_var("HOME", "/home/tester");
        assert_eq!(expand_user("~/x"), "/home/tester/x");
        assert_eq!(expand_user("/abs"), "/abs");
    }
}
