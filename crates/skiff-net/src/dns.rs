//! The embedded DNS server: one UDP socket per network on its gateway address,
//! port 53. A query is answered from the [`NameSource`]s (containers and their
//! aliases on that network first; the daemon can add more, e.g. `NAME.skiff`
//! services from the registry); anything no source knows is forwarded verbatim
//! to the querying container's `--dns` servers, else the daemon's upstreams
//! (the host's /etc/resolv.conf, or `--dns-upstream`), and the reply relayed.
//! The daemon forwards from the host's namespace, so a host resolver on
//! 127.0.0.53 works as an upstream although containers cannot reach it.
//! hickory-proto does the parsing and encoding (no default features).

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData};
pub use hickory_proto::rr::{Record, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Something that can answer names for containers on a network.
pub trait NameSource: Send + Sync {
    /// Records for `name` (lowercase, no trailing dot) of type `rtype`, asked from
    /// `client` on `network`; `None` when this source does not know the name at all
    /// (the next source, then the upstreams, are asked), `Some(vec![])` when it knows
    /// the name but has no record of that type.
    fn answer(
        &self,
        network: &str,
        client: Ipv4Addr,
        name: &str,
        rtype: RecordType,
    ) -> Option<Vec<Record>>;

    /// `--dns` servers of the container at `client`, if it has any.
    fn upstreams_for(&self, _network: &str, _client: Ipv4Addr) -> Vec<SocketAddr> {
        Vec::new()
    }
}

/// An A record helper for sources.
pub fn a_record(name: &str, ip: Ipv4Addr) -> Option<Record> {
    a_record_ttl(name, ip, 0)
}

/// An A record with a TTL (seconds).
pub fn a_record_ttl(name: &str, ip: Ipv4Addr, ttl: u32) -> Option<Record> {
    let n = Name::from_ascii(format!("{name}.")).ok()?;
    Some(Record::from_rdata(n, ttl, RData::A(A(ip))))
}

/// An AAAA record with a TTL (seconds).
pub fn aaaa_record(name: &str, ip: Ipv6Addr, ttl: u32) -> Option<Record> {
    let n = Name::from_ascii(format!("{name}.")).ok()?;
    Some(Record::from_rdata(n, ttl, RData::AAAA(AAAA(ip))))
}

/// An SRV record (`target` without the trailing dot) with a TTL (seconds).
pub fn srv_record(
    name: &str,
    ttl: u32,
    (priority, weight, port): (u16, u16, u16),
    target: &str,
) -> Option<Record> {
    let n = Name::from_ascii(format!("{name}.")).ok()?;
    let t = Name::from_ascii(format!("{target}.")).ok()?;
    Some(Record::from_rdata(
        n,
        ttl,
        RData::SRV(SRV::new(priority, weight, port, t)),
    ))
}

/// The sources, in order, shared by every network's server.
pub type Sources = Arc<RwLock<Vec<Arc<dyn NameSource>>>>;

/// Serves DNS for `network` on `sock` until the task is aborted.
pub async fn serve(sock: UdpSocket, network: String, sources: Sources, upstreams: Vec<SocketAddr>) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let SocketAddr::V4(client) = from else {
            continue;
        };
        match local_answer(&query, &network, *client.ip(), &sources) {
            Answer::Reply(bytes) => {
                let _ = sock.send_to(&bytes, from).await;
            }
            Answer::Forward(mut ups) => {
                if ups.is_empty() {
                    ups = upstreams.clone();
                }
                let sock = sock.clone();
                tokio::spawn(async move {
                    let reply = match forward(&query, &ups).await {
                        Some(r) => r,
                        None => failure(&query, ResponseCode::ServFail).unwrap_or_default(),
                    };
                    if !reply.is_empty() {
                        let _ = sock.send_to(&reply, from).await;
                    }
                });
            }
            Answer::Drop => {}
        }
    }
}

enum Answer {
    Reply(Vec<u8>),
    Forward(Vec<SocketAddr>),
    Drop,
}

fn failure(query: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let mut m = Message::new();
    m.set_id(q.id())
        .set_message_type(MessageType::Response)
        .set_op_code(q.op_code())
        .set_recursion_desired(q.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(code);
    m.add_queries(q.queries().to_vec());
    m.to_vec().ok()
}

fn local_answer(query: &[u8], network: &str, client: Ipv4Addr, sources: &Sources) -> Answer {
    let Ok(q) = Message::from_vec(query) else {
        return Answer::Drop;
    };
    if q.message_type() != MessageType::Query || q.queries().len() != 1 {
        return match failure(query, ResponseCode::FormErr) {
            Some(b) => Answer::Reply(b),
            None => Answer::Drop,
        };
    }
    let question = &q.queries()[0];
    let name = question.name().to_lowercase().to_ascii();
    let name = name.trim_end_matches('.');
    let list: Vec<Arc<dyn NameSource>> = match sources.read() {
        Ok(s) => s.clone(),
        Err(p) => p.into_inner().clone(),
    };
    for s in &list {
        if let Some(records) = s.answer(network, client, name, question.query_type()) {
            let mut m = Message::new();
            m.set_id(q.id())
                .set_message_type(MessageType::Response)
                .set_op_code(q.op_code())
                .set_recursion_desired(q.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true)
                .set_response_code(ResponseCode::NoError);
            m.add_query(question.clone());
            m.add_answers(records);
            return match m.to_vec() {
                Ok(b) => Answer::Reply(b),
                Err(_) => Answer::Drop,
            };
        }
    }
    let ups = list
        .iter()
        .flat_map(|s| s.upstreams_for(network, client))
        .collect();
    Answer::Forward(ups)
}

/// Sends `query` to each upstream in turn (2 s each) and returns the first reply.
async fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let Ok(s) = UdpSocket::bind(bind).await else {
            continue;
        };
        if s.connect(up).await.is_err() || s.send(query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), s.recv(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// The nameservers of a resolv.conf text, as port-53 socket addresses.
pub fn resolv_upstreams(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
