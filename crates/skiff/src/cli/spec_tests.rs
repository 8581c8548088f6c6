//! Unit tests of the run/create flag parsing in `spec.rs`.

use super::*;
use clap::Parser;

#[derive(Parser)]
#[command(disable_help_flag = true)]
struct T {
    #[command(flatten)]
    f: ContainerFlags,
}

fn flags(args: &[&str]) -> ContainerFlags {
    T::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
        .unwrap()
        .f
}

fn files(path: &Path) -> std::io::Result<String> {
    match path.to_str() {
        Some("/work/env.list") => Ok("# comment\n\nA=1\n  B=two words\nHOME\nUNSET\n".into()),
        Some("/work/prof.json") => Ok(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#.into()),
        Some("/work/bad.json") => Ok("not json".into()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    }
}

fn getenv(k: &str) -> Option<String> {
    (k == "HOME").then(|| "/root".to_string())
}

fn host() -> Host<'static> {
    Host {
        cwd: Path::new("/work"),
        read_file: &files,
        getenv: &getenv,
    }
}

fn spec(args: &[&str]) -> anyhow::Result<ContainerSpec> {
    flags(args).to_spec(&host())
}

#[test]
fn maps_every_flag() {
    let s = spec(&[
        "--rm",
        "--name",
        "web",
        "--rootfs",
        "r",
        "-e",
        "X=1",
        "-e",
        "HOME",
        "-e",
        "NOPE",
        "--env-file",
        "env.list",
        "-w",
        "/srv",
        "-h",
        "box",
        "-it",
        "-u",
        "1000:1000",
        "-m",
        "64m",
        "--memory-swap",
        "-1",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "-1",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "--network",
        "host",
        "--userns",
        "auto",
        "--label",
        "a=b",
        "-l",
        "c",
        "--stop-timeout",
        "3",
        "--stop-signal",
        "SIGINT",
        "sh",
        "-c",
        "echo hi",
    ])
    .unwrap();
    assert_eq!(s.name.as_deref(), Some("web"));
    assert_eq!(s.rootfs, "/work/r");
    assert_eq!(
        s.env,
        ["A=1", "B=two words", "HOME=/root", "X=1", "HOME=/root"]
    );
    assert_eq!(s.working_dir.as_deref(), Some("/srv"));
    assert_eq!(s.hostname.as_deref(), Some("box"));
    assert!(s.tty && s.open_stdin && s.read_only && s.auto_remove && s.userns_auto);
    assert_eq!(s.user.as_deref(), Some("1000:1000"));
    assert_eq!(s.resources.memory, Some(64 << 20));
    assert_eq!(s.resources.memory_swap, Some(-1));
    assert_eq!(s.resources.nano_cpus, Some(1_500_000_000));
    assert_eq!(s.resources.cpu_shares, Some(512));
    assert_eq!(s.resources.pids_limit, Some(-1));
    assert_eq!(
        (&s.cap_add, &s.cap_drop),
        (&vec!["NET_ADMIN".to_string()], &vec!["ALL".to_string()])
    );
    assert_eq!(s.seccomp, SeccompOption::Unconfined);
    assert_eq!(s.network, NetworkMode::Host);
    assert_eq!(s.labels.get("a").map(String::as_str), Some("b"));
    assert_eq!(s.labels.get("c").map(String::as_str), Some(""));
    assert_eq!(s.stop_timeout, Some(3));
    assert_eq!(s.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(s.argv(), ["sh", "-c", "echo hi"]);
}

#[test]
fn defaults_are_safe_and_minimal() {
    let s = spec(&["--rootfs", "/abs", "/bin/true"]).unwrap();
    assert_eq!(s.rootfs, "/abs");
    assert_eq!(s.network, NetworkMode::Bridge);
    assert_eq!(s.seccomp, SeccompOption::Default);
    assert_eq!(s.restart, RestartPolicy::No);
    assert!(!s.tty && !s.open_stdin && !s.auto_remove && s.entrypoint.is_none());
    assert_eq!(s.resources, Default::default());
    let s = spec(&["--rootfs", "/r", "--entrypoint", "/bin/sh", "--", "-c", "x"]).unwrap();
    assert_eq!(s.argv(), ["/bin/sh", "-c", "x"]);
    let s = spec(&["--rootfs", "/r", "--entrypoint", "/bin/echo"]).unwrap();
    assert_eq!(s.argv(), ["/bin/echo"]);
}

#[test]
fn refuses_bad_input() {
    let bad: &[&[&str]] = &[
        &["--rootfs", "/r"],
        &["--rootfs", "/r", "-m", "4m", "true"],
        &["--rootfs", "/r", "-m", "lots", "true"],
        &["--rootfs", "/r", "--memory-swap", "1g", "true"],
        &[
            "--rootfs",
            "/r",
            "-m",
            "1g",
            "--memory-swap",
            "512m",
            "true",
        ],
        &["--rootfs", "/r", "--cpus", "0", "true"],
        &["--rootfs", "/r", "--name", "a b", "true"],
        &["--rootfs", "/r", "-w", "rel", "true"],
        &["--rootfs", "/r", "--restart", "sometimes", "true"],
        &["--rootfs", "/r", "--rm", "--restart", "always", "true"],
        &["--rootfs", "/r", "--network", "", "true"],
        &["--rootfs", "/r", "--userns", "keep-id", "true"],
        &["--rootfs", "/r", "-e", "=x", "true"],
        &["--rootfs", "/r", "--env-file", "missing", "true"],
    ];
    for args in bad {
        assert!(spec(args).is_err(), "{args:?}");
    }
}

#[test]
fn env_file_rules() {
    let vars = parse_env_file("A=1\n#x\n\n  B=\nHOME\nC=a=b\n", &getenv).unwrap();
    assert_eq!(vars, ["A=1", "B=", "HOME=/root", "C=a=b"]);
    let err = parse_env_file("OK=1\nBAD KEY=1\n", &getenv).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "line 2: variable \"BAD KEY\" contains whitespaces"
    );
}

#[test]
fn security_opts() {
    let p = |v: &[&str]| {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        parse_security_opts(&v, &host())
    };
    assert_eq!(p(&[]).unwrap().seccomp, SeccompOption::Default);
    assert_eq!(
        p(&["seccomp:unconfined"]).unwrap().seccomp,
        SeccompOption::Unconfined
    );
    assert_eq!(
        p(&["seccomp=prof.json"]).unwrap().seccomp,
        SeccompOption::Profile(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#.into())
    );
    assert!(p(&["no-new-privileges:true", "no-new-privileges=true"]).is_ok());
    for bad in [
        "no-new-privileges=false",
        "seccomp=bad.json",
        "seccomp=nofile",
        "apparmor=x",
        "seccomp=",
    ] {
        assert!(p(&[bad]).is_err(), "{bad}");
    }
}
