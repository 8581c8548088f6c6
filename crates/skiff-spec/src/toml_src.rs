//! TOML text to a positioned `Node` tree, using the `toml` crate's span-
//! preserving `DeTable` parser (the same parser serde uses, so the syntax
//! accepted is exactly TOML 1.0/1.1 as the crate implements it). Byte spans
//! become line:column through `LineIndex`.

use crate::error::{Pos, SpecError};
use crate::node::{Key, LineIndex, Node, Value};
use std::sync::Arc;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Parses a TOML document.
pub fn parse(text: &str, file: &Arc<str>) -> Result<Node, SpecError> {
    let lines = LineIndex::new(text);
    let table = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let msg = e.message().trim().to_string();
        SpecError::new(&lines.pos(file, at), format!("invalid TOML: {msg}"))
    })?;
    let pos = lines.pos(file, 0);
    Ok(Node::new(
        Pos {
            line: 1,
            col: 1,
            ..pos
        },
        table_value(table.get_ref(), &lines, file),
    ))
}

fn table_value(t: &DeTable<'_>, lines: &LineIndex<'_>, file: &Arc<str>) -> Value {
    Value::Map(
        t.iter()
            .map(|(k, v)| {
                let key = Key {
                    name: k.get_ref().to_string(),
                    pos: lines.pos(file, k.span().start),
                };
                (key, node(v, lines, file))
            })
            .collect(),
    )
}

fn node(v: &Spanned<DeValue<'_>>, lines: &LineIndex<'_>, file: &Arc<str>) -> Node {
    let pos = lines.pos(file, v.span().start);
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Str(i.as_str().to_string())),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse()
            .map(Value::Float)
            .unwrap_or_else(|_| Value::Str(f.as_str().to_string())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Str(d.to_string()),
        DeValue::Array(a) => Value::Seq(a.iter().map(|x| node(x, lines, file)).collect()),
        DeValue::Table(t) => table_value(t, lines, file),
    };
    Node::new(pos, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions() {
        let file: Arc<str> = "t.toml".into();
        let n = parse("a = 1\n[b]\nc = \"x\"\nd = [1, 2.5]\n", &file).unwrap();
        let b = n.get("b").unwrap();
        let (k, c) = &b.as_map().unwrap()[0];
        assert_eq!((k.pos.line, k.pos.col), (3, 1));
        assert_eq!((c.pos.line, c.pos.col), (3, 5));
        assert_eq!(c.value, Value::Str("x".into()));
        let err = parse("a = \n", &file).unwrap_err();
        assert_eq!(err.pos.line, 1);
        assert!(err.to_string().starts_with("t.toml:1:"), "{err}");
    }
}
