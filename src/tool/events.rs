//! Parsing the tool's stderr into [`Event`]s (CONTRACT.md section 2).
//!
//! A log line is `<local time> <LEVEL> btrfs_to_s3.cli event=<name> key=value ...`.
//! Values end at whitespace, except the free-text keys `error` and `btrfs_send_error`,
//! whose values run to the end of the line and may contain spaces and `=`; in one line
//! `error=` stops where ` btrfs_send_error=` begins. Free text may also span lines
//! (embedded btrfs stderr): a following line that does not look like a new log record is
//! appended to the last free-text value, after a `\n`. A plain `config error: <message>`
//! line becomes an event named [`CONFIG_ERROR_EVENT`] with the message in `error`. Lines
//! without `event=` (botocore, tracebacks, argparse) are not events; they stay in the log
//! file only.
//!
//! This module only parses text; it reads no files and knows no process.

use std::collections::BTreeMap;
use std::time::Duration;

/// The name given to a `config error: ...` line, which has no `event=` of its own.
pub const CONFIG_ERROR_EVENT: &str = "config_error";

/// Keys whose values are free text to the end of the line.
const FREE_TEXT_KEYS: [&str; 2] = ["error", "btrfs_send_error"];
const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const CONFIG_ERROR_PREFIX: &str = "config error:";

/// One structured log line of the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When the line was read, measured from the spawn of the tool.
    pub at: Duration,
    /// `INFO`, `ERROR`, ... (empty if the line had none).
    pub level: String,
    /// The value of `event=`, or [`CONFIG_ERROR_EVENT`].
    pub name: String,
    pub fields: BTreeMap<String, String>,
    /// The line as logged (continuation lines appended after `\n`).
    pub raw: String,
}

impl Event {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub fn is_config_error(&self) -> bool {
        self.name == CONFIG_ERROR_EVENT
    }
}

/// Parses one line; `None` if it is neither an `event=` line nor a config error.
pub fn parse_line(line: &str, at: Duration) -> Option<Event> {
    let line = line.trim_end_matches(['\r', '\n']);
    if let Some(message) = line.strip_prefix(CONFIG_ERROR_PREFIX) {
        let fields = BTreeMap::from([("error".to_string(), message.trim_start().to_string())]);
        let (level, name, raw) = (
            "ERROR".to_string(),
            CONFIG_ERROR_EVENT.to_string(),
            line.to_string(),
        );
        return Some(Event {
            at,
            level,
            name,
            fields,
            raw,
        });
    }
    let start = find_event_key(line)?;
    let level = line[..start]
        .split_whitespace()
        .rev()
        .find(|t| LEVELS.contains(t))
        .unwrap_or("")
        .to_string();
    let rest = &line[start + "event=".len()..];
    let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let name = rest[..name_end].to_string();
    let fields = parse_fields(&rest[name_end..]);
    Some(Event {
        at,
        level,
        name,
        fields,
        raw: line.to_string(),
    })
}

/// Byte offset of the first `event=` that starts a whitespace-separated token.
fn find_event_key(line: &str) -> Option<usize> {
    line.match_indices("event=")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || line[..i].ends_with(char::is_whitespace))
}

/// Parses ` key=value key=value ...`; tokens without `=` are skipped.
fn parse_fields(mut rest: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return fields;
        }
        let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let Some((key, _)) = rest[..token_end].split_once('=') else {
            rest = &rest[token_end..];
            continue;
        };
        let value_start = key.len() + 1;
        let value_end = if FREE_TEXT_KEYS.contains(&key) {
            free_text_end(key, &rest[value_start..]).map_or(rest.len(), |e| value_start + e)
        } else {
            token_end
        };
        fields.insert(key.to_string(), rest[value_start..value_end].to_string());
        rest = &rest[value_end..];
    }
}

/// Where a free-text value ends, if before the end of the line.
fn free_text_end(key: &str, value: &str) -> Option<usize> {
    (key == "error")
        .then(|| value.find(" btrfs_send_error="))
        .flatten()
}

/// Whether `line` starts a new log record (so it cannot continue a free-text value):
/// it starts with a date `YYYY-MM-DD`, has a level name among its first three words, is a
/// config error, a traceback header, or an `event=` line.
fn starts_record(line: &str) -> bool {
    let b = line.as_bytes();
    let date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    date || line.split_whitespace().take(3).any(|t| LEVELS.contains(&t))
        || line.starts_with(CONFIG_ERROR_PREFIX)
        || line.starts_with("Traceback (most recent call last)")
        || find_event_key(line).is_some()
}

/// Accumulates the events of one stderr stream, line by line, including multi-line
/// free-text values.
#[derive(Debug, Default)]
pub struct EventLog {
    events: Vec<Event>,
    /// The free-text key of the last event that continuation lines extend.
    open_key: Option<String>,
}

impl EventLog {
    pub fn new() -> Self {
        EventLog::default()
    }

