//! Merging several Compose files (`-f a.yaml -f b.yaml`) the way the Compose
//! specification's merge rules say, for the keys skiff reads:
//!
//! - mappings merge key by key; a later scalar or unlisted sequence replaces;
//! - `command`, `entrypoint`, `healthcheck.test`: replaced whole;
//! - `environment`, `labels`, `build.args`, `depends_on`, service `networks`:
//!   lists are first turned into mappings, then merged by key;
//! - `ports`, `expose`, `env_file`, `profiles`: appended (equal items once);
//! - service `volumes`, `configs`, `secrets`: merged by mount target.

use crate::node::{Key, Node, Value};

/// Merges `over` onto `base` (a whole Compose document).
pub fn documents(base: Node, over: Node) -> Node {
    merge(base, over, &[])
}

fn merge(base: Node, over: Node, path: &[&str]) -> Node {
    let depth_key = (path.len(), path.first().copied(), path.last().copied());
    let in_service = path.len() == 3 && path[0] == "services";
    let (base, over) = if in_service || (path.len() == 4 && path[0] == "services") {
        match depth_key.2 {
            Some("environment" | "labels" | "args") => (to_map(base, kv), to_map(over, kv)),
            Some("depends_on" | "networks") if in_service => {
                (to_map(base, named), to_map(over, named))
            }
            _ => (base, over),
        }
    } else {
        (base, over)
    };
    match (base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let mut out = b;
            for (k, v) in o {
                match out.iter().position(|(bk, _)| bk.name == k.name) {
                    Some(i) => {
                        let (bk, bv) = out.remove(i);
                        let mut p = path.to_vec();
                        p.push(&k.name);
                        let merged = merge(bv, v, &p);
                        out.insert(i, (bk, merged));
                    }
                    None => out.push((k, v)),
                }
            }
            Node::new(over.pos, Value::Map(out))
        }
        (Value::Seq(b), Value::Seq(o)) if in_service => {
            let items = match path[2] {
                "ports" | "expose" | "env_file" | "profiles" => append(b, o),
                "volumes" | "configs" | "secrets" => by_target(b, o),
                _ => o,
            };
            Node::new(over.pos, Value::Seq(items))
        }
        (_, o) => Node::new(over.pos, o),
    }
}

fn append(mut b: Vec<Node>, o: Vec<Node>) -> Vec<Node> {
    for item in o {
        if !b.iter().any(|x| x.value == item.value) {
            b.push(item);
        }
    }
    b
}

/// The container path a mount item targets (short or long syntax).
fn target(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(match parts.len() {
                1 => parts[0].to_string(),
                _ => parts[1].to_string(),
            })
        }
        Value::Map(_) => n
            .get("target")
            .and_then(Node::scalar_text)
            .or_else(|| n.get("source").and_then(Node::scalar_text)),
        _ => None,
    }
}

fn by_target(mut b: Vec<Node>, o: Vec<Node>) -> Vec<Node> {
    for item in o {
        let t = target(&item);
        match b.iter().position(|x| t.is_some() && target(x) == t) {
            Some(i) => b[i] = item,
            None => b.push(item),
        }
    }
    b
}

/// `KEY=VALUE` list item to a mapping entry.
fn kv(n: Node) -> Option<(Key, Node)> {
    let Value::Str(s) = &n.value else { return None };
    let (k, v) = match s.split_once('=') {
        Some((k, v)) => (k.to_string(), Value::Str(v.to_string())),
        None => (s.clone(), Value::Null),
    };
    Some((
        Key {
            name: k,
            pos: n.pos.clone(),
        },
        Node::new(n.pos, v),
    ))
}

/// `name` list item to `name: {}`.
fn named(n: Node) -> Option<(Key, Node)> {
    let Value::Str(s) = &n.value else { return None };
    Some((
        Key {
            name: s.clone(),
            pos: n.pos.clone(),
        },
        Node::new(n.pos.clone(), Value::Null),
    ))
}

/// A list whose every item converts becomes a mapping; anything else stays.
fn to_map(n: Node, f: fn(Node) -> Option<(Key, Node)>) -> Node {
    match n.value {
        Value::Seq(items) => {
            let copy = items.clone();
            match items.into_iter().map(f).collect::<Option<Vec<_>>>() {
                Some(entries) => Node::new(n.pos, Value::Map(entries)),
                None => Node::new(n.pos, Value::Seq(copy)),
            }
        }
        v => Node::new(n.pos, v),
    }
}
