use super::*;
use crate::keeper::proto::LaunchMount;
use serde_json::json;

fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    let passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    std::fs::write(dir.path().join("etc/passwd"), passwd).unwrap();
    std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:www\n").unwrap();
    dir
}

fn spec(rootfs: &Path) -> ContainerSpec {
    ContainerSpec {
        rootfs: rootfs.to_string_lossy().into_owned(),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
        cmd: vec!["echo hi".into()],
        env: vec!["A=1".into()],
        working_dir: Some("/srv".into()),
        user: Some("www".into()),
        read_only: true,
        ..Default::default()
    }
}

fn ctx(userns: Option<(u32, u32)>) -> OciContext {
    OciContext {
        hostname: "box".into(),
        cgroup_path: "/skiff/abc".into(),
        userns,
    }
}

fn dirs() -> OverlayDirs {
    OverlayDirs::of(&ContainerDir("/state/c1".into()))
}

fn launch(oci: &Spec, tty: bool) -> Result<LaunchSpec, ApiError> {
    let stdio = StdioMode {
        tty,
        open_stdin: false,
    };
    let procs = vec![PathBuf::from("/cg/cgroup.procs")];
    launch_from_spec(oci, &dirs(), stdio, SeccompChoice::Default, procs, None)
}

#[test]
fn round_trip_preserves_what_the_keeper_runs() {
    let r = rootfs();
    let s = spec(r.path());
    let l = launch(&build_spec(&s, &ctx(None)).unwrap(), false).unwrap();
    assert_eq!(l.args, s.argv());
    assert_eq!(l.env, launch::environment(&s.env, "box", "/var/www", false));
    assert!(l.env.contains(&"A=1".to_string()));
    assert_eq!((l.cwd.as_str(), l.uid, l.gid), ("/srv", 33, 33));
    assert_eq!(l.additional_gids, vec![50]);
    assert_eq!(l.capabilities, 0xa80405fb);
    assert_eq!(l.rlimits, launch::default_rlimits());
    assert_eq!(l.hostname, "box");
    assert!(l.read_only && l.no_new_privileges && l.net_ns);
    assert_eq!(l.userns, None);
    assert_eq!(l.lower_dirs, vec![r.path().to_path_buf()]);
    assert_eq!(l.merged_dir, PathBuf::from("/state/c1/merged"));
    assert_eq!(l.cgroup_procs, vec![PathBuf::from("/cg/cgroup.procs")]);
    assert!(l.mounts.is_empty(), "the keeper's own mounts are skipped");
    assert_eq!(l.seccomp, SeccompChoice::Default);
}

#[test]
fn host_network_userns_caps_and_tty_carry_over() {
    let r = rootfs();
    let mut s = spec(r.path());
    s.network = NetworkMode::Host;
    s.tty = true;
    s.user = None;
    s.cap_drop = vec!["ALL".into()];
    s.cap_add = vec!["NET_ADMIN".into()];
    s.labels
        .insert(ALLOW_NEW_PRIVILEGES_LABEL.into(), String::new());
    let oci = build_spec(&s, &ctx(Some((100_000, 65_536)))).unwrap();
    let sys = oci
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new("/sys"));
    assert_eq!(sys.unwrap().typ().as_deref(), Some("bind"));
    let l = launch(&oci, true).unwrap();
    assert!(!l.net_ns && !l.no_new_privileges);
    assert_eq!(l.userns, Some((100_000, 65_536)));
    assert_eq!(l.capabilities, 1 << 12);
    assert_eq!((l.uid, l.gid), (0, 0));
    assert!(l.env.contains(&"TERM=xterm".to_string()));
    let err = launch(&oci, false).unwrap_err();
    assert!(err.message.contains("process.terminal"), "{}", err.message);
}

