//! The exact text layout btrfs_to_s3 writes its manifests and pointers in: Python's
//! `json.dumps(value, indent=2, sort_keys=True)` (default `ensure_ascii=True`), and a
//! scan of raw JSON text for object keys that are out of order or repeated (which a
//! parsed `serde_json::Value` can no longer show).
//!
//! This module only renders and scans text; it judges nothing by itself and does no I/O.

use serde_json::Value;

/// Renders `value` as `json.dumps(value, indent=2, sort_keys=True)` would, without a
/// trailing newline.
pub fn python_pretty(value: &Value) -> String {
    let mut out = String::new();
    render(value, 0, &mut out);
    out
}

fn render(value: &Value, depth: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => push_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                open_item(i, depth + 1, out);
                render(item, depth + 1, out);
            }
            close(depth, ']', out);
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                open_item(i, depth + 1, out);
                push_string(key, out);
                out.push_str(": ");
                render(&map[key], depth + 1, out);
            }
            close(depth, '}', out);
        }
    }
}

fn open_item(index: usize, depth: usize, out: &mut String) {
    if index > 0 {
        out.push(',');
    }
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
}

fn close(depth: usize, bracket: char, out: &mut String) {
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
    out.push(bracket);
}

/// Python's `ensure_ascii` string encoding: everything outside `' '..='~'` is escaped,
/// with the short forms for the usual control characters and `\uXXXX` (lowercase hex,
/// surrogate pairs above U+FFFF) for the rest.
fn push_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Where a text departs from the canonical layout: 1-based line, and both lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutMismatch {
    pub line: usize,
    pub expected: String,
    pub seen: String,
}

/// Compares `text` with the canonical rendering of `value`. One trailing newline is
/// accepted (the contract does not say whether the tool writes one).
pub fn layout_mismatch(text: &str, value: &Value) -> Option<LayoutMismatch> {
    let canonical = python_pretty(value);
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body == canonical {
        return None;
    }
    let mut expected_lines = canonical.split('\n');
    let mut seen_lines = body.split('\n');
    let mut line = 0;
    loop {
        line += 1;
        let (e, s) = (expected_lines.next(), seen_lines.next());
        if e != s {
            return Some(LayoutMismatch {
                line,
                expected: e.map_or("end of text".to_string(), |l| format!("`{l}`")),
                seen: s.map_or("end of text".to_string(), |l| format!("`{l}`")),
            });
        }
    }
}

/// A problem with the keys of one object in raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrderProblem {
    /// `key` comes after `previous` although it sorts before it.
    Unsorted {
        object: String,
        previous: String,
        key: String,
    },
    Duplicate {
        object: String,
        key: String,
    },
}

/// Scans valid JSON text (call it only on text `serde_json` accepted) and returns every
/// object whose keys are not in strictly increasing (code point) order. `object` is a
/// JSON pointer (`""` for the document, `/chunks/0` for the first chunk).
pub fn key_order_problems(text: &str) -> Vec<KeyOrderProblem> {
    let mut scan = Scan {
        chars: text.chars().collect(),
        pos: 0,
        problems: Vec::new(),
    };
    scan.value("");
    scan.problems
}

struct Scan {
    chars: Vec<char>,
    pos: usize,
    problems: Vec<KeyOrderProblem>,
}

impl Scan {
    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn value(&mut self, path: &str) {
        match self.peek() {
            Some('{') => self.object(path),
            Some('[') => self.array(path),
            Some('"') => {
                self.string();
            }
            Some(_) => {
                while self.pos < self.chars.len() && !",]}".contains(self.chars[self.pos]) {
                    self.pos += 1;
                }
            }
            None => {}
        }
    }

    fn object(&mut self, path: &str) {
        self.pos += 1;
        let mut previous: Option<String> = None;
        let mut seen = std::collections::BTreeSet::new();
        while let Some(c) = self.peek() {
            if c == '}' {
                self.pos += 1;
                return;
            }
            if c == ',' {
                self.pos += 1;
                continue;
            }
            let key = self.string();
            if !seen.insert(key.clone()) {
                self.problems.push(KeyOrderProblem::Duplicate {
                    object: path.into(),
                    key: key.clone(),
                });
            } else if let Some(prev) = previous.as_ref().filter(|p| **p > key) {
                self.problems.push(KeyOrderProblem::Unsorted {
                    object: path.into(),
                    previous: prev.clone(),
                    key: key.clone(),
                });
            }
            self.peek();
            self.pos += 1; // the ':'
            self.value(&format!("{path}/{}", pointer_escape(&key)));
            previous = Some(key);
        }
    }

    fn array(&mut self, path: &str) {
        self.pos += 1;
        let mut index = 0;
        while let Some(c) = self.peek() {
            match c {
                ']' => {
                    self.pos += 1;
                    return;
                }
                ',' => {
                    self.pos += 1;
                    index += 1;
                }
                _ => self.value(&format!("{path}/{index}")),
            }
        }
    }

    /// Reads a string token starting at `"` and returns its decoded value.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.chars.len() && self.chars[self.pos] != '"' {
            self.pos += if self.chars[self.pos] == '\\' { 2 } else { 1 };
        }
        self.pos += 1;
        let raw: String = self.chars[start..self.pos.min(self.chars.len())]
            .iter()
            .collect();
        serde_json::from_str(&raw).unwrap_or(raw)
    }
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_python_json_dumps_with_indent_2_and_sorted_keys() {
        let value = json!({"d": 1, "b": [], "a": {}, "c": [{"y": "\u{e9}\u{7f}\"/", "x": null}]});
        let python = "{\n  \"a\": {},\n  \"b\": [],\n  \"c\": [\n    {\n      \"x\": null,\n      \
                      \"y\": \"\\u00e9\\u007f\\\"/\"\n    }\n  ],\n  \"d\": 1\n}";
        assert_eq!(python_pretty(&value), python);
    }

    #[test]
    fn characters_above_the_basic_plane_become_surrogate_pairs() {
        assert_eq!(python_pretty(&json!("\u{1F600}")), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn layout_accepts_one_trailing_newline_and_names_the_first_differing_line() {
        let value = json!({"a": 1, "b": 2});
        assert_eq!(
            layout_mismatch("{\n  \"a\": 1,\n  \"b\": 2\n}\n", &value),
            None
        );
        let compact = layout_mismatch("{\"a\": 1, \"b\": 2}", &value).expect("mismatch");
        assert_eq!(compact.line, 1);
        assert_eq!(compact.seen, "`{\"a\": 1, \"b\": 2}`");
    }

    #[test]
    fn key_scan_reports_unsorted_and_duplicate_keys_with_their_object_path() {
        let text = r#"{"a": {"z": 1, "y": [ {"k": 1, "k": 2} ]}, "b": "x\"}"}"#;
        assert_eq!(
            key_order_problems(text),
            vec![
                KeyOrderProblem::Unsorted {
                    object: "/a".into(),
                    previous: "z".into(),
                    key: "y".into()
                },
                KeyOrderProblem::Duplicate {
                    object: "/a/y/0".into(),
                    key: "k".into()
                },
            ]
        );
        assert!(key_order_problems(r#"{"a": [1, {"b": null, "c": "}"}], "d": true}"#).is_empty());
    }
}
