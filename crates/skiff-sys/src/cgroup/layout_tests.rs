//! Layout discovery against mountinfo samples: this machine's v1 hybrid, a pure v2 host, a
//! Docker-era v1 host with co-mounted `cpu,cpuacct`, and a mixed layout.

use std::path::{Path, PathBuf};

use super::*;

/// /proc/self/mountinfo on these Debian 12 VMs (cgroup lines plus neighbours).
pub(crate) const HYBRID: &str = "\
22 1 253:0 / / rw,relatime - ext4 /dev/vda rw
23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// /proc/cgroups on these VMs.
pub(crate) const HYBRID_PROC_CGROUPS: &str = "\
#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t1\t1
cpu\t1\t1\t1
cpuacct\t2\t1\t1
blkio\t7\t1\t1
memory\t4\t24\t1
devices\t5\t1\t1
freezer\t6\t1\t1
net_cls\t0\t1\t1
perf_event\t0\t1\t1
net_prio\t0\t1\t1
hugetlb\t0\t1\t1
pids\t8\t1\t1
";

/// A typical systemd host with the unified hierarchy (Debian 12, Fedora, Ubuntu 22.04+).
pub(crate) const PURE_V2: &str = "\
24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

/// Docker-era v1 host: cpu and cpuacct co-mounted, net_cls/net_prio co-mounted.
const V1_COMOUNTED: &str = "\
28 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
29 28 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
30 28 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
33 28 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
34 28 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
35 28 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
36 28 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
37 28 0:33 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
38 28 0:34 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,devices
";

/// Writes the cgroup2 root's `cgroup.controllers` below `root` at `mount`.
pub(crate) fn write_controllers(root: &Path, mount: &str, list: &str) {
    let dir = root.join(mount.trim_start_matches('/'));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cgroup.controllers"), list).unwrap();
}

fn mount_of(l: &CgroupLayout, c: Controller) -> Option<(PathBuf, bool)> {
    l.hierarchy(c).map(|h| (h.mount.clone(), h.v2))
}

#[test]
fn hybrid_uses_one_v1_hierarchy_per_controller_and_skips_bare_unified() {
    let tmp = tempfile::tempdir().unwrap();
    write_controllers(tmp.path(), "/sys/fs/cgroup/unified", "hugetlb\n");
    let l = CgroupLayout::from_parts(HYBRID, Some(HYBRID_PROC_CGROUPS), tmp.path()).unwrap();
    assert!(!l.is_v2());
    for (c, dir) in [
        (Controller::Memory, "memory"),
        (Controller::Cpu, "cpu"),
        (Controller::Cpuacct, "cpuacct"),
        (Controller::Pids, "pids"),
        (Controller::Freezer, "freezer"),
        (Controller::Devices, "devices"),
    ] {
        let want = tmp.path().join("sys/fs/cgroup").join(dir);
        assert_eq!(mount_of(&l, c), Some((want, false)), "{c:?}");
    }
    assert_eq!(
        l.hierarchies.len(),
        6,
        "cpuset, blkio, systemd, unified unused"
    );
    assert!(l.v2_hierarchy().is_none());
}

#[test]
fn pure_v2_maps_everything_to_cgroup2() {
    let tmp = tempfile::tempdir().unwrap();
    write_controllers(
        tmp.path(),
        "/sys/fs/cgroup",
        "cpuset cpu io memory hugetlb pids rdma misc\n",
    );
    let l = CgroupLayout::from_mountinfo(PURE_V2, tmp.path()).unwrap();
    assert!(l.is_v2());
    assert_eq!(l.hierarchies.len(), 1);
    let root = tmp.path().join("sys/fs/cgroup");
    for c in [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Pids,
    ] {
        assert_eq!(mount_of(&l, c), Some((root.clone(), true)), "{c:?}");
    }
    assert_eq!(mount_of(&l, Controller::Freezer), Some((root, true)));
    assert_eq!(
        mount_of(&l, Controller::Devices),
        None,
        "v2 devices are eBPF, not files"
    );
}

