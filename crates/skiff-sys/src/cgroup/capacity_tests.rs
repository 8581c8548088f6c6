//! Capacity from a fake host under a temp dir: v1 hybrid and pure v2 layouts,
//! limits on the own group and on an ancestor, and a cgroup namespace path.

use super::*;
use crate::cgroup::layout::tests::{HYBRID, PURE_V2};
use std::fs;

const MEMINFO: &str = "MemTotal:       16318476 kB\nMemFree:  100 kB\n";
const TOTAL: u64 = 16_318_476 * 1024;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn parsers() {
    assert_eq!(mem_total(MEMINFO), Some(TOTAL));
    assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    assert_eq!(mem_total("MemTotal: x kB\n"), None);
    assert_eq!(parse_cpu_max("max 100000"), None);
    assert_eq!(parse_cpu_max("150000 100000"), Some(1500));
    assert_eq!(parse_cpu_max("50000"), Some(500));
    assert_eq!(parse_cpu_max("1 0"), None);
}

#[test]
fn no_layout_means_host_totals() {
    let cap = measure_with(None, "", MEMINFO, 3).unwrap();
    assert_eq!(
        cap,
        HostCapacity {
            cpu_milli: 3000,
            memory: TOTAL
        }
    );
    assert!(measure_with(None, "", "nothing", 3).is_err());
}

#[test]
fn v1_limits_on_own_group_and_ancestors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let layout = CgroupLayout::from_mountinfo(HYBRID, root).unwrap();
    write(root, "sys/fs/cgroup/cpu/a/cpu.cfs_quota_us", "-1\n");
    write(root, "sys/fs/cgroup/cpu/a/cpu.cfs_period_us", "100000\n");
    write(root, "sys/fs/cgroup/cpu/a/b/cpu.cfs_quota_us", "150000\n");
    write(root, "sys/fs/cgroup/cpu/a/b/cpu.cfs_period_us", "100000\n");
    // v1 "unlimited" on the own group, a real limit on the parent.
    write(
        root,
        "sys/fs/cgroup/memory/a/b/memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    write(
        root,
        "sys/fs/cgroup/memory/a/memory.limit_in_bytes",
        "268435456\n",
    );
    let own = "9:name=systemd:/\n4:memory:/a/b\n1:cpu:/a/b\n0::/\n";
    let cap = measure_with(Some(&layout), own, MEMINFO, 4).unwrap();
    assert_eq!(
        cap,
        HostCapacity {
            cpu_milli: 1500,
            memory: 256 << 20
        }
    );
    // More quota than CPUs: the CPUs win.
    let cap = measure_with(Some(&layout), own, MEMINFO, 1).unwrap();
    assert_eq!(cap.cpu_milli, 1000);
}

#[test]
fn v2_limits_and_namespaced_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "sys/fs/cgroup/cgroup.controllers",
        "cpuset cpu io memory pids\n",
    );
    let layout = CgroupLayout::from_mountinfo(PURE_V2, root).unwrap();
    write(root, "sys/fs/cgroup/a/cpu.max", "50000 100000\n");
    write(root, "sys/fs/cgroup/a/b/cpu.max", "max 100000\n");
    write(root, "sys/fs/cgroup/a/b/memory.max", "max\n");
    write(root, "sys/fs/cgroup/a/memory.max", "1073741824\n");
    let cap = measure_with(Some(&layout), "0::/a/b\n", MEMINFO, 2).unwrap();
    assert_eq!(
        cap,
        HostCapacity {
            cpu_milli: 500,
            memory: 1 << 30
        }
    );
    // A path from inside a cgroup namespace that the mount does not show:
    // only the mount's own files count (none here).
    let cap = measure_with(Some(&layout), "0::/elsewhere\n", MEMINFO, 2).unwrap();
    assert_eq!(
        cap,
        HostCapacity {
            cpu_milli: 2000,
            memory: TOTAL
        }
    );
}

#[test]
fn this_host_measures_something() {
    let cap = measure().unwrap();
    assert!(cap.cpu_milli >= 1 && cap.memory > 0, "{cap:?}");
}