    /// Takes one line; returns the event if the line started a new one.
    pub fn push_line(&mut self, line: &str, at: Duration) -> Option<&Event> {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(key) = self.open_key.clone().filter(|_| !starts_record(line)) {
            let last = self.events.last_mut().expect("open key implies an event");
            last.raw.push('\n');
            last.raw.push_str(line);
            let value = last.fields.get_mut(&key).expect("open key is a field");
            value.push('\n');
            value.push_str(line);
            return None;
        }
        self.open_key = None;
        let event = parse_line(line, at)?;
        self.open_key = last_free_text_key(&event);
        self.events.push(event);
        self.events.last()
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

/// The free-text key that ends the event's line, if any (`btrfs_send_error` wins, as it
/// follows `error` when both are present).
fn last_free_text_key(event: &Event) -> Option<String> {
    FREE_TEXT_KEYS
        .iter()
        .rev()
        .find(|k| event.fields.contains_key(**k))
        .map(|k| k.to_string())
}

/// Parses a whole stderr log (e.g. a log file read back), with `at` zero for every event.
pub fn parse_log(text: &str) -> Vec<Event> {
    let mut log = EventLog::new();
    for line in text.lines() {
        log.push_line(line, Duration::ZERO);
    }
    log.into_events()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Duration = Duration::from_millis(7);

    #[test]
    fn a_plain_event_line_gives_level_name_and_fields() {
        let line = "2026-01-01 02:00:00,123 INFO btrfs_to_s3.cli event=snapshot_created \
                    subvolume=data path=/srv/snap/data__20260101T020000Z__full kind=full";
        let e = parse_line(line, AT).expect("event");
        assert_eq!(
            (e.level.as_str(), e.name.as_str(), e.at),
            ("INFO", "snapshot_created", AT)
        );
        assert_eq!(e.field("subvolume"), Some("data"));
        assert_eq!(
            e.field("path"),
            Some("/srv/snap/data__20260101T020000Z__full")
        );
        assert_eq!(e.field("kind"), Some("full"));
        assert_eq!(e.raw, line);
    }

    #[test]
    fn an_error_value_runs_to_the_end_of_the_line_with_spaces_and_equals() {
        let line = "2026-01-01 02:00:00,1 ERROR btrfs_to_s3.cli event=restore_failed \
                    error=restore stream failed: hash mismatch for a=b c";
        let e = parse_line(line, AT).expect("event");
        assert_eq!(
            e.field("error"),
            Some("restore stream failed: hash mismatch for a=b c")
        );
    }

    #[test]
    fn error_stops_where_btrfs_send_error_begins() {
        let line = "t ERROR btrfs_to_s3.cli event=backup_stream_failed subvolume=data \
                    error=upload failed: x=1 btrfs_send_error=ERROR: send ioctl failed with -5";
        let e = parse_line(line, AT).expect("event");
        assert_eq!(e.field("subvolume"), Some("data"));
        assert_eq!(e.field("error"), Some("upload failed: x=1"));
        assert_eq!(
            e.field("btrfs_send_error"),
            Some("ERROR: send ioctl failed with -5")
        );
    }

    #[test]
    fn an_empty_value_is_kept_as_empty() {
        let e = parse_line(
            "x INFO l event=command_start command=backup subvolume_filter=",
            AT,
        );
        let e = e.expect("event");
        assert_eq!(e.field("subvolume_filter"), Some(""));
        assert_eq!(e.field("command"), Some("backup"));
    }

    #[test]
    fn a_config_error_line_is_an_event_with_its_message() {
        let e = parse_line("config error: s3.bucket is required", AT).expect("event");
        assert!(e.is_config_error());
        assert_eq!(e.field("error"), Some("s3.bucket is required"));
    }

    #[test]
    fn lines_without_event_are_not_events() {
        assert_eq!(
            parse_line("2026-01-01 02:00:00 DEBUG botocore.hooks Event x", AT),
            None
        );
        assert_eq!(parse_line("Traceback (most recent call last):", AT), None);
        assert_eq!(
            parse_line("someevent=x", AT),
            None,
            "event= must start a token"
        );
    }

    #[test]
    fn continuation_lines_extend_the_last_free_text_value_until_a_new_record() {
        let text = "2026-01-01 02:00:00,1 ERROR btrfs_to_s3.cli event=btrfs_send_failed \
                    subvolume=data error=ERROR: first\nsecond line\n\
                    2026-01-01 02:00:01,1 INFO btrfs_to_s3.cli event=x a=1\nstray line";
        let events = parse_log(text);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].field("error"), Some("ERROR: first\nsecond line"));
        assert!(events[0].raw.ends_with("\nsecond line"));
        assert_eq!(
            events[1].field("a"),
            Some("1"),
            "no free text: stray line not appended"
        );
        assert_eq!(
            events[1].raw,
            "2026-01-01 02:00:01,1 INFO btrfs_to_s3.cli event=x a=1"
        );
    }

    #[test]
    fn a_traceback_after_an_error_event_is_not_appended() {
        let text = "d ERROR l event=restore_failed error=boom\nTraceback (most recent call last):\n  File x";
        let events = parse_log(text);
        assert_eq!(events[0].field("error"), Some("boom"));
    }
}
