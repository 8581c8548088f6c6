//! Unit tests: the compiled BPF is run through a small classic-BPF interpreter, so the
//! semantics are checked without root and without installing anything.

use super::*;

/// Runs a seccomp program on (arch, nr, args); returns the kernel's return value.
fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_ne_bytes());
    data[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let insn = prog[pc];
        pc += 1;
        match insn.code {
            0x20 => {
                let k = insn.k as usize;
                acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
            }
            0x54 => acc &= insn.k,
            0x06 => return insn.k,
            0x05 => pc += insn.k as usize,
            0x15 | 0x25 | 0x35 => {
                let taken = match insn.code {
                    0x15 => acc == insn.k,
                    0x25 => acc > insn.k,
                    _ => acc >= insn.k,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            other => panic!("unexpected opcode {other:#x} at {}", pc - 1),
        }
    }
}

const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
const ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

fn nr(name: &str) -> u32 {
    syscall_number(name).unwrap_or_else(|| panic!("no syscall {name}"))
}

fn check(filter: &SeccompFilter, name: &str, args: [u64; 6]) -> u32 {
    run(filter.instructions(), table::AUDIT_ARCH, nr(name), args)
}

fn z() -> [u64; 6] {
    [0; 6]
}

fn a0(v: u64) -> [u64; 6] {
    [v, 0, 0, 0, 0, 0]
}

#[test]
fn syscall_table_matches_libc() {
    assert_eq!(nr("read"), libc::SYS_read as u32);
    assert_eq!(nr("keyctl"), libc::SYS_keyctl as u32);
    assert_eq!(nr("clone3"), libc::SYS_clone3 as u32);
    assert_eq!(nr("openat2"), libc::SYS_openat2 as u32);
    assert_eq!(nr("newfstatat"), libc::SYS_newfstatat as u32);
    assert_eq!(nr("fchmodat2"), 452);
    assert_eq!(nr("futex_wake"), 454);
    assert!(syscall_number("chown32").is_none());
    assert!(table::SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn default_profile_denies_dangerous_calls() {
    let f = SeccompProfile::docker_default()
        .compile_for(CapSet::docker_default(), (6, 1))
        .unwrap();
    for name in [
        "keyctl",
        "add_key",
        "request_key",
        "unshare",
        "mount",
        "umount2",
        "pivot_root",
        "setns",
        "bpf",
        "open_by_handle_at",
        "kexec_load",
        "reboot",
        "init_module",
        "finit_module",
        "userfaultfd",
        "io_uring_setup",
        "perf_event_open",
        "acct",
        "swapon",
        "iopl",
        "settimeofday",
    ] {
        if syscall_number(name).is_some() {
            assert_eq!(check(&f, name, z()), EPERM, "{name} must be denied");
        }
    }
    for name in [
        "read",
        "write",
        "openat",
        "getpid",
        "execve",
        "exit_group",
        "futex",
        "ptrace",
    ] {
        assert_eq!(check(&f, name, z()), ALLOW, "{name} must be allowed");
    }
    // SYS_CHROOT is the one gated cap in Docker's default set: chroot follows the cap.
    assert_eq!(check(&f, "chroot", z()), ALLOW);
    let none = SeccompProfile::docker_default()
        .compile_for(CapSet::empty(), (6, 1))
        .unwrap();
    assert_eq!(check(&none, "chroot", z()), EPERM);
}

#[test]
fn default_profile_argument_rules() {
    let f = SeccompProfile::docker_default()
        .compile_for(CapSet::docker_default(), (6, 1))
        .unwrap();
    assert_eq!(check(&f, "socket", a0(libc::AF_INET as u64)), ALLOW);
    assert_eq!(check(&f, "socket", a0(libc::AF_VSOCK as u64)), EPERM);
    assert_eq!(
        check(&f, "socket", a0((1 << 32) | libc::AF_VSOCK as u64)),
        ALLOW
    );
    for p in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(check(&f, "personality", a0(p)), ALLOW, "personality {p:#x}");
    }
    assert_eq!(check(&f, "personality", a0(0x0040_0000)), EPERM);
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(
        check(&f, "clone", a0(sigchld | libc::CLONE_VM as u64)),
        ALLOW
    );
    assert_eq!(
        check(&f, "clone", a0(sigchld | libc::CLONE_NEWUSER as u64)),
        EPERM
    );
    assert_eq!(check(&f, "clone", a0(libc::CLONE_NEWNET as u64)), EPERM);
    assert_eq!(check(&f, "clone3", z()), ENOSYS);
}

#[test]
fn sys_admin_opens_the_gated_group() {
    let caps = CapSet::docker_default()
        .apply_changes(&["SYS_ADMIN".to_string()], &[])
        .unwrap();
    let f = SeccompProfile::docker_default()
        .compile_for(caps, (6, 1))
        .unwrap();
    for name in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "clone3",
        "bpf",
        "sethostname",
    ] {
        assert_eq!(check(&f, name, z()), ALLOW, "{name}");
    }
    assert_eq!(check(&f, "clone", a0(libc::CLONE_NEWUSER as u64)), ALLOW);
    assert_eq!(check(&f, "keyctl", z()), EPERM);
    assert_eq!(check(&f, "pivot_root", z()), EPERM);
}

#[test]
fn ptrace_needs_kernel_4_8_or_the_cap() {
    let profile = SeccompProfile::docker_default();
    let old = profile
        .compile_for(CapSet::docker_default(), (4, 4))
        .unwrap();
    assert_eq!(check(&old, "ptrace", z()), EPERM);
    let caps = CapSet::docker_default()
        .apply_changes(&["SYS_PTRACE".to_string()], &[])
        .unwrap();
    let old_cap = profile.compile_for(caps, (4, 4)).unwrap();
    assert_eq!(check(&old_cap, "ptrace", z()), ALLOW);
    assert_eq!(check(&old_cap, "kcmp", z()), ALLOW);
}

#[test]
fn foreign_arch_is_killed_and_x32_gets_enosys() {
    let f = SeccompProfile::docker_default()
        .compile_for(CapSet::docker_default(), (6, 1))
        .unwrap();
    assert_eq!(run(f.instructions(), 0x4000_0003, 1, z()), 0x8000_0000);
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            run(f.instructions(), table::AUDIT_ARCH, 0x4000_0001, z()),
            ENOSYS
        );
    }
}

