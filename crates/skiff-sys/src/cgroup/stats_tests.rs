//! Parsers against real file contents from this machine (v1) and typical v2 hosts.

use super::*;

/// v1 `memory.oom_control` of a fresh group on these VMs.
const V1_OOM_CONTROL: &str = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";

/// v1 `memory.stat` (abridged, order kept) of a group with a process in it.
const V1_MEMORY_STAT: &str = "\
cache 1081344
rss 229376
rss_huge 0
shmem 0
mapped_file 0
inactive_anon 229376
active_anon 0
inactive_file 1048576
active_file 32768
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 1081344
total_rss 229376
total_inactive_anon 229376
total_active_anon 0
total_inactive_file 1048576
total_active_file 32768
total_unevictable 0
";

/// v2 `memory.stat` (abridged) from a Fedora host.
const V2_MEMORY_STAT: &str = "\
anon 4419584
file 9175040
kernel 1159168
kernel_stack 114688
shmem 0
file_mapped 5013504
active_anon 4407296
inactive_anon 0
active_file 2707456
inactive_file 6467584
unevictable 0
";

/// v2 `cpu.stat` from a host with the cpu controller enabled.
const V2_CPU_STAT: &str = "\
usage_usec 1234567
user_usec 1000000
system_usec 234567
nr_periods 10
nr_throttled 2
throttled_usec 5000
nr_bursts 0
burst_usec 0
";

/// v2 `memory.events` after two OOM kills.
const V2_MEMORY_EVENTS: &str = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\noom_group_kill 0\n";

#[test]
fn reads_oom_kill_from_v1_oom_control_and_v2_events() {
    assert_eq!(keyed_value(V1_OOM_CONTROL, "oom_kill"), Some(2));
    assert_eq!(keyed_value(V1_OOM_CONTROL, "oom_kill_disable"), Some(0));
    assert_eq!(keyed_value(V2_MEMORY_EVENTS, "oom_kill"), Some(2));
    assert_eq!(keyed_value(V2_MEMORY_EVENTS, "oom"), Some(2));
    assert_eq!(keyed_value(V2_MEMORY_EVENTS, "missing"), None);
}

#[test]
fn keyed_value_needs_exact_key() {
    // "oom" must not match "oom_kill", nor "frozen" "frozen_x".
    assert_eq!(keyed_value("oom_kill 5\n", "oom"), None);
    assert_eq!(keyed_value("populated 1\nfrozen 1\n", "frozen"), Some(1));
}

#[test]
fn working_set_subtracts_inactive_file() {
    assert_eq!(
        working_set(1_310_720, V1_MEMORY_STAT, "total_inactive_file"),
        262_144
    );
    assert_eq!(
        working_set(14_000_000, V2_MEMORY_STAT, "inactive_file"),
        14_000_000 - 6_467_584
    );
    assert_eq!(
        working_set(10, V2_MEMORY_STAT, "inactive_file"),
        0,
        "never negative"
    );
    assert_eq!(working_set(10, "", "inactive_file"), 10);
}

#[test]
fn v1_unlimited_is_none() {
    assert_eq!(v1_limit(9_223_372_036_854_771_712), None);
    assert_eq!(v1_limit(64 << 20), Some(64 << 20));
}

#[test]
fn v2_cpu_usage_is_nanoseconds() {
    assert_eq!(v2_cpu_usage_ns(V2_CPU_STAT), Some(1_234_567_000));
    assert_eq!(v2_cpu_usage_ns("user_usec 1\n"), None);
}
