//! A tiny TCP benchmark for bench/net.sh, built static so it runs in a busybox rootfs:
//!   tcpbench serve PORT               sink for `send`, echo for `rtt`
//!   tcpbench send HOST:PORT MIB       prints MiB/s of a bulk transfer
//!   tcpbench rtt HOST:PORT COUNT      prints the mean round trip of 1-byte ping-pongs (us)
//!   tcpbench proxy PORT HOST:PORT     a userland proxy (thread per connection, like docker-proxy)
//!
//! The first byte a client sends says what it wants: b'S' (sink) or b'R' (echo).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match arg(1).as_str() {
        "serve" => serve(&arg(2)),
        "send" => send(&arg(2), arg(3).parse().unwrap_or_else(|_| usage())),
        "rtt" => rtt(&arg(2), arg(3).parse().unwrap_or_else(|_| usage())),
        "proxy" => proxy(&arg(2), &arg(3)),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: tcpbench serve PORT | send HOST:PORT MIB | rtt HOST:PORT COUNT | proxy PORT HOST:PORT");
    std::process::exit(2)
}

fn die(e: impl std::fmt::Display) -> ! {
    eprintln!("tcpbench: {e}");
    std::process::exit(1)
}

fn connect(addr: &str) -> TcpStream {
    let a = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| die(format!("cannot resolve {addr}")));
    let s = TcpStream::connect(a).unwrap_or_else(|e| die(format!("connect {addr}: {e}")));
    let _ = s.set_nodelay(true);
    s
}

fn serve(port: &str) {
    let l = TcpListener::bind(format!("0.0.0.0:{port}")).unwrap_or_else(|e| die(e));
    for s in l.incoming().flatten() {
        std::thread::spawn(move || handle(s));
    }
}

fn handle(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut kind = [0u8; 1];
    if s.read_exact(&mut kind).is_err() {
        return;
    }
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if kind[0] == b'R' && s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

fn send(addr: &str, mib: u64) {
    let mut s = connect(addr);
    let buf = vec![0u8; 1 << 20];
    let t = Instant::now();
    s.write_all(b"S").unwrap_or_else(|e| die(e));
    for _ in 0..mib {
        s.write_all(&buf).unwrap_or_else(|e| die(e));
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest); // wait for the peer to have read everything
    let secs = t.elapsed().as_secs_f64();
    println!("{:.0} MiB/s", mib as f64 / secs);
}

fn rtt(addr: &str, count: u32) {
    let mut s = connect(addr);
    s.write_all(b"R").unwrap_or_else(|e| die(e));
    let mut b = [7u8; 1];
    for _ in 0..10 {
        s.write_all(&b).unwrap_or_else(|e| die(e));
        s.read_exact(&mut b).unwrap_or_else(|e| die(e));
    }
    let t = Instant::now();
    for _ in 0..count {
        s.write_all(&b).unwrap_or_else(|e| die(e));
        s.read_exact(&mut b).unwrap_or_else(|e| die(e));
    }
    println!(
        "{:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(count)
    );
}

fn proxy(port: &str, target: &str) {
    let l = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap_or_else(|e| die(e));
    for c in l.incoming().flatten() {
        let target = target.to_string();
        std::thread::spawn(move || {
            let _ = c.set_nodelay(true);
            let up = connect(&target);
            let (mut c2, mut up2) = match (c.try_clone(), up.try_clone()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return,
            };
            let t = std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut up2);
                let _ = up2.shutdown(std::net::Shutdown::Write);
            });
            let (mut c, mut up) = (c, up);
            let _ = std::io::copy(&mut up, &mut c);
            let _ = c.shutdown(std::net::Shutdown::Write);
            let _ = t.join();
        });
    }
}