fn reference(op: CmpOp, arg: u64, value: u64, value_two: u64) -> bool {
    match op {
        CmpOp::Ne => arg != value,
        CmpOp::Lt => arg < value,
        CmpOp::Le => arg <= value,
        CmpOp::Eq => arg == value,
        CmpOp::Ge => arg >= value,
        CmpOp::Gt => arg > value,
        CmpOp::MaskedEq => arg & value == value_two,
    }
}

#[test]
fn comparisons_are_64_bit_like_libseccomp() {
    let interesting = [
        0u64,
        1,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        0xffff_ffff_ffff_ffff,
        0x7e02_0000,
        0x2_7e02_0000,
        0xffff_ffff_0000_0000,
    ];
    let ops = [
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Eq,
        CmpOp::Ge,
        CmpOp::Gt,
        CmpOp::MaskedEq,
    ];
    for op in ops {
        for value in interesting {
            let profile = SeccompProfile {
                default_action: Action::Errno(1),
                rules: vec![SyscallRule {
                    names: vec!["read".into()],
                    action: Action::Allow,
                    args: vec![ArgCond {
                        index: 2,
                        value,
                        value_two: value & 0xffff_0000_ffff,
                        op,
                    }],
                    includes: RuleFilter::default(),
                    excludes: RuleFilter::default(),
                }],
            };
            let f = profile.compile_for(CapSet::empty(), (6, 1)).unwrap();
            for arg in interesting
                .iter()
                .flat_map(|v| [*v, v.wrapping_add(1), v.wrapping_sub(1)])
            {
                let want = reference(op, arg, value, value & 0xffff_0000_ffff);
                let got = check(&f, "read", [0, 0, arg, 0, 0, 0]) == ALLOW;
                assert_eq!(got, want, "{op:?} arg={arg:#x} value={value:#x}");
            }
        }
    }
}

