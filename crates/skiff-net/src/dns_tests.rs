//! The DNS server over real UDP sockets on loopback: local answers from a
//! source, forwarding to an upstream the test runs, SERVFAIL without one.

use super::*;
use hickory_proto::op::Query;
use hickory_proto::rr::Name;

struct Fixed;

impl NameSource for Fixed {
    fn answer(
        &self,
        network: &str,
        _c: Ipv4Addr,
        name: &str,
        t: RecordType,
    ) -> Option<Vec<Record>> {
        (network == "n1" && name == "web").then(|| match t {
            RecordType::A => a_record(name, Ipv4Addr::new(198, 18, 0, 9))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        })
    }
}

fn query(name: &str) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(4242).set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

async fn ask(server: SocketAddr, name: &str) -> Message {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(&query(name), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn start(upstreams: Vec<SocketAddr>) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let sources: Sources = Arc::new(RwLock::new(vec![Arc::new(Fixed) as Arc<dyn NameSource>]));
    tokio::spawn(serve(sock, "n1".into(), sources, upstreams));
    addr
}

#[tokio::test]
async fn answers_known_names_locally() {
    let server = start(Vec::new()).await;
    let m = ask(server, "WEB.").await;
    assert_eq!(m.id(), 4242);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    let ips: Vec<_> = m.answers().iter().map(|r| r.data().to_string()).collect();
    assert_eq!(ips, ["198.18.0.9"]);
}

#[tokio::test]
async fn forwards_unknown_names_and_fails_cleanly_without_upstream() {
    // An upstream that answers everything with REFUSED (so the relay is visible).
    let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let up_addr = up.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = up.recv_from(&mut buf).await {
            let reply = failure(&buf[..n], ResponseCode::Refused).unwrap();
            let _ = up.send_to(&reply, from).await;
        }
    });
    let server = start(vec![up_addr]).await;
    let m = ask(server, "example.invalid.").await;
    assert_eq!(
        m.response_code(),
        ResponseCode::Refused,
        "relayed from the upstream"
    );
    let lonely = start(Vec::new()).await;
    let m = ask(lonely, "example.invalid.").await;
    assert_eq!(m.response_code(), ResponseCode::ServFail);
}

#[test]
fn resolv_conf_nameservers() {
    let ups = resolv_upstreams("# x\nnameserver 127.0.0.53\nnameserver ::1\nsearch a\n");
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].to_string(), "127.0.0.53:53");
}
