//! Cross-service checks once every service is read: references name
//! services that exist (and are enabled), and neither `depends_on` nor `with`
//! loops back on itself. Each error points at the reference in the file.

use crate::error::{Errors, Pos};
use skiff_types::Topology;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefKind {
    DependsOn,
    With,
    Uses,
}

impl RefKind {
    fn key(self) -> &'static str {
        match self {
            RefKind::DependsOn => "depends_on",
            RefKind::With => "with",
            RefKind::Uses => "uses",
        }
    }
}

/// One service naming another, and where it does.
#[derive(Debug, Clone)]
pub struct Ref {
    pub from: String,
    pub to: String,
    pub kind: RefKind,
    pub pos: Pos,
}

/// Checks references and cycles; `disabled` names services left out by the
/// active profiles.
pub fn check(topo: &Topology, refs: &[Ref], disabled: &[String], errs: &mut Errors) {
    for r in refs {
        if !topo.services.contains_key(&r.from) {
            continue;
        }
        if r.from == r.to {
            errs.push(
                &r.pos,
                format!("service `{}` {} itself", r.from, verb(r.kind)),
            );
        } else if disabled.contains(&r.to) {
            errs.push(
                &r.pos,
                format!(
                    "service `{}` {} `{}`, which the active profiles leave out",
                    r.from,
                    verb(r.kind),
                    r.to
                ),
            );
        } else if !topo.services.contains_key(&r.to) {
            errs.push(
                &r.pos,
                format!(
                    "{}: unknown service `{}` (in service `{}`)",
                    r.kind.key(),
                    r.to,
                    r.from
                ),
            );
        }
    }
    for kind in [RefKind::DependsOn, RefKind::With] {
        cycles(topo, refs, kind, errs);
    }
}

fn verb(kind: RefKind) -> &'static str {
    match kind {
        RefKind::DependsOn => "depends on",
        RefKind::With => "is placed with",
        RefKind::Uses => "uses",
    }
}

/// Depth-first search for a back edge; reports each cycle once, at the
/// reference that closes it, naming the whole loop.
fn cycles(topo: &Topology, refs: &[Ref], kind: RefKind, errs: &mut Errors) {
    let mut edges: BTreeMap<&str, Vec<&Ref>> = BTreeMap::new();
    for r in refs.iter().filter(|r| r.kind == kind && r.from != r.to) {
        if topo.services.contains_key(&r.to) && topo.services.contains_key(&r.from) {
            edges.entry(r.from.as_str()).or_default().push(r);
        }
    }
    // 0 = unvisited, 1 = on the stack, 2 = done
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in topo.services.keys() {
        if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut path: Vec<&str> = vec![start];
        let mut iters: Vec<usize> = vec![0];
        state.insert(start, 1);
        while let Some(&node) = path.last() {
            let i = iters.last().copied().unwrap_or(0);
            let next = edges.get(node).and_then(|e| e.get(i)).copied();
            let Some(r) = next else {
                state.insert(node, 2);
                path.pop();
                iters.pop();
                continue;
            };
            if let Some(top) = iters.last_mut() {
                *top += 1;
            }
            match state.get(r.to.as_str()).copied().unwrap_or(0) {
                0 => {
                    state.insert(r.to.as_str(), 1);
                    path.push(r.to.as_str());
                    iters.push(0);
                }
                1 => {
                    let from = path.iter().position(|s| *s == r.to).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[from..].to_vec();
                    cycle.push(r.to.as_str());
                    errs.push(
                        &r.pos,
                        format!("{} cycle: {}", kind.key(), cycle.join(" -> ")),
                    );
                }
                _ => {}
            }
        }
    }
}
