//! Docker's default seccomp profile as our own tables, equivalent to moby's
//! `profiles/seccomp/default.json` for x86_64 and aarch64: default ERRNO(EPERM), one allow list,
//! argument-conditional rules (personality, socket without AF_VSOCK, clone without namespace
//! flags, clone3 -> ENOSYS) and capability-gated groups.
//!
//! Differences from the moby file of early 2023 are the ones moby made since: the `io_uring_*`
//! calls are NOT allowed (moby v25 blocked them; they have been a steady source of kernel
//! exploits), and the newer harmless calls are allowed (cachestat, fchmodat2, futex_wake/wait/
//! requeue, map_shadow_stack, mseal, uretprobe). Names that do not exist on the native
//! architecture (the `*32`, `*_time64` and i386 calls) are skipped at compile time.
//!
//! Allowed only with a capability: unshare, mount, umount2, setns, bpf, open_by_handle_at,
//! reboot, init_module, chroot, kcmp, ... ; ptrace and process_vm_* need CAP_SYS_PTRACE on
//! kernels before 4.8 and are allowed from 4.8 on, as in moby.
//! Never allowed: keyctl, add_key, request_key, pivot_root, kexec_load, kexec_file_load,
//! userfaultfd, swapon, swapoff, io_uring_*, and every call not named here.

use super::{Action, ArgCond, CmpOp, RuleFilter, SeccompProfile, SyscallRule};
use crate::caps::CapSet;

const EPERM: u16 = libc::EPERM as u16;
const ENOSYS: u16 = libc::ENOSYS as u16;

/// CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP = 0x7E020000.
const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// Allowed unconditionally.
#[rustfmt::skip]
const ALLOW: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
    "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
    "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes",
    "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
];

/// (capability, syscalls allowed when the container holds it), as moby's groups.
const CAP_GATED: &[(&str, &[&str])] = &[
    ("DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("SYS_BOOT", &["reboot"]),
    ("SYS_CHROOT", &["chroot"]),
    (
        "SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("SYS_PACCT", &["acct"]),
    (
        "SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("SYS_TTY_CONFIG", &["vhangup"]),
    (
        "SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("SYSLOG", &["syslog"]),
    ("BPF", &["bpf"]),
    ("PERFMON", &["perf_event_open"]),
];

/// (arches, syscalls) allowed only on those architectures.
const ARCH_GATED: &[(&[&str], &[&str])] = &[
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| n.to_string()).collect()
}

fn cap(name: &str) -> u32 {
    // The names above are all known; a typo would show up as CAP 64 (never held) and fail the
    // unit tests, never as a panic in the daemon.
    CapSet::parse_name(name).unwrap_or(64)
}

fn rule(list: &[&str], action: Action, args: Vec<ArgCond>) -> SyscallRule {
    SyscallRule {
        names: names(list),
        action,
        args,
        includes: RuleFilter::default(),
        excludes: RuleFilter::default(),
    }
}

fn arg(index: u8, op: CmpOp, value: u64) -> ArgCond {
    ArgCond {
        index,
        value,
        value_two: 0,
        op,
    }
}

/// Builds the profile; see the module docs.
pub(super) fn profile() -> SeccompProfile {
    let mut rules = vec![rule(ALLOW, Action::Allow, vec![])];

    // Tracing another process was only safe from kernel 4.8 on (seccomp bypass via ptrace).
    let mut ptrace = rule(
        &["process_vm_readv", "process_vm_writev", "ptrace"],
        Action::Allow,
        vec![],
    );
    ptrace.includes.min_kernel = Some((4, 8));
    rules.push(ptrace);

    rules.push(rule(
        &["socket"],
        Action::Allow,
        vec![arg(0, CmpOp::Ne, libc::AF_VSOCK as u64)],
    ));
    for persona in [0x0, 0x0008, 0x20000, 0x20008, 0xffff_ffff] {
        rules.push(rule(
            &["personality"],
            Action::Allow,
            vec![arg(0, CmpOp::Eq, persona)],
        ));
    }
    for (arches, list) in ARCH_GATED {
        let mut r = rule(list, Action::Allow, vec![]);
        r.includes.arches = names(arches);
        rules.push(r);
    }
    for (cap_name, list) in CAP_GATED {
        let mut r = rule(list, Action::Allow, vec![]);
        r.includes.caps = vec![cap(cap_name)];
        rules.push(r);
    }

    // clone without any namespace flag, unless CAP_SYS_ADMIN allows clone outright.
    // (moby's s390 variant checks argument 1; s390 is not a target here.)
    let mut clone = rule(
        &["clone"],
        Action::Allow,
        vec![ArgCond {
            index: 0,
            value: CLONE_NAMESPACE_FLAGS,
            value_two: 0,
            op: CmpOp::MaskedEq,
        }],
    );
    clone.excludes.caps = vec![cap("SYS_ADMIN")];
    clone.excludes.arches = names(&["s390", "s390x"]);
    rules.push(clone);

    // clone3 passes its flags in memory, which seccomp cannot inspect: ENOSYS makes libc fall
    // back to clone, where the flags are checked.
    let mut clone3 = rule(&["clone3"], Action::Errno(ENOSYS), vec![]);
    clone3.excludes.caps = vec![cap("SYS_ADMIN")];
    rules.push(clone3);

    SeccompProfile {
        default_action: Action::Errno(EPERM),
        rules,
    }
}
