//! skiff's firewall: one nftables table, `inet skiff`, shared by every skiff
//! daemon on the host and touched by nothing else; other tables (Docker's
//! iptables-nft rules, firewalld) are never flushed or edited.
//!
//! Rules are fed to `nft -j -f -` as JSON (netavark's approach): the JSON
//! schema is nft's stable interface, every command of one call is one kernel
//! transaction (all or nothing), and names are data, never spliced into rule
//! text. Writing nf_tables netlink by hand would mean re-implementing nft's
//! expression compiler for a path that is not start-critical (rules change
//! once per network and once per container *with published ports*).
//!
//! ```text
//! table inet skiff
//!   set bridges  {ifname}            every skiff bridge
//!   set same     {ifname . ifname}   (br . br): traffic within one network
//!   set egress   {ifname}            bridges whose containers may reach out
//!   map ports    {l4proto . port : jump p-<container>}
//!   chain forward     (filter)  same->accept, replies/DNAT'd->accept,
//!                               egress->accept, other to/from a bridge->drop
//!   chain prerouting  (dnat)    local daddr: vmap @ports
//!   chain output      (dnat)    local daddr: vmap @ports   (host loopback)
//!   chain postrouting (snat)    egress->masquerade, 127/8 to a bridge->masquerade,
//!                               hairpin DNAT->masquerade
//!   chain p-<container>         ip daddr? th dport -> dnat to IP:PORT
//! ```
//! Base chains are rewritten whole (flush + add) under the host lock, so two
//! daemons agree on them; per-network and per-container state is set elements
//! and per-container chains, added and deleted by key.

use crate::state::PortMap;
use crate::NetError;
use serde_json::{json, Value};
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

pub const TABLE: &str = "skiff";

fn t() -> Value {
    json!({"family": "inet", "name": TABLE})
}

fn ifname(k: &str) -> Value {
    json!({"meta": {"key": k}})
}

fn is(left: Value, right: Value) -> Value {
    json!({"match": {"op": "==", "left": left, "right": right}})
}

fn isnt(left: Value, right: Value) -> Value {
    json!({"match": {"op": "!=", "left": left, "right": right}})
}

fn rule(chain: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": "inet", "table": TABLE, "chain": chain, "expr": expr}}})
}

fn base_chain(name: &str, typ: &str, hook: &str, prio: i32) -> Value {
    json!({"add": {"chain": {"family": "inet", "table": TABLE, "name": name,
        "type": typ, "hook": hook, "prio": prio, "policy": "accept"}}})
}

fn flush_chain(name: &str) -> Value {
    json!({"flush": {"chain": {"family": "inet", "table": TABLE, "name": name}}})
}

fn ports_vmap() -> Vec<Value> {
    vec![
        is(
            json!({"fib": {"result": "type", "flags": ["daddr"]}}),
            json!("local"),
        ),
        json!({"vmap": {"key": {"concat": [{"meta": {"key": "l4proto"}},
            {"payload": {"protocol": "th", "field": "dport"}}]}, "data": "@ports"}}),
    ]
}

/// The table, its sets and base chains, rewritten whole (idempotent).
pub fn base() -> Vec<Value> {
    let set = |name: &str, typ: Value| json!({"add": {"set": {"family": "inet", "table": TABLE, "name": name, "type": typ}}});
    let mut cmds = vec![
        json!({"add": {"table": t()}}),
        set("bridges", json!("ifname")),
        set("same", json!(["ifname", "ifname"])),
        set("egress", json!("ifname")),
        json!({"add": {"map": {"family": "inet", "table": TABLE, "name": "ports",
            "type": ["inet_proto", "inet_service"], "map": "verdict"}}}),
        base_chain("forward", "filter", "forward", 0),
        base_chain("prerouting", "nat", "prerouting", -100),
        base_chain("output", "nat", "output", -100),
        base_chain("postrouting", "nat", "postrouting", 100),
    ];
    for c in ["forward", "prerouting", "output", "postrouting"] {
        cmds.push(flush_chain(c));
    }
    let accept = json!({"accept": null});
    let drop = json!({"drop": null});
    let masq = json!({"masquerade": null});
    let to_bridge = is(ifname("oifname"), json!("@bridges"));
    cmds.extend([
        rule(
            "forward",
            vec![
                is(
                    json!({"concat": [ifname("iifname"), ifname("oifname")]}),
                    json!("@same"),
                ),
                accept.clone(),
            ],
        ),
        rule(
            "forward",
            vec![
                to_bridge.clone(),
                json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                    "right": ["established", "related"]}}),
                accept.clone(),
            ],
        ),
        rule(
            "forward",
            vec![
                to_bridge.clone(),
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                accept.clone(),
            ],
        ),
        rule(
            "forward",
            vec![
                is(ifname("iifname"), json!("@egress")),
                isnt(ifname("oifname"), json!("@bridges")),
                accept,
            ],
        ),
        rule(
            "forward",
            vec![is(ifname("iifname"), json!("@bridges")), drop.clone()],
        ),
        rule("forward", vec![to_bridge.clone(), drop]),
        rule("prerouting", ports_vmap()),
        rule("output", ports_vmap()),
        rule(
            "postrouting",
            vec![
                is(ifname("iifname"), json!("@egress")),
                isnt(ifname("oifname"), json!("@bridges")),
                masq.clone(),
            ],
        ),
        rule(
            "postrouting",
            vec![
                is(
                    json!({"payload": {"protocol": "ip", "field": "saddr"}}),
                    json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
                ),
                to_bridge.clone(),
                masq.clone(),
            ],
        ),
        rule(
            "postrouting",
            vec![
                is(ifname("iifname"), json!("@bridges")),
                to_bridge,
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                masq,
            ],
        ),
    ]);
    cmds
}

