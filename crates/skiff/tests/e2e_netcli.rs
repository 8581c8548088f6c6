//! `skiff network ...` end to end (root): user networks with their own subnets,
//! isolation between them, connect/disconnect of a running container, removal
//! refused while in use and leaving no bridge behind afterwards.

mod common;
use common::{need_root, rootfs, Daemon};

fn bridge_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

#[test]
fn user_networks_connect_disconnect_and_remove() {
    if !need_root("user_networks_connect_disconnect_and_remove") {
        return;
    }
    let d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    d.ok(&["network", "create", "back"]);
    d.ok(&["network", "create", "front"]);
    let bad = d.skiff(&["network", "create", "--subnet", "198.18.0.1/24", "x"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("host bits"));
    let dup = d.skiff(&["network", "create", "back"]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let ls = d.ok(&["network", "ls", "-q"]);
    assert_eq!(
        ls.split_whitespace().collect::<Vec<_>>(),
        ["back", "bridge", "front"]
    );
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["network", "inspect", "back"])).unwrap();
    let bridge = info[0]["bridge"].as_str().unwrap().to_string();
    let subnet = info[0]["subnet"].as_str().unwrap().to_string();
    assert!(
        subnet.starts_with("198.18.") || subnet.starts_with("198.19."),
        "{subnet}"
    );
    assert!(bridge_exists(&bridge));

    d.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "back",
        "--rootfs",
        r,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "front",
        "--rootfs",
        r,
        "sleep",
        "300",
    ]);
    let fetch = |who: &str| {
        d.skiff(&[
            "exec",
            "app",
            "wget",
            "-qO-",
            &format!("http://{who}/hostname"),
        ])
    };
    assert!(
        !fetch("db").status.success(),
        "front cannot see back's names"
    );
    d.ok(&["network", "connect", "--alias", "web", "back", "app"]);
    let out = fetch("db");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // db answers to app by its alias on back.
    let out = d.skiff(&["exec", "db", "nslookup", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let busy = d.skiff(&["network", "rm", "back"]);
    assert!(String::from_utf8_lossy(&busy.stderr).contains("containers attached"));
    d.ok(&["network", "disconnect", "back", "app"]);
    assert!(!fetch("db").status.success(), "disconnected");
    d.ok(&["rm", "-f", "db", "app"]);
    d.ok(&["network", "rm", "back", "front"]);
    assert!(
        !bridge_exists(&bridge),
        "bridge {bridge} removed with its network"
    );
    let gone = d.skiff(&["network", "rm", "bridge"]);
    assert!(!gone.status.success(), "the default network stays");
}
