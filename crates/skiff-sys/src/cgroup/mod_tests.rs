//! `Cgroup` against fake cgroupfs trees in a temp dir (no root needed): what gets written
//! where, for a v1 hybrid and a pure v2 layout.

use std::fs;
use std::path::{Path, PathBuf};

use super::layout::tests::{write_controllers, HYBRID, PURE_V2};
use super::*;

const V1_DIRS: [&str; 6] = ["memory", "cpu", "cpuacct", "pids", "freezer", "devices"];
const UNLIMITED: &str = "9223372036854771712\n";

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        fs::write(dir.join(name), text).unwrap();
    }
}

fn read(p: PathBuf) -> String {
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fake v1 hybrid tree with the group `rel` and its files already present.
fn fake_v1(rel: &str) -> (tempfile::TempDir, CgroupLayout, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    write_controllers(tmp.path(), "/sys/fs/cgroup/unified", "hugetlb\n");
    let base = tmp.path().join("sys/fs/cgroup");
    let files: &[(&str, &[(&str, &str)])] = &[
        (
            "memory",
            &[
                ("memory.limit_in_bytes", UNLIMITED),
                ("memory.memsw.limit_in_bytes", UNLIMITED),
                ("memory.usage_in_bytes", "3145728\n"),
                ("memory.stat", "cache 1\ntotal_inactive_file 1048576\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                ),
            ],
        ),
        (
            "cpu",
            &[
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.cfs_quota_us", "-1\n"),
                ("cpu.shares", "1024\n"),
            ],
        ),
        ("cpuacct", &[("cpuacct.usage", "987654321\n")]),
        ("pids", &[("pids.max", "max\n"), ("pids.current", "4\n")]),
        ("freezer", &[("freezer.state", "THAWED\n")]),
        ("devices", &[("devices.deny", ""), ("devices.allow", "")]),
    ];
    for (ctl, list) in files {
        let dir = base.join(ctl).join(rel);
        put(&dir, list);
        put(&dir, &[("cgroup.procs", "")]);
    }
    let layout = CgroupLayout::from_mountinfo(HYBRID, tmp.path()).unwrap();
    (tmp, layout, base)
}

#[test]
fn v1_create_restricts_devices_and_apply_writes_every_controller() {
    let (_tmp, layout, base) = fake_v1("skiff/c1");
    let cg = Cgroup::create(&layout, Path::new("skiff/c1")).unwrap();
    let g = |ctl: &str, f: &str| read(base.join(ctl).join("skiff/c1").join(f));
    assert_eq!(g("devices", "devices.deny"), "a");
    assert_eq!(
        g("devices", "devices.allow"),
        "b *:* m",
        "last of the allow-list"
    );
    cg.apply(&Resources {
        memory_limit: Some(64 << 20),
        memory_swap_limit: None,
        cpu_quota: Some((50_000, 100_000)),
        cpu_shares: Some(512),
        pids_limit: Some(100),
    })
    .unwrap();
    assert_eq!(
        g("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        g("memory", "memory.memsw.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(g("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(g("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(g("cpu", "cpu.shares"), "512");
    assert_eq!(g("pids", "pids.max"), "100");
    cg.apply(&Resources {
        pids_limit: Some(0),
        memory_limit: Some(1 << 30),
        memory_swap_limit: Some(-1),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(g("pids", "pids.max"), "max");
    assert_eq!(g("memory", "memory.memsw.limit_in_bytes"), "-1");
    assert_eq!(g("cpu", "cpu.shares"), "512", "unset fields are left alone");
}

#[test]
fn v1_add_pid_writes_each_hierarchy_and_pids_reads_freezer() {
    let (_tmp, layout, base) = fake_v1("skiff/c2");
    let cg = Cgroup::open(&layout, Path::new("/skiff/c2"));
    assert_eq!(cg.rel_path(), Path::new("skiff/c2"));
    let files = cg.procs_files();
    assert_eq!(files.len(), 6);
    for ctl in V1_DIRS {
        assert!(
            files.contains(&base.join(ctl).join("skiff/c2/cgroup.procs")),
            "{ctl}"
        );
    }
    cg.add_pid(4242).unwrap();
    for f in &files {
        assert_eq!(read(f.clone()), "4242");
    }
    put(
        &base.join("freezer/skiff/c2"),
        &[("cgroup.procs", "12\n7\n")],
    );
    put(
        &base.join("freezer/skiff/c2/nested"),
        &[("cgroup.procs", "99\n12\n")],
    );
    assert_eq!(cg.pids().unwrap(), vec![7, 12, 99]);
    assert!(cg.dir_fd_v2().is_none(), "no CLONE_INTO_CGROUP on v1");
}

#[test]
fn v1_freeze_thaw_stats_and_oom() {
    let (_tmp, layout, base) = fake_v1("skiff/c3");
    let cg = Cgroup::open(&layout, Path::new("skiff/c3"));
    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert_eq!(read(base.join("freezer/skiff/c3/freezer.state")), "FROZEN");
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    let s = cg.stats().unwrap();
    assert_eq!(
        s,
        CgroupStats {
            memory_usage: 2 << 20,
            memory_limit: None,
            cpu_usage_ns: 987_654_321,
            pids_current: 4
        }
    );
    assert_eq!(cg.oom_kill_count().unwrap(), 3);
}

#[test]
fn v1_create_failure_removes_what_it_made() {
    let (_tmp, layout, base) = fake_v1("skiff/other");
    // devices.deny is missing in the fresh dir, so create fails after making the dirs.
    let err = Cgroup::create(&layout, Path::new("skiff/new/leaf")).unwrap_err();
    assert!(
        matches!(&err, CgroupError::Write { value, .. } if value == "a"),
        "{err}"
    );
    for ctl in V1_DIRS {
        assert!(!base.join(ctl).join("skiff/new").exists(), "{ctl}");
        assert!(
            base.join(ctl).join("skiff").exists(),
            "pre-existing parent kept"
        );
    }
}

#[test]
fn destroy_removes_children_bottom_up_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let mi: String = HYBRID
        .lines()
        .filter(|l| !l.contains("devices"))
        .map(|l| format!("{l}\n"))
        .collect();
    for ctl in V1_DIRS {
        fs::create_dir_all(tmp.path().join("sys/fs/cgroup").join(ctl)).unwrap();
    }
    let layout = CgroupLayout::from_mountinfo(&mi, tmp.path()).unwrap();
    let cg = Cgroup::create(&layout, Path::new("skiff/d1")).unwrap();
    let mem = tmp.path().join("sys/fs/cgroup/memory/skiff/d1");
    fs::create_dir_all(mem.join("a/b")).unwrap();
    cg.destroy().unwrap();
    assert!(!mem.exists());
    assert!(!tmp.path().join("sys/fs/cgroup/pids/skiff/d1").exists());
    cg.destroy().unwrap();
}

#[test]
fn root_group_and_bad_paths_are_refused() {
    let (_tmp, layout, _base) = fake_v1("x");
    for bad in ["", "/abs", "a/../b", "./a"] {
        assert!(
            matches!(
                Cgroup::create(&layout, Path::new(bad)),
                Err(CgroupError::InvalidPath { .. })
            ),
            "{bad:?}"
        );
    }
    let root = Cgroup::open(&layout, Path::new(".."));
    assert_eq!(root.rel_path(), Path::new(""));
    assert!(matches!(
        root.destroy(),
        Err(CgroupError::InvalidPath { .. })
    ));
    assert!(matches!(
        root.kill_all(),
        Err(CgroupError::InvalidPath { .. })
    ));
    assert!(matches!(
        root.freeze(),
        Err(CgroupError::InvalidPath { .. })
    ));
}

#[test]
fn invalid_and_unsupported_resources() {
    let (_tmp, layout, _base) = fake_v1("skiff/r");
    let cg = Cgroup::open(&layout, Path::new("skiff/r"));
    let swap_only = Resources {
        memory_swap_limit: Some(1 << 30),
        ..Default::default()
    };
    assert!(matches!(
        cg.apply(&swap_only),
        Err(CgroupError::InvalidResources(_))
    ));
    let below = Resources {
        memory_limit: Some(2 << 20),
        memory_swap_limit: Some(1 << 20),
        ..Default::default()
    };
    assert!(matches!(
        cg.apply(&below),
        Err(CgroupError::InvalidResources(_))
    ));
    let tmp = tempfile::tempdir().unwrap();
    let mi: String = HYBRID
        .lines()
        .filter(|l| !l.contains("memory"))
        .map(|l| format!("{l}\n"))
        .collect();
    let no_mem = CgroupLayout::from_mountinfo(&mi, tmp.path()).unwrap();
    let cg = Cgroup::open(&no_mem, Path::new("skiff/r"));
    let mem = Resources {
        memory_limit: Some(1 << 20),
        ..Default::default()
    };
    assert!(matches!(
        cg.apply(&mem),
        Err(CgroupError::Unsupported {
            controller: "memory",
            ..
        })
    ));
}

/// A fake pure-v2 tree with `skiff/<leaf>` and its files present.
fn fake_v2(leaf: &str) -> (tempfile::TempDir, CgroupLayout, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    write_controllers(tmp.path(), "/sys/fs/cgroup", "cpuset cpu io memory pids\n");
    let root = tmp.path().join("sys/fs/cgroup");
    put(&root, &[("cgroup.subtree_control", "cpuset\n")]);
    put(&root.join("skiff"), &[("cgroup.subtree_control", "")]);
    put(
        &root.join("skiff").join(leaf),
        &[
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "5000000\n"),
            ("memory.stat", "anon 1\ninactive_file 1000000\n"),
            ("memory.events", "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.weight", "100\n"),
            (
                "cpu.stat",
                "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
            ),
            ("pids.max", "max\n"),
            ("pids.current", "2\n"),
            ("cgroup.procs", ""),
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ],
    );
    let layout = CgroupLayout::from_mountinfo(PURE_V2, tmp.path()).unwrap();
    (tmp, layout, root)
}

#[test]
fn v2_create_delegates_controllers_and_apply_converts() {
    let (_tmp, layout, root) = fake_v2("c1");
    let cg = Cgroup::create(&layout, Path::new("skiff/c1")).unwrap();
    assert_eq!(
        read(root.join("cgroup.subtree_control")),
        "+memory +cpu +pids"
    );
    assert_eq!(
        read(root.join("skiff/cgroup.subtree_control")),
        "+memory +cpu +pids"
    );
    cg.apply(&Resources {
        memory_limit: Some(64 << 20),
        memory_swap_limit: Some(128 << 20),
        cpu_quota: Some((150_000, 100_000)),
        cpu_shares: Some(1024),
        pids_limit: Some(-1),
    })
    .unwrap();
    let g = |f: &str| read(root.join("skiff/c1").join(f));
    assert_eq!(g("memory.max"), (64u64 << 20).to_string());
    assert_eq!(g("memory.swap.max"), (64u64 << 20).to_string());
    assert_eq!(g("cpu.max"), "150000 100000");
    assert_eq!(g("cpu.weight"), "39");
    assert_eq!(g("pids.max"), "max");
    cg.apply(&Resources {
        memory_limit: Some(1 << 20),
        cpu_quota: Some((-1, 100_000)),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(g("memory.swap.max"), "0", "no swap by default");
    assert_eq!(g("cpu.max"), "max 100000");
    assert_eq!(cg.procs_files(), vec![root.join("skiff/c1/cgroup.procs")]);
    assert!(cg.dir_fd_v2().unwrap().is_ok());
}

#[test]
fn v2_freeze_stats_oom_and_kill() {
    let (_tmp, layout, root) = fake_v2("c2");
    let dir = root.join("skiff/c2");
    let cg = Cgroup::open(&layout, Path::new("skiff/c2"));
    put(&dir, &[("cgroup.events", "populated 1\nfrozen 1\n")]);
    cg.freeze().unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "1");
    assert!(cg.is_frozen().unwrap());
    put(&dir, &[("cgroup.events", "populated 1\nfrozen 0\n")]);
    cg.thaw().unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "0");
    let s = cg.stats().unwrap();
    assert_eq!(
        s,
        CgroupStats {
            memory_usage: 4_000_000,
            memory_limit: None,
            cpu_usage_ns: 1_500_000,
            pids_current: 2
        }
    );
    assert_eq!(cg.oom_kill_count().unwrap(), 1);
    put(&dir, &[("cgroup.kill", "")]);
    cg.kill_all().unwrap();
    assert_eq!(read(dir.join("cgroup.kill")), "1");
}

#[test]
fn shares_to_weight_matches_crun() {
    assert_eq!(v2::shares_to_weight(2), 1);
    assert_eq!(v2::shares_to_weight(1024), 39);
    assert_eq!(v2::shares_to_weight(262_144), 10_000);
    assert_eq!(v2::shares_to_weight(0), 1, "clamped");
    assert_eq!(v2::shares_to_weight(u64::MAX), 10_000, "clamped");
}
