//! YAML text to a positioned `Node` tree.
//!
//! Why yaml-rust2: serde_yaml is archived (unmaintained since 2024) and its
//! forks are young; yaml-rust2 is maintained, pure Rust, YAML 1.2, and its
//! event parser hands every event a `Marker` (line, column), which is all a
//! positioned tree needs. (saphyr, from the same authors, is still 0.x and
//! churning.) This module builds the tree from those events itself, which
//! also lets it refuse what a config loader should refuse: duplicate keys,
//! non-scalar keys, several documents, and alias expansion past a node budget
//! (the "billion laughs" attack). YAML 1.1 merge keys (`<<: *base`), which
//! Compose files use with `x-` anchors, are applied: explicit keys win, then
//! earlier merged maps over later ones.

use crate::error::{Pos, SpecError};
use crate::node::{Key, Node, Value};
use std::collections::HashMap;
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Most nodes one document may expand to through aliases.
const NODE_BUDGET: usize = 1_000_000;
/// Deepest nesting accepted (the tree is walked recursively).
const MAX_DEPTH: usize = 128;

/// Parses a single YAML document (an empty file is an empty mapping).
pub fn parse(text: &str, file: &Arc<str>) -> Result<Node, SpecError> {
    let mut b = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        error: None,
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        let pos = b.pos(*e.marker());
        return Err(SpecError::new(&pos, format!("invalid YAML: {}", e.info())));
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    let mut docs = b.docs;
    match docs.len() {
        0 => Ok(Node::new(
            Pos {
                file: file.clone(),
                line: 1,
                col: 1,
            },
            Value::Map(vec![]),
        )),
        1 => Ok(docs.remove(0)),
        _ => Err(SpecError::new(
            &docs[1].pos,
            "several YAML documents in one file; skiff reads exactly one",
        )),
    }
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    Map(Pos, usize, Vec<(Key, Node)>, Option<Key>),
}

struct Builder {
    file: Arc<str>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
    error: Option<SpecError>,
    nodes: usize,
}

impl Builder {
    fn pos(&self, m: Marker) -> Pos {
        Pos {
            file: self.file.clone(),
            line: m.line() as u32,
            col: m.col() as u32 + 1,
        }
    }

    fn fail(&mut self, pos: &Pos, msg: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(SpecError::new(pos, msg));
        }
    }

    fn finish(&mut self, anchor: usize, node: Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, _, pending @ None)) => {
                let name = match &node.value {
                    Value::Str(s) => s.clone(),
                    Value::Null => String::new(),
                    v @ (Value::Bool(_) | Value::Int(_) | Value::Float(_)) => {
                        node_text(v).unwrap_or_default()
                    }
                    _ => {
                        let pos = node.pos.clone();
                        return self.fail(&pos, "a mapping key must be a plain value");
                    }
                };
                *pending = Some(Key {
                    name,
                    pos: node.pos,
                });
            }
            Some(Frame::Map(_, _, entries, pending)) => {
                let Some(key) = pending.take() else { return };
                if key.name != "<<" && entries.iter().any(|(k, _)| k.name == key.name) {
                    let msg = format!("duplicate key {:?}", key.name);
                    return self.fail(&key.pos, msg);
                }
                entries.push((key, node));
            }
        }
    }

    fn close_map(&mut self, pos: Pos, entries: Vec<(Key, Node)>) -> Node {
        let (merges, mut own): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|(k, _)| k.name == "<<");
        for (key, src) in merges {
            let maps: Vec<Node> = match src.value {
                Value::Map(_) => vec![src],
                Value::Seq(items) => items,
                _ => vec![src],
            };
            for m in maps {
                let Value::Map(extra) = m.value else {
                    self.fail(
                        &key.pos,
                        "a merge key (<<) takes a mapping or a list of them",
                    );
                    continue;
                };
                for (k, v) in extra {
                    if !own.iter().any(|(o, _)| o.name == k.name) {
                        own.push((k, v));
                    }
                }
            }
        }
        Node::new(pos, Value::Map(own))
    }
}

fn node_text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn count(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(m) => m.iter().map(|(_, v)| count(v)).sum(),
        _ => 0,
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = self.pos(mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.nodes += 1;
                let is_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !is_str {
                    resolve_plain(text)
                } else {
                    Value::Str(text)
                };
                self.finish(anchor, Node::new(pos, value));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.fail(&pos, "nested deeper than 128 levels")
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(pos, anchor, vec![])),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(pos, anchor, vec![], None))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(p, anchor, items)) = self.stack.pop() {
                    self.finish(anchor, Node::new(p, Value::Seq(items)));
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(p, anchor, entries, _)) = self.stack.pop() {
                    let node = self.close_map(p, entries);
                    self.finish(anchor, node);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    self.nodes += count(n);
                    if self.nodes > NODE_BUDGET {
                        return self.fail(&pos, "aliases expand past 1,000,000 nodes");
                    }
                    let mut n = n.clone();
                    n.pos = pos;
                    self.finish(0, n);
                }
                None => self.fail(&pos, "alias to an unknown anchor"),
            },
            _ => {}
        }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let looks_float = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<str> {
        "c.yaml".into()
    }

    #[test]
    fn positions_types_and_merge_keys() {
        let text = "x-base: &base\n  image: busybox\n  restart: always\nservices:\n  web:\n    <<: *base\n    restart: \"no\"\n    replicas: 3\n";
        let n = parse(text, &file()).unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(
            web.get("image").unwrap().value,
            Value::Str("busybox".into())
        );
        assert_eq!(web.get("restart").unwrap().value, Value::Str("no".into()));
        let r = web.get("replicas").unwrap();
        assert_eq!(
            (r.value.clone(), r.pos.line, r.pos.col),
            (Value::Int(3), 8, 15)
        );
        let (k, _) = &web.as_map().unwrap()[0];
        assert_eq!((k.name.as_str(), k.pos.line, k.pos.col), ("restart", 7, 5));
    }

    #[test]
    fn refuses_duplicates_bombs_and_junk() {
        let e = parse("a: 1\nb: 2\na: 3\n", &file()).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (3, 1));
        assert!(e.msg.contains("duplicate key"));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        assert!(parse(&bomb, &file()).unwrap_err().msg.contains("aliases"));
        let e = parse("a: [1, 2\n", &file()).unwrap_err();
        assert!(e.msg.starts_with("invalid YAML"), "{e}");
        assert!(parse("a: 1\n---\nb: 2\n", &file()).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(&deep, &file()).is_err());
        assert_eq!(parse("", &file()).unwrap().value, Value::Map(vec![]));
        assert_eq!(resolve_plain("1.5".into()), Value::Float(1.5));
        assert_eq!(
            resolve_plain("8080:80".into()),
            Value::Str("8080:80".into())
        );
        assert_eq!(resolve_plain("1e3".into()), Value::Float(1000.0));
        assert_eq!(resolve_plain("e".into()), Value::Str("e".into()));
    }
}
