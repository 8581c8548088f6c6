//! Schema walking over the positioned tree: take known keys from a mapping,
//! report the rest with their position, and convert scalars with errors that
//! point at the value. Shared by the skiff.toml and Compose readers.

use crate::error::Errors;
use crate::node::{Key, Node, Value};
use std::collections::BTreeMap;

/// The keys of one mapping, consumed one by one; `finish` reports the rest.
pub struct Fields<'a> {
    entries: &'a [(Key, Node)],
    used: Vec<bool>,
    what: String,
}

impl<'a> Fields<'a> {
    /// `None` (and an error) when `node` is not a mapping.
    pub fn of(node: &'a Node, what: impl Into<String>, errs: &mut Errors) -> Option<Self> {
        let what = what.into();
        match node.as_map() {
            Some(entries) => Some(Fields {
                entries,
                used: vec![false; entries.len()],
                what,
            }),
            None => {
                errs.push(
                    &node.pos,
                    format!("{what} must be a mapping, not {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        let i = self.entries.iter().position(|(k, _)| k.name == key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// Reports every key not taken. Keys starting with `x-` are Compose
    /// extensions and are allowed when `extensions` is set; a key in
    /// `unsupported` is valid in the source format but not implemented.
    pub fn finish(self, errs: &mut Errors, extensions: bool, unsupported: &[&str]) {
        for ((k, _), used) in self.entries.iter().zip(self.used) {
            if used || (extensions && k.name.starts_with("x-")) {
                continue;
            }
            let msg = if unsupported.contains(&k.name.as_str()) {
                format!("`{}` in {} is not supported by skiff", k.name, self.what)
            } else {
                format!("unknown key `{}` in {}", k.name, self.what)
            };
            errs.push(&k.pos, msg);
        }
    }
}

pub fn string(n: &Node, what: &str, errs: &mut Errors) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => n.scalar_text(),
        _ => {
            errs.push(&n.pos, format!("{what} must be a string, not {}", n.kind()));
            None
        }
    }
}

/// Any scalar as text (environment values may be numbers or booleans).
pub fn scalar(n: &Node, what: &str, errs: &mut Errors) -> Option<String> {
    match &n.value {
        Value::Null => Some(String::new()),
        _ => n.scalar_text().or_else(|| {
            errs.push(
                &n.pos,
                format!("{what} must be a plain value, not {}", n.kind()),
            );
            None
        }),
    }
}

pub fn int(n: &Node, what: &str, min: i64, max: i64, errs: &mut Errors) -> Option<i64> {
    let v = match &n.value {
        Value::Int(i) => Some(*i),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    };
    match v {
        Some(i) if (min..=max).contains(&i) => Some(i),
        _ => {
            errs.push(
                &n.pos,
                format!("{what} must be an integer from {min} to {max}"),
            );
            None
        }
    }
}

pub fn boolean(n: &Node, what: &str, errs: &mut Errors) -> Option<bool> {
    match &n.value {
        Value::Bool(b) => Some(*b),
        Value::Str(s) if s == "true" || s == "false" => Some(s == "true"),
        _ => {
            errs.push(&n.pos, format!("{what} must be true or false"));
            None
        }
    }
}

/// A string or a list of strings.
pub fn strings(n: &Node, what: &str, errs: &mut Errors) -> Vec<String> {
    match &n.value {
        Value::Seq(items) => items.iter().filter_map(|i| string(i, what, errs)).collect(),
        _ => string(n, what, errs).into_iter().collect(),
    }
}

/// A list of strings (no single-string shorthand).
pub fn list(n: &Node, what: &str, errs: &mut Errors) -> Vec<String> {
    match &n.value {
        Value::Seq(items) => items.iter().filter_map(|i| string(i, what, errs)).collect(),
        _ => {
            errs.push(&n.pos, format!("{what} must be a list, not {}", n.kind()));
            vec![]
        }
    }
}

/// A command: a list of words, or a string split like a POSIX shell would.
pub fn command(n: &Node, what: &str, errs: &mut Errors) -> Option<Vec<String>> {
    match &n.value {
        Value::Seq(_) => Some(list(n, what, errs)),
        Value::Str(s) => match shell_words(s) {
            Some(w) => Some(w),
            None => {
                errs.push(&n.pos, format!("{what}: unterminated quote"));
                None
            }
        },
        _ => {
            errs.push(&n.pos, format!("{what} must be a string or a list"));
            None
        }
    }
}

/// A mapping of scalars, or a list of `KEY=VALUE` (a bare `KEY` maps to "").
pub fn kv_map(n: &Node, what: &str, errs: &mut Errors) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match &n.value {
        Value::Map(m) => {
            for (k, v) in m {
                if let Some(v) = scalar(v, what, errs) {
                    out.insert(k.name.clone(), v);
                }
            }
        }
        Value::Seq(items) => {
            for i in items {
                if let Some(s) = string(i, what, errs) {
                    let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                    if k.is_empty() {
                        errs.push(&i.pos, format!("{what}: empty name in {s:?}"));
                    }
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        _ => errs.push(
            &n.pos,
            format!("{what} must be a mapping or a list of KEY=VALUE"),
        ),
    }
    out
}

/// Splits like a POSIX shell: whitespace, single and double quotes, `\`.
pub fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => cur.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => cur.push(c),
                            c => {
                                cur.push('\\');
                                cur.push(c);
                            }
                        },
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// Durations as Compose writes them: `1m30s`, `10s`, `500ms`, `1.5s`, `2h`;
/// a bare integer is seconds. Returns milliseconds.
pub fn duration(n: &Node, what: &str, errs: &mut Errors) -> Option<u64> {
    let parsed = match &n.value {
        Value::Int(i) if *i >= 0 => Some(*i as u64 * 1000),
        Value::Str(s) => parse_duration(s),
        _ => None,
    };
    if parsed.is_none() {
        errs.push(
            &n.pos,
            format!("{what}: invalid duration (want e.g. 30s, 1m30s, 500ms)"),
        );
    }
    parsed
}

pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(split);
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let ms = match unit {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total += value * ms;
        rest = next;
    }
    (total.is_finite() && total < 1e15).then_some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_split_like_sh() {
        assert_eq!(
            shell_words(r#"sh -c 'echo "hi there"' "a\"b" c\ d"#).unwrap(),
            vec!["sh", "-c", "echo \"hi there\"", "a\"b", "c d"]
        );
        assert_eq!(shell_words("  ").unwrap(), Vec::<String>::new());
        assert!(shell_words("'open").is_none());
    }

    #[test]
    fn durations_parse_like_compose() {
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("1.5s"), Some(1500));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        for bad in ["", "10", "5x", "s", "1m30"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