#[test]
fn pure_v2_without_controller_file_still_usable() {
    let tmp = tempfile::tempdir().unwrap();
    let l = CgroupLayout::from_mountinfo(PURE_V2, tmp.path()).unwrap();
    assert!(l.is_v2());
    assert!(l.hierarchy(Controller::Memory).is_none());
    assert!(l.hierarchy(Controller::Freezer).is_some());
}

#[test]
fn comounted_cpu_cpuacct_is_one_hierarchy() {
    let tmp = tempfile::tempdir().unwrap();
    write_controllers(tmp.path(), "/sys/fs/cgroup/unified", "");
    let l = CgroupLayout::from_mountinfo(V1_COMOUNTED, tmp.path()).unwrap();
    let cpu = tmp.path().join("sys/fs/cgroup/cpu,cpuacct");
    assert_eq!(mount_of(&l, Controller::Cpu), Some((cpu.clone(), false)));
    assert_eq!(mount_of(&l, Controller::Cpuacct), Some((cpu, false)));
    assert_eq!(l.hierarchies.len(), 5);
}

#[test]
fn mixed_uses_v2_for_controllers_missing_from_v1() {
    let tmp = tempfile::tempdir().unwrap();
    write_controllers(tmp.path(), "/sys/fs/cgroup/unified", "pids\n");
    let mi: String = HYBRID
        .lines()
        .filter(|l| !l.contains(" rw,pids"))
        .map(|l| format!("{l}\n"))
        .collect();
    let l = CgroupLayout::from_mountinfo(&mi, tmp.path()).unwrap();
    let uni = tmp.path().join("sys/fs/cgroup/unified");
    assert_eq!(mount_of(&l, Controller::Pids), Some((uni, true)));
    assert!(
        !mount_of(&l, Controller::Freezer).unwrap().1,
        "v1 freezer still preferred"
    );
    assert!(!l.is_v2());
}

#[test]
fn disabled_controllers_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let pc = HYBRID_PROC_CGROUPS.replace("memory\t4\t24\t1", "memory\t4\t24\t0");
    let l = CgroupLayout::from_parts(HYBRID, Some(&pc), tmp.path()).unwrap();
    assert!(l.hierarchy(Controller::Memory).is_none());
}

#[test]
fn no_cgroup_mounts_is_an_error() {
    let mi = "22 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n";
    assert!(matches!(
        CgroupLayout::from_mountinfo(mi, Path::new("/nonexistent")),
        Err(CgroupError::NoHierarchy)
    ));
}

#[test]
fn malformed_mountinfo_is_a_parse_error() {
    let err = CgroupLayout::from_mountinfo("garbage line\n", Path::new("/x")).unwrap_err();
    assert!(matches!(err, CgroupError::Parse { .. }), "{err}");
}

#[test]
fn parses_escaped_mount_points_and_named_hierarchies() {
    let mi = "40 31 0:37 / /mnt/my\\040cg rw - cgroup cgroup rw,nosuid,xattr,name=systemd,memory\n";
    let m = parse_mountinfo(mi).unwrap();
    assert_eq!(m[0].mount_point, PathBuf::from("/mnt/my cg"));
    assert_eq!(m[0].controllers, vec!["memory".to_string()]);
}

#[test]
fn parses_proc_cgroups() {
    let rows = parse_proc_cgroups(HYBRID_PROC_CGROUPS);
    assert_eq!(rows.len(), 12);
    let hugetlb = rows.iter().find(|r| r.name == "hugetlb").unwrap();
    assert_eq!((hugetlb.hierarchy, hugetlb.enabled), (0, true));
}

#[test]
fn discover_on_this_host_finds_something() {
    let l = CgroupLayout::discover().unwrap();
    assert!(!l.hierarchies.is_empty());
}
