//! Networking end to end (root, real bridges/veths/nftables): containers on one
//! network talk TCP by name, networks are isolated, a published port answers on
//! host loopback, DNS answers names and forwards the rest to an upstream the test
//! runs on 127.0.0.1, and a daemon killed mid-start leaves nothing behind.

mod common;
use common::{need_root, rootfs, Daemon};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn state(d: &Daemon) -> serde_json::Value {
    let text = std::fs::read_to_string(d.root.path().join("net/state.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ip_of(d: &Daemon, id: &str) -> String {
    state(d)["containers"][id]["endpoints"][0]["ip"]
        .as_str()
        .unwrap()
        .to_string()
}

fn httpd(d: &Daemon, name: &str, flags: &[&str]) -> String {
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--rootfs",
        rootfs().to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["httpd", "-f", "-p", "80", "-h", "/etc"]);
    d.ok(&args).trim().to_string()
}

/// Host veths go in the background after an exit (the kernel's RCU wait stays off the
/// `rm` path): poll for them to be gone, with a deadline far above any real delay.
fn veths_gone(bridge: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if links_of(bridge).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn links_of(bridge: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|l| {
            std::fs::read_link(format!("/sys/class/net/{l}/master"))
                .map(|m| m.ends_with(bridge))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn by_name_over_tcp_and_published_on_host_loopback() {
    if !need_root("by_name_over_tcp_and_published_on_host_loopback") {
        return;
    }
    let d = Daemon::start();
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:80");
    let id = httpd(&d, "web", &["-p", &spec, "--network-alias", "www"]);
    std::thread::sleep(Duration::from_millis(200));
    for name in ["web", "www"] {
        let (code, out, err) = d.run(&[], &["wget", "-qO-", &format!("http://{name}/hostname")]);
        assert_eq!(code, 0, "{name}: {err}\n{}", d.log());
        assert_eq!(out.trim(), &id[..12]);
    }
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.contains(&id[..12]), "{resp}");
    // The same host port again: a clear error, nothing applied.
    let mut args = vec![
        "run",
        "-d",
        "--name",
        "web2",
        "--rootfs",
        rootfs().to_str().unwrap(),
    ];
    args.extend_from_slice(&["-p", &spec, "sleep", "30"]);
    let out = d.skiff(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("port"), "{err}");
    let _ = d.skiff(&["rm", "-f", "web2"]);
    d.ok(&["rm", "-f", "web"]);
    assert!(veths_gone(&d.bridge()), "{:?}", links_of(&d.bridge()));
    assert_eq!(state(&d)["containers"], serde_json::json!({}));
    let nft = std::process::Command::new("nft")
        .args(["list", "table", "inet", "skiff"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&nft.stdout).contains(&format!("p-{}", &id[..12])));
}

#[test]
fn networks_are_isolated() {
    if !need_root("networks_are_isolated") {
        return;
    }
    let a = Daemon::start();
    let b = Daemon::start();
    let id = httpd(&b, "target", &[]);
    let ip = ip_of(&b, &id);
    let url = format!("http://{ip}/hostname");
    let (code, out, err) = b.run(&[], &["wget", "-qO-", &url]);
    assert_eq!(code, 0, "same network reaches it: {err}");
    assert_eq!(out.trim(), &id[..12]);
    // busybox wget -T crashes; nc -w bounds the attempt instead.
    let probe = format!("echo | nc -w 3 {ip} 80");
    let (code, out, _) = a.run(&[], &["sh", "-c", &probe]);
    assert_ne!(code, 0, "another network must not reach it: {out}");
    let (code, _, err) = b.run(&[], &["sh", "-c", &probe]);
    assert_eq!(code, 0, "the probe itself works on the same network: {err}");
}

/// A tiny upstream DNS server: answers every A query with 198.18.99.99.
fn upstream() -> (u16, std::thread::JoinHandle<()>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let mut r = buf[..n].to_vec();
            r[2] = 0x81; // QR, RD
            r[3] = 0x80; // RA, NOERROR
            r[7] = 1; // ANCOUNT = 1
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 99, 99]);
            let _ = sock.send_to(&r, from);
        }
    });
    (port, h)
}

#[test]
fn dns_answers_names_and_forwards_the_rest() {
    if !need_root("dns_answers_names_and_forwards_the_rest") {
        return;
    }
    let (port, _h) = upstream();
    let up = format!("127.0.0.1:{port}");
    let d = Daemon::start_with(&["--dns-upstream", &up]);
    let id = httpd(&d, "named", &[]);
    let ip = ip_of(&d, &id);
    let (code, out, err) = d.run(&[], &["nslookup", "named"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&ip), "{out}");
    let (code, out, err) = d.run(&[], &["nslookup", "example.invalid"]);
    assert_eq!(code, 0, "{err}{out}");
    assert!(out.contains("198.18.99.99"), "forwarded: {out}");
    let (_, out, _) = d.run(&["--add-host", "db:198.18.7.7"], &["cat", "/etc/hosts"]);
    assert!(out.contains("198.18.7.7\tdb"), "{out}");
}

#[test]
fn kill_9_mid_start_leaves_nothing_after_restart() {
    if !need_root("kill_9_mid_start_leaves_nothing_after_restart") {
        return;
    }
    let mut d = Daemon::start();
    let bin = common::skiff_bin();
    for delay_ms in [0u64, 3, 10, 30] {
        let port = free_port();
        let spec = format!("127.0.0.1:{port}:80");
        let mut run = std::process::Command::new(bin)
            .args(["--root", d.root_str(), "--host", &d.host()])
            .args([
                "run",
                "-d",
                "-p",
                &spec,
                "--rootfs",
                rootfs().to_str().unwrap(),
            ])
            .args(["sleep", "30"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.restart();
        let _ = run.wait();
        let ids = d.ok(&["ps", "-aq"]);
        for id in ids.split_whitespace() {
            d.ok(&["rm", "-f", id]);
        }
        assert!(
            veths_gone(&d.bridge()),
            "veths left: {:?}",
            links_of(&d.bridge())
        );
        assert_eq!(state(&d)["containers"], serde_json::json!({}));
        let nft = std::process::Command::new("nft")
            .args(["-j", "list", "map", "inet", "skiff", "ports"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&nft.stdout).contains(&format!("{port}")),
            "port rule left for {port}"
        );
    }
}