fn elem(verb: &str, set: &str, e: Value) -> Value {
    json!({verb: {"element": {"family": "inet", "table": TABLE, "name": set, "elem": [e]}}})
}

/// Registers a network's bridge (isolation, and egress if asked for).
pub fn add_network(bridge: &str, egress: bool) -> Vec<Value> {
    let mut v = vec![
        elem("add", "bridges", json!(bridge)),
        elem("add", "same", json!({"concat": [bridge, bridge]})),
    ];
    if egress {
        v.push(elem("add", "egress", json!(bridge)));
    }
    v
}

/// Unregisters a bridge: only the elements present (from a listing) are deleted.
pub fn remove_network(bridge: &str, present: &Listing) -> Vec<Value> {
    let mut v = Vec::new();
    if present.bridges.iter().any(|b| b == bridge) {
        v.push(elem("delete", "bridges", json!(bridge)));
    }
    if present.same.iter().any(|b| b == bridge) {
        v.push(elem("delete", "same", json!({"concat": [bridge, bridge]})));
    }
    if present.egress.iter().any(|b| b == bridge) {
        v.push(elem("delete", "egress", json!(bridge)));
    }
    v
}

/// Removes the whole table (only when no skiff bridge or port is left in it).
pub fn delete_table() -> Value {
    json!({"delete": {"table": t()}})
}

/// The chain name of a container's port rules.
pub fn port_chain(container_id: &str) -> String {
    format!("p-{}", &container_id[..container_id.len().min(12)])
}

/// A container's DNAT chain and its `ports` entries; `create` fails the whole
/// transaction if another container (of any daemon) holds one of the ports.
pub fn publish(container_id: &str, ip: Ipv4Addr, ports: &[PortMap]) -> Vec<Value> {
    let chain = port_chain(container_id);
    let mut v = vec![json!({"add": {"chain": {"family": "inet", "table": TABLE, "name": chain}}})];
    for p in ports {
        let mut expr = Vec::new();
        if let Some(h) = p.host_ip {
            expr.push(is(
                json!({"payload": {"protocol": "ip", "field": "daddr"}}),
                json!(h.to_string()),
            ));
        }
        expr.push(is(
            json!({"payload": {"protocol": p.proto.as_str(), "field": "dport"}}),
            json!(p.host_port),
        ));
        expr.push(
            json!({"dnat": {"family": "ip", "addr": ip.to_string(), "port": p.container_port}}),
        );
        v.push(rule(&chain, expr));
        v.push(elem(
            "create",
            "ports",
            json!([{"concat": [p.proto.as_str(), p.host_port]}, {"jump": {"target": chain}}]),
        ));
    }
    v
}

/// Removes a container's port entries and chain, as far as they exist.
pub fn unpublish(container_id: &str, present: &Listing) -> Vec<Value> {
    let chain = port_chain(container_id);
    let mut v: Vec<Value> = present
        .ports
        .iter()
        .filter(|(_, _, target)| *target == chain)
        .map(|(proto, port, _)| elem("delete", "ports", json!({"concat": [proto, port]})))
        .collect();
    if present.chains.contains(&chain) {
        v.push(flush_chain(&chain));
        v.push(json!({"delete": {"chain": {"family": "inet", "table": TABLE, "name": chain}}}));
    }
    v
}

/// What the table holds now (for deletes that must only name what exists).
#[derive(Debug, Default)]
pub struct Listing {
    pub bridges: Vec<String>,
    pub same: Vec<String>,
    pub egress: Vec<String>,
    /// (proto, port, jump target)
    pub ports: Vec<(String, u64, String)>,
    pub chains: Vec<String>,
}

