//! Unit tests of the `.skiff` answers (pure, over hand-built catalogs).

use super::*;
use crate::CatalogUpdate;
use std::collections::BTreeMap;

fn inst(service: &str, id: &str, addr: &str, port: u16, proto: Proto) -> Instance {
    Instance {
        id: id.into(),
        service: service.into(),
        node: "n1".into(),
        addr: addr.parse().unwrap(),
        port,
        proto,
        tags: vec![],
        meta: BTreeMap::new(),
    }
}

fn catalog() -> Catalog {
    Catalog::new(
        7,
        vec![
            inst("web", "c1-80", "198.18.0.2", 80, Proto::Tcp),
            inst("web", "c2-80", "198.18.0.3", 80, Proto::Tcp),
            inst("web", "c2-8080", "198.18.0.3", 8080, Proto::Tcp),
            inst("dns", "d1-53", "198.18.0.9", 53, Proto::Udp),
            inst("v6", "x-80", "fd00::1", 80, Proto::Tcp),
        ],
    )
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn a_records_are_the_distinct_addresses() {
    let c = catalog();
    assert_eq!(
        answer(&c, "web.skiff", QueryType::A),
        Answer::A(vec![v4("198.18.0.2"), v4("198.18.0.3")])
    );
    assert_eq!(
        answer(&c, "WEB.Skiff.", QueryType::A),
        answer(&c, "web.skiff", QueryType::A)
    );
    assert_eq!(answer(&c, "web.skiff", QueryType::Aaaa), Answer::NoData);
    assert_eq!(
        answer(&c, "v6.skiff", QueryType::Aaaa),
        Answer::Aaaa(vec!["fd00::1".parse().unwrap()])
    );
}

#[test]
fn unknown_and_foreign_names() {
    let c = catalog();
    assert_eq!(answer(&c, "nope.skiff", QueryType::A), Answer::NxDomain);
    assert_eq!(answer(&c, "skiff", QueryType::A), Answer::NxDomain);
    assert_eq!(answer(&c, "example.com", QueryType::A), Answer::NotOurs);
    assert_eq!(answer(&c, "notskiff", QueryType::A), Answer::NotOurs);
    assert_eq!(answer(&c, "a.b.c.d.skiff", QueryType::A), Answer::NxDomain);
}

#[test]
fn srv_by_port_and_protocol() {
    let c = catalog();
    let Answer::Srv(records, extra) = answer(&c, "_80._tcp.web.skiff", QueryType::Srv) else {
        panic!("want SRV");
    };
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.port == 80));
    assert_eq!(records[0].target, "c1-80.web.skiff");
    assert_eq!(
        extra[1],
        ("c2-80.web.skiff".into(), "198.18.0.3".parse().unwrap())
    );
    let Answer::Srv(all, _) = answer(&c, "_web._tcp.web.skiff", QueryType::Srv) else {
        panic!("want SRV");
    };
    assert_eq!(all.len(), 3);
    assert_eq!(
        answer(&c, "_81._tcp.web.skiff", QueryType::Srv),
        Answer::NxDomain
    );
    assert_eq!(
        answer(&c, "_80._udp.web.skiff", QueryType::Srv),
        Answer::NxDomain
    );
    assert!(matches!(
        answer(&c, "_53._udp.dns.skiff", QueryType::Srv),
        Answer::Srv(..)
    ));
    assert_eq!(
        answer(&c, "_80._tcp.web.skiff", QueryType::A),
        Answer::NoData
    );
    assert_eq!(
        answer(&c, "_80._sctp.web.skiff", QueryType::Srv),
        Answer::NxDomain
    );
}

#[test]
fn srv_targets_resolve_to_their_instance() {
    let c = catalog();
    assert_eq!(
        answer(&c, "c2-8080.web.skiff", QueryType::A),
        Answer::A(vec![v4("198.18.0.3")])
    );
    assert_eq!(answer(&c, "zz.web.skiff", QueryType::A), Answer::NxDomain);
}

#[test]
fn labels_fit_dns() {
    let long = "A".repeat(70) + ":x";
    let l = instance_label(&long);
    assert_eq!(l.len(), 63);
    assert!(l.chars().all(|c| c == 'a'));
    assert_eq!(instance_label("Ab:9_z"), "ab-9-z");
}

#[test]
fn unhealthy_instance_leaves_the_answer_when_removed() {
    let mut c = catalog();
    c.apply(CatalogUpdate::Remove {
        revision: 8,
        service: "web".into(),
        id: "c1-80".into(),
    });
    assert_eq!(
        answer(&c, "web.skiff", QueryType::A),
        Answer::A(vec![v4("198.18.0.3")])
    );
    for id in ["c2-80", "c2-8080"] {
        c.apply(CatalogUpdate::Remove {
            revision: 9,
            service: "web".into(),
            id: id.into(),
        });
    }
    assert_eq!(answer(&c, "web.skiff", QueryType::A), Answer::NxDomain);
    assert_eq!(c.revision(), 9);
    assert!(c.services().all(|(name, _)| name != "web"));
}

#[test]
fn catalog_add_replaces_same_id_and_keeps_order() {
    let mut c = catalog();
    c.apply(CatalogUpdate::Add {
        revision: 10,
        instance: inst("web", "c0-80", "198.18.0.4", 80, Proto::Tcp),
    });
    c.apply(CatalogUpdate::Add {
        revision: 11,
        instance: inst("web", "c1-80", "198.18.0.5", 80, Proto::Tcp),
    });
    let ids: Vec<&str> = c.instances("web").iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["c0-80", "c1-80", "c2-80", "c2-8080"]);
    assert_eq!(
        c.instances("web")[1].addr,
        "198.18.0.5".parse::<IpAddr>().unwrap()
    );
}
