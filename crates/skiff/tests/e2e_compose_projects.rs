//! The Compose conformance projects (tests/compose_projects) brought up for
//! real with `skiff up -d` and checked from inside their containers: secrets
//! at /run/secrets/NAME and configs at /NAME (or their target), the
//! interpolated and env_file environment, service-name DNS across a shared
//! network (every replica of a service) and NOT across unshared ones, then
//! `down -v` leaves no container, network or volume. The files are given as
//! paths relative to the crate, as a user types them. Needs root.

mod common;
mod up_support;

use common::{need_root, Daemon};
use up_support::{build_bb, JobGuard};

/// `sh -c SCRIPT` in container `c`; its stdout.
fn sh(d: &Daemon, c: &str, script: &str) -> String {
    d.ok(&["exec", c, "sh", "-c", script]).trim().to_string()
}

/// The addresses `name` resolves to from inside `c` (none if it does not).
fn resolve(d: &Daemon, c: &str, name: &str) -> Vec<String> {
    let script =
        format!("nslookup {name} 2>/dev/null | sed -n '/^Name:/,$p' | sed -n 's/^Address: *//p'");
    let mut ips: Vec<String> = sh(d, c, &script).lines().map(str::to_string).collect();
    ips.sort();
    ips
}

/// Whether `c` gets an HTTP answer from `url` (busybox `wget -T` crashes
/// here, so `timeout` bounds it).
fn reaches(d: &Daemon, c: &str, url: &str) -> bool {
    sh(
        d,
        c,
        &format!("timeout 20 wget -q -O /dev/null {url} && echo yes || echo no"),
    ) == "yes"
}

fn env_of(d: &Daemon, c: &str) -> Vec<String> {
    sh(d, c, "env").lines().map(str::to_string).collect()
}

fn label(d: &Daemon, c: &str, key: &str) -> String {
    d.inspect(c)["config"]["labels"][key]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// After `down -v`: no container, and no network or volume of `job`.
fn nothing_left(d: &Daemon, job: &str) {
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    let nets = d.ok(&["network", "ls"]);
    assert!(!nets.contains(&format!("{job}_")), "{nets}");
    let vols = d.ok(&["volume", "ls"]);
    assert!(!vols.contains(&format!("{job}_")), "{vols}");
    assert!(d.ok(&["status"]).contains("no jobs"));
}

#[test]
fn shop_secrets_configs_env_and_network_scoped_dns() {
    if !need_root("shop_secrets_configs_env_and_network_scoped_dns") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let _guard = JobGuard {
        d: &d,
        job: "cshop",
    };
    let f = "tests/compose_projects/shop/compose.yaml";
    d.ok(&["up", "-d", "-p", "cshop", "-f", f]);

    // Secret and config files at Compose's default paths, from the project's files.
    assert_eq!(
        sh(&d, "cshop-api-1", "cat /run/secrets/db_password"),
        "s3cret-pa55"
    );
    assert_eq!(
        sh(&d, "cshop-api-2", "cat /api_config"),
        "listen = 9000\ndb = db:5432"
    );
    assert_eq!(
        sh(&d, "cshop-db-1", "cat /run/secrets/db_password"),
        "s3cret-pa55"
    );
    // .env interpolation (${VAR:?err}, ${VAR:-default}), env_file under environment.
    let env = env_of(&d, "cshop-api-1");
    for want in [
        "DB_USER=shopkeeper",
        "API_MODE=production",
        "LOG_LEVEL=debug",
        "WORKERS=4",
        "DB_HOST=db",
    ] {
        assert!(env.iter().any(|e| e == want), "{want} not in {env:?}");
    }
    assert!(env_of(&d, "cshop-db-1")
        .iter()
        .any(|e| e == "POSTGRES_USER=shopkeeper"));
    assert!(env_of(&d, "cshop-web-1")
        .iter()
        .any(|e| e == "SHOP_NAME=corner shop"));
    assert_eq!(label(&d, "cshop-api-1", "com.example.owner"), "payments");

    // web and api share `front`: web sees both api replicas, by name.
    let api_front: Vec<String> = {
        let mut v: Vec<String> = ["cshop-api-1", "cshop-api-2"]
            .iter()
            .map(|c| sh(&d, c, "ip -4 -o addr | sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p' | grep -v '^127\\.'"))
            .flat_map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
            .collect();
        v.sort();
        v
    };
    let from_web = resolve(&d, "cshop-web-1", "api");
    assert_eq!(from_web.len(), 2, "both api replicas: {from_web:?}");
    assert!(
        from_web.iter().all(|ip| api_front.contains(ip)),
        "{from_web:?} vs {api_front:?}"
    );
    assert!(reaches(&d, "cshop-web-1", "http://api:9000/"));
    // api is on both networks: it reaches db on `back` and web on `front`.
    assert_eq!(resolve(&d, "cshop-api-1", "db").len(), 1);
    assert!(reaches(&d, "cshop-api-1", "http://db:5432/"));
    assert!(reaches(&d, "cshop-api-2", "http://web:8080/"));
    // web and db share no network: neither name resolves for the other.
    assert!(resolve(&d, "cshop-web-1", "db").is_empty());
    assert!(resolve(&d, "cshop-db-1", "web").is_empty());
    assert!(!reaches(&d, "cshop-web-1", "http://db:5432/"));

    d.ok(&["down", "-v", "-p", "cshop"]);
    nothing_left(&d, "cshop");
}

#[test]
fn blog_override_files_profile_and_custom_targets() {
    if !need_root("blog_override_files_profile_and_custom_targets") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let _guard = JobGuard {
        d: &d,
        job: "cblog",
    };
    let dir = "tests/compose_projects/blog";
    let (base, prod) = (
        format!("{dir}/compose.yaml"),
        format!("{dir}/compose.prod.yaml"),
    );
    d.ok(&[
        "up",
        "-d",
        "-p",
        "cblog",
        "-f",
        &base,
        "-f",
        &prod,
        "--profile",
        "debug",
    ]);

    // The override's replicas, environment, labels and secret (custom target).
    for app in ["cblog-app-1", "cblog-app-2"] {
        assert_eq!(
            sh(&d, app, "cat /etc/blog/site.conf"),
            "title = Notes\ntheme = plain"
        );
        assert_eq!(sh(&d, app, "cat /run/secrets/blog_api_key"), "k-123456");
        let env = env_of(&d, app);
        for want in [
            "BLOG_TITLE=Production Notes",
            "LOG_LEVEL=warn",
            "CACHE_URL=cache:6379",
        ] {
            assert!(env.iter().any(|e| e == want), "{want} not in {env:?}");
        }
        assert_eq!(label(&d, app, "com.example.env"), "prod");
    }
    // debug (the profile) is on `default` with app; cache is only on `cache`.
    assert_eq!(resolve(&d, "cblog-debug-1", "app").len(), 2);
    assert!(resolve(&d, "cblog-debug-1", "cache").is_empty());
    // worker (from the override) is on `cache` with app and cache.
    assert!(reaches(&d, "cblog-worker-1", "http://cache:6379/"));
    assert!(reaches(&d, "cblog-worker-1", "http://app:8080/"));
    assert!(resolve(&d, "cblog-worker-1", "debug").is_empty());
    // app joins both networks and reaches cache.
    assert!(reaches(&d, "cblog-app-2", "http://cache:6379/"));

    d.ok(&["down", "-v", "-p", "cblog"]);
    nothing_left(&d, "cblog");
}