impl Listing {
    pub fn parse(v: &Value) -> Listing {
        let mut l = Listing::default();
        for o in v["nftables"].as_array().into_iter().flatten() {
            if let Some(c) = o.get("chain") {
                if let Some(n) = c["name"].as_str() {
                    l.chains.push(n.to_string());
                }
            }
            let (obj, is_map) = match (o.get("set"), o.get("map")) {
                (Some(s), _) => (s, false),
                (_, Some(m)) => (m, true),
                _ => continue,
            };
            let elems = obj["elem"].as_array().cloned().unwrap_or_default();
            let name = obj["name"].as_str().unwrap_or_default();
            for e in elems {
                if is_map && name == "ports" {
                    let key = &e[0]["concat"];
                    let (proto, port) = (key[0].as_str(), key[1].as_u64());
                    let target = e[1]["jump"]["target"].as_str();
                    if let (Some(p), Some(n), Some(t)) = (proto, port, target) {
                        l.ports.push((p.to_string(), n, t.to_string()));
                    }
                    continue;
                }
                let s = match (&e, e.get("concat")) {
                    (_, Some(c)) => c[0].as_str().map(str::to_string),
                    (Value::String(s), _) => Some(s.clone()),
                    _ => None,
                };
                let Some(s) = s else { continue };
                match name {
                    "bridges" => l.bridges.push(s),
                    "same" => l.same.push(s),
                    "egress" => l.egress.push(s),
                    _ => {}
                }
            }
        }
        l
    }
}

/// The table's current contents (empty when it does not exist yet).
pub fn list() -> Result<Listing, NetError> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "inet", TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(NetError::io("run nft (is nftables installed?)"))?;
    if !out.status.success() {
        return Ok(Listing::default());
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| NetError::Invalid(format!("nft -j list: {e}")))?;
    Ok(Listing::parse(&v))
}

/// Applies `cmds` as one nftables transaction.
pub fn apply(cmds: Vec<Value>) -> Result<(), NetError> {
    if cmds.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(&json!({"nftables": cmds}))
        .map_err(|e| NetError::Invalid(format!("encode nft JSON: {e}")))?;
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NetError::io("run nft (is nftables installed?)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&body)
            .map_err(NetError::io("write to nft"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(NetError::io("wait for nft"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let msg = err.lines().next().unwrap_or("failed").to_string();
    if err.contains("File exists") {
        return Err(NetError::Conflict(format!("nftables: {msg}")));
    }
    Err(NetError::Io {
        what: "nftables".into(),
        source: std::io::Error::other(err.trim().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_reads_what_nft_prints_and_deletes_only_that() {
        let v: Value = serde_json::from_str(r#"{"nftables":[
            {"metainfo":{"version":"1.0.6"}},
            {"set":{"family":"inet","name":"bridges","table":"skiff","type":"ifname","elem":["skt1"]}},
            {"set":{"family":"inet","name":"same","table":"skiff","type":["ifname","ifname"],"elem":[{"concat":["skt1","skt1"]}]}},
            {"map":{"family":"inet","name":"ports","table":"skiff","type":["inet_proto","inet_service"],"map":"verdict",
                    "elem":[[{"concat":["tcp",8080]},{"jump":{"target":"p-abc"}}]]}},
            {"chain":{"family":"inet","table":"skiff","name":"p-abc","handle":5}}]}"#).unwrap();
        let l = Listing::parse(&v);
        assert_eq!(l.bridges, ["skt1"]);
        assert_eq!(l.same, ["skt1"]);
        assert!(l.egress.is_empty());
        assert_eq!(l.ports, [("tcp".to_string(), 8080, "p-abc".to_string())]);
        assert_eq!(
            remove_network("skt1", &l).len(),
            2,
            "no egress element to delete"
        );
        assert_eq!(
            unpublish("abc", &l).len(),
            3,
            "element, flush, delete chain"
        );
        assert!(unpublish("other", &l).is_empty());
    }

    #[test]
    fn publish_creates_elements_so_clashes_fail_the_transaction() {
        let p = crate::ports::parse_publish("127.0.0.1:8080:80").unwrap();
        let cmds = publish("abcdef0123456789", Ipv4Addr::new(198, 18, 0, 2), &[p]);
        let text = serde_json::to_string(&cmds).unwrap();
        assert!(text.contains(r#""create":{"element""#), "{text}");
        assert!(text.contains("p-abcdef012345"), "{text}");
        assert!(
            text.contains(r#""dnat":{"addr":"198.18.0.2","family":"ip","port":80}"#),
            "{text}"
        );
    }
}
