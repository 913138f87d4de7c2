//! Running the `b2s3-ref` binary as a black box and reading what it says: exit code,
//! stderr, and the `event=` lines parsed into name and fields (an `error=` value runs to
//! the end of its line). It must not interpret events beyond parsing them.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

/// One parsed log line.
#[derive(Clone, Debug)]
pub struct Event {
    pub level: String,
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

impl Event {
    /// The `error=` value's first line.
    pub fn stderr_error(&self) -> &str {
        self.get("error").lines().next().unwrap_or("")
    }

    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(String::as_str).unwrap_or_else(|| panic!("event {} has no {key}: {self:?}", self.name))
    }
}

/// What one invocation did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Event>,
}

impl Outcome {
    /// Panics with the whole stderr unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, code, "unexpected exit code; stderr:\n{}", self.stderr);
        self
    }

    pub fn events(&self, name: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e.name == name).collect()
    }

    /// The single event called `name`.
    pub fn event(&self, name: &str) -> &Event {
        let found = self.events(name);
        assert_eq!(found.len(), 1, "expected one {name} event; stderr:\n{}", self.stderr);
        found[0]
    }

    pub fn has(&self, name: &str) -> bool {
        self.events.iter().any(|e| e.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.name.as_str()).collect()
    }
}

/// Parses the `event=` lines of a stderr text.
pub fn parse_events(stderr: &str) -> Vec<Event> {
    stderr.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Event> {
    let (head, rest) = line.split_once(" btrfs_to_s3.cli event=")?;
    let level = head.rsplit(' ').next()?.to_string();
    let (name, mut tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut fields = BTreeMap::new();
    while !tail.is_empty() {
        let (key, after) = tail.split_once('=')?;
        if key == "error" {
            fields.insert(key.to_string(), after.to_string());
            break;
        }
        let (value, next) = after.split_once(' ').unwrap_or((after, ""));
        fields.insert(key.to_string(), value.to_string());
        tail = next;
    }
    Some(Event { level, name: name.to_string(), fields })
}

/// Runs the reference with `args` and exactly the AWS environment in `env`.
pub fn run(args: &[&str], env: &[(&str, String)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_b2s3-ref"));
    cmd.args(args).stdin(Stdio::null());
    for var in ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("B2S3_REF_BUG").env_remove("BTRFS_TO_S3_HARNESS_RUN_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run b2s3-ref");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        events: parse_events(&stderr),
        stderr,
    }
}