#[test]
fn spec_is_a_runc_style_config_json() {
    let r = rootfs();
    let oci = build_spec(&spec(r.path()), &ctx(Some((1000, 10)))).unwrap();
    let v = serde_json::to_value(&oci).unwrap();
    assert_eq!(v["ociVersion"], OCI_VERSION);
    assert_eq!(v["process"]["args"], json!(["/bin/sh", "-c", "echo hi"]));
    assert_eq!(v["process"]["user"]["uid"], 33);
    assert_eq!(v["root"]["readonly"], true);
    assert_eq!(v["hostname"], "box");
    assert_eq!(v["linux"]["cgroupsPath"], "/skiff/abc");
    assert!(v["linux"].get("seccomp").is_none());
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    for t in ["pid", "mount", "uts", "ipc", "cgroup", "network", "user"] {
        assert!(ns.contains(&json!({ "type": t })), "{t} missing in {ns:?}");
    }
    assert_eq!(
        v["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": 1000, "size": 10}])
    );
    let bounding = v["process"]["capabilities"]["bounding"].as_array().unwrap();
    assert!(bounding.contains(&json!("CAP_CHOWN")) && bounding.len() == 13);
    assert!(v["process"]["capabilities"].get("ambient").is_none());
    assert_eq!(v["linux"]["maskedPaths"][3], "/proc/kcore");
    let back = parse_config(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(back, oci);
}

#[test]
fn resources_reach_the_spec_and_back() {
    let r = rootfs();
    let mut s = spec(r.path());
    s.resources = skiff_types::Resources {
        memory: Some(64 << 20),
        memory_swap: Some(-1),
        nano_cpus: Some(1_500_000_000),
        cpu_shares: Some(512),
        pids_limit: Some(100),
    };
    let res = cgroup_resources(&build_spec(&s, &ctx(None)).unwrap());
    let want = Resources {
        memory_limit: Some(64 << 20),
        memory_swap_limit: Some(-1),
        cpu_quota: Some((150_000, 100_000)),
        cpu_shares: Some(512),
        pids_limit: Some(100),
    };
    assert_eq!(res, want);
    s.resources = Default::default();
    let res = cgroup_resources(&build_spec(&s, &ctx(None)).unwrap());
    assert_eq!(
        res.pids_limit,
        Some(skiff_types::resources::DEFAULT_PIDS_LIMIT)
    );
    assert_eq!((res.memory_limit, res.cpu_quota), (None, None));
}

#[test]
fn bad_input_is_named() {
    let r = rootfs();
    let mut s = spec(r.path());
    s.cap_add = vec!["FOO".into()];
    assert!(build_spec(&s, &ctx(None)).is_err());
    let oci = build_spec(&spec(r.path()), &ctx(None)).unwrap();
    let mut v = serde_json::to_value(&oci).unwrap();
    v["process"]["capabilities"]["bounding"] = json!(["CAP_CHOWN", "CAP_FOO"]);
    let err = parse_config(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert_eq!(
        err.message,
        "unknown capability CAP_FOO in process.capabilities.bounding"
    );
    let mut empty = oci.clone();
    if let Some(p) = empty.process_mut() {
        p.set_args(Some(Vec::new()));
    }
    assert_eq!(
        launch(&empty, false).unwrap_err().message,
        "process.args is empty"
    );
    let message = |v: serde_json::Value| {
        let oci = parse_config(&serde_json::to_vec(&v).unwrap()).unwrap();
        launch(&oci, false).unwrap_err().message
    };
    let base = serde_json::to_value(&oci).unwrap();
    let mut v = base.clone();
    v["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_ALLOW" });
    assert!(message(v).starts_with("linux.seccomp"));
    let mut v = base.clone();
    v["linux"]["namespaces"][0]["path"] = json!("/proc/1/ns/pid");
    assert!(message(v).contains("joining the pid namespace"));
    let mut v = base.clone();
    v["linux"]["namespaces"] = json!([{ "type": "mount" }]);
    assert!(message(v).contains("a pid namespace is required"));
    let mut v = base;
    v["mounts"] = json!([{ "destination": "/mnt", "type": "nfs", "source": "x" }]);
    assert!(message(v).starts_with("mounts[0]"));
}

#[test]
fn bundle_mounts_become_keeper_mounts() {
    let r = rootfs();
    let mut v = serde_json::to_value(build_spec(&spec(r.path()), &ctx(None)).unwrap()).unwrap();
    let mounts = v["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data", "type": "none", "source": "/srv/d", "options": ["rbind", "ro"]}));
    mounts.push(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}));
    let oci = parse_config(&serde_json::to_vec(&v).unwrap()).unwrap();
    let l = launch(&oci, false).unwrap();
    assert_eq!(
        l.mounts,
        vec![
            LaunchMount::Bind {
                source: "/srv/d".into(),
                destination: "/data".into(),
                read_only: true,
                recursive: true
            },
            LaunchMount::Tmpfs {
                destination: "/run".into(),
                options: "nosuid,size=1m".into()
            },
        ]
    );
}
