//! JSON output byte-identical to Python's `json.dumps(value, indent=2, sort_keys=True)`:
//! two-space indent, `,` at line ends and `: ` after keys,
//! keys sorted at every level, `ensure_ascii` escaping, `[]`/`{}` for empty containers and
//! no trailing newline. Key order comes from a `BTreeMap`, never from `serde_json::Map`
//! (whose order depends on features other crates may unify). This module only writes; it
//! must not parse (readers use `serde_json::Value`, where order does not matter).

use std::collections::BTreeMap;

/// A JSON value with deliberately sorted objects.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    #[allow(dead_code)]
    Bool(bool),
    Int(i64),
    Str(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// A string value.
    pub fn str(text: impl Into<String>) -> Json {
        Json::Str(text.into())
    }

    /// A string or `null`.
    pub fn opt_str(text: Option<&str>) -> Json {
        text.map_or(Json::Null, Json::str)
    }

    /// An object from `(key, value)` pairs; their order does not matter.
    pub fn object<const N: usize>(pairs: [(&str, Json); N]) -> Json {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The Python `json.dumps(indent=2, sort_keys=True)` text of this value.
    pub fn to_python_pretty(&self) -> String {
        let mut out = String::new();
        write_value(self, 0, &mut out);
        out
    }
}

fn write_value(value: &Json, depth: usize, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(n) => out.push_str(&n.to_string()),
        Json::Str(s) => write_string(s, out),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Object(map) if map.is_empty() => out.push_str("{}"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                open_line(i, depth + 1, out);
                write_value(item, depth + 1, out);
            }
            close_line(depth, out);
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                open_line(i, depth + 1, out);
                write_string(key, out);
                out.push_str(": ");
                write_value(item, depth + 1, out);
            }
            close_line(depth, out);
            out.push('}');
        }
    }
}

fn open_line(index: usize, depth: usize, out: &mut String) {
    if index > 0 {
        out.push(',');
    }
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
}

fn close_line(depth: usize, out: &mut String) {
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
}

/// Writes a string literal with Python's `ensure_ascii=True` escaping.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_match_python_output() {
        let value = Json::object([
            ("z", Json::Array(vec![Json::Int(1), Json::Null])),
            ("a", Json::object([("y", Json::Bool(true)), ("b", Json::str("x"))])),
            ("e", Json::Array(vec![])),
            ("o", Json::Object(BTreeMap::new())),
        ]);
        let expected = "{\n  \"a\": {\n    \"b\": \"x\",\n    \"y\": true\n  },\n  \"e\": [],\n  \
                        \"o\": {},\n  \"z\": [\n    1,\n    null\n  ]\n}";
        assert_eq!(value.to_python_pretty(), expected);
    }

    #[test]
    fn strings_are_escaped_like_ensure_ascii() {
        let text = Json::str("a\"b\\c\n\u{1}\u{7f}\u{e9}\u{1f600}").to_python_pretty();
        assert_eq!(text, "\"a\\\"b\\\\c\\n\\u0001\\u007f\\u00e9\\ud83d\\ude00\"");
    }
}