#[test]
fn conditional_rules_come_before_unconditional_and_repeated_index_is_ored() {
    let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["write"],"action":"SCMP_ACT_ALLOW"},
        {"names":["write"],"action":"SCMP_ACT_ERRNO","errnoRet":5,
         "args":[{"index":0,"value":7,"op":"SCMP_CMP_EQ"}]},
        {"names":["read"],"action":"SCMP_ACT_ALLOW","args":[
         {"index":0,"value":3,"op":"SCMP_CMP_EQ"},{"index":0,"value":4,"op":"SCMP_CMP_EQ"}]},
        {"names":["no_such_call","getpid"],"action":"SCMP_ACT_TRAP"}]}"#;
    let f = SeccompProfile::from_docker_json(text)
        .unwrap()
        .compile(CapSet::empty())
        .unwrap();
    assert_eq!(check(&f, "write", a0(1)), ALLOW);
    assert_eq!(check(&f, "write", a0(7)), 0x0005_0005);
    assert_eq!(check(&f, "read", a0(3)), ALLOW);
    assert_eq!(check(&f, "read", a0(4)), ALLOW);
    assert_eq!(check(&f, "read", a0(5)), EPERM);
    assert_eq!(check(&f, "getpid", z()), 0x0003_0000);
}

#[test]
fn json_syntax_errors_carry_line_and_column() {
    let err = SeccompProfile::from_docker_json("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [ { \"names\": [\"read\"] \"action\": 1 } ]\n}")
        .unwrap_err();
    match &err {
        SeccompError::Json { line, column, .. } => assert_eq!((*line, *column), (3, 37), "{err}"),
        other => panic!("want Json error, got {other:?}"),
    }
    let err = SeccompProfile::from_docker_json(r#"{"defaultAction": 3}"#).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    assert_eq!(err.to_string().matches("line").count(), 1, "{err}");
}

#[test]
fn json_semantic_errors_carry_the_path() {
    let cases = [
        (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "defaultAction"),
        (r#"{"syscalls":[]}"#, "defaultAction"),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["x"],"action":"SCMP_ACT_BOGUS"}]}"#,
            "syscalls[1].action",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_WAT"}]}]}"#,
            "syscalls[0].args[0].op",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "syscalls[0].args[0].index",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_WIZARD"]}}]}"#,
            "syscalls[0].includes.caps[0]",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "syscalls[0].action",
        ),
    ];
    for (text, at_want) in cases {
        match SeccompProfile::from_docker_json(text) {
            Err(SeccompError::Invalid { at, .. }) => assert_eq!(at, at_want, "{text}"),
            other => panic!("{text}: want Invalid at {at_want}, got {other:?}"),
        }
    }
}

#[test]
fn moby_json_shape_parses_like_the_builtin() {
    let text = r#"{
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
          {"names": ["read", "write", "clone3"], "action": "SCMP_ACT_ALLOW",
           "includes": {"caps": ["CAP_SYS_ADMIN"]}},
          {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
           "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
          {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
           "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
          {"name": "ptrace", "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"},
           "comment": "ignored"}
        ]}"#;
    let p = SeccompProfile::from_docker_json(text).unwrap();
    assert_eq!(p.default_action, Action::Errno(1));
    assert_eq!(p.rules[1].args[0].value, 0x7e02_0000);
    assert_eq!(p.rules[3].includes.min_kernel, Some((4, 8)));
    let f = p.compile_for(CapSet::docker_default(), (6, 1)).unwrap();
    assert_eq!(check(&f, "read", z()), EPERM);
    assert_eq!(check(&f, "clone3", z()), ENOSYS);
    assert_eq!(check(&f, "clone", a0(libc::SIGCHLD as u64)), ALLOW);
    assert_eq!(check(&f, "ptrace", z()), ALLOW);
}

#[test]
fn compile_time_of_default_profile() {
    let profile = SeccompProfile::docker_default();
    let caps = CapSet::docker_default();
    let _warm = profile.compile(caps).unwrap();
    let rounds = 200;
    let start = std::time::Instant::now();
    let mut len = 0;
    for _ in 0..rounds {
        len = profile.compile(caps).unwrap().len();
    }
    let per = start.elapsed() / rounds;
    // Reported, not asserted (timing belongs in benchmarks).
    eprintln!("compile(docker_default): {per:?} per call, {len} instructions");
    assert!(len < 4096);
}

#[test]
fn kernel_version_parsing() {
    assert_eq!(parse_kernel_version("6.18.44-fc-v782"), Some((6, 18)));
    assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
    assert_eq!(parse_kernel_version("5"), Some((5, 0)));
    assert_eq!(parse_kernel_version("x"), None);
    assert!(kernel_version().0 >= 3);
}
