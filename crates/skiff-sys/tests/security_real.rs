//! Real (root) tests of the security modules: each test forks a child that applies capabilities
//! and/or the Docker default seccomp filter to itself and checks what the kernel then allows.
//! The child does only syscalls (no allocation, no printing) and reports through its exit code:
//! 0 = every check passed, n = check n failed. Everything the children create dies with them.

use std::ffi::CStr;
use std::os::fd::AsRawFd;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use skiff_sys::caps::{self, CapSet};
use skiff_sys::seccomp::{self, SeccompFilter, SeccompProfile};

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Forks; the child runs `body` and `_exit`s with its result. Returns the child's exit code.
fn in_child(body: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only makes syscalls (the closures below are written that way) and
    // leaves with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = body();
        // SAFETY: _exit is async-signal-safe and ends the child without running Rust cleanup.
        unsafe { libc::_exit(code) };
    }
    match waitpid(Pid::from_raw(pid), None).expect("waitpid") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("child did not exit normally: {other:?}"),
    }
}

fn errno() -> i32 {
    nix::errno::Errno::last_raw()
}

/// A raw syscall with up to six integer arguments.
fn sys(nr: libc::c_long, args: &[libc::c_long]) -> libc::c_long {
    let mut a = [0 as libc::c_long; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: callers pass integers, or pointers to static NUL-terminated strings as the
    // syscall expects; nothing is retained by the kernel.
    unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

/// A call that must fail with `want` errno.
fn fails_with(rc: libc::c_long, want: i32) -> bool {
    rc == -1 && errno() == want
}

fn default_filter(caps: CapSet) -> SeccompFilter {
    SeccompProfile::docker_default()
        .compile(caps)
        .expect("compile default profile")
}

fn install(filter: &SeccompFilter) -> bool {
    seccomp::set_no_new_privs().is_ok() && seccomp::install_in_child(filter).is_ok()
}

#[test]
fn default_filter_denies_and_allows() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let filter = default_filter(CapSet::docker_default());
    let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
    let wfd = write_end.as_raw_fd();
    let code = in_child(|| {
        if !install(&filter) {
            return 100;
        }
        let s = |p: &CStr| p.as_ptr() as libc::c_long;
        let checks = [
            // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
            (
                1,
                fails_with(sys(libc::SYS_keyctl, &[0, -3, 0]), libc::EPERM),
            ),
            (
                2,
                fails_with(
                    sys(libc::SYS_unshare, &[libc::CLONE_NEWUSER.into()]),
                    libc::EPERM,
                ),
            ),
            (
                3,
                fails_with(
                    sys(
                        libc::SYS_mount,
                        &[s(c"none"), s(c"/tmp"), s(c"tmpfs"), 0, 0],
                    ),
                    libc::EPERM,
                ),
            ),
            (4, sys(libc::SYS_getpid, &[]) > 0),
            (5, sys(libc::SYS_write, &[wfd.into(), s(c"x"), 1]) == 1),
            (6, {
                let fd = sys(
                    libc::SYS_openat,
                    &[
                        libc::AT_FDCWD.into(),
                        s(c"/proc/self/status"),
                        libc::O_RDONLY.into(),
                    ],
                );
                fd >= 0 && sys(libc::SYS_close, &[fd]) == 0
            }),
            (7, {
                let fd = sys(
                    libc::SYS_socket,
                    &[libc::AF_INET.into(), libc::SOCK_STREAM.into(), 0],
                );
                fd >= 0 && sys(libc::SYS_close, &[fd]) == 0
            }),
            (8, fails_with(sys(libc::SYS_clone3, &[0, 0]), libc::ENOSYS)),
            (
                9,
                fails_with(
                    sys(
                        libc::SYS_socket,
                        &[libc::AF_VSOCK.into(), libc::SOCK_STREAM.into(), 0],
                    ),
                    libc::EPERM,
                ),
            ),
            (
                10,
                fails_with(
                    sys(libc::SYS_setns, &[0, libc::CLONE_NEWNET.into()]),
                    libc::EPERM,
                ),
            ),
        ];
        checks.iter().find(|(_, ok)| !ok).map_or(0, |(n, _)| *n)
    });
    drop(write_end);
    assert_eq!(code, 0, "check {code} failed in the filtered child");
    let mut byte = [0u8; 1];
    assert_eq!(
        nix::unistd::read(read_end.as_raw_fd(), &mut byte).expect("read"),
        1
    );
    assert_eq!(&byte, b"x");
}

/// Reads `/proc/self/status` with raw syscalls and returns the hex value of `field` ("CapEff").
fn status_hex(field: &CStr) -> Option<u64> {
    let mut buf = [0u8; 8192];
    // SAFETY: static path, a local buffer of the given length.
    let n = unsafe {
        let fd = libc::open(c"/proc/self/status".as_ptr(), libc::O_RDONLY);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let text = buf.get(..usize::try_from(n).ok()?)?;
    let key = field.to_bytes();
    let line = text.split(|b| *b == b'\n').find(|l| l.starts_with(key))?;
    let value = line.get(key.len() + 1..)?;
    value
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .try_fold(0u64, |acc, b| {
            Some((acc << 4) | u64::from((*b as char).to_digit(16)?))
        })
}

#[test]
fn docker_default_caps_in_child() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let set = CapSet::docker_default();
    let want: u64 = 0xa804_05fb;
    assert_eq!(set.bits(), want, "expected mask of the 13 default caps");
    let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
    let wfd = write_end.as_raw_fd();
    let code = in_child(|| {
        if caps::apply_in_child(set).is_err() {
            return 100;
        }
        let eff = status_hex(c"CapEff:").unwrap_or(u64::MAX);
        // SAFETY: writes 8 bytes from a local to the pipe.
        unsafe { libc::write(wfd, eff.to_ne_bytes().as_ptr().cast(), 8) };
        let checks = [
            (1, eff == want),
            (2, status_hex(c"CapPrm:") == Some(want)),
            (3, status_hex(c"CapBnd:") == Some(want)),
            (4, status_hex(c"CapInh:") == Some(0)),
            (5, status_hex(c"CapAmb:") == Some(0)),
            (
                6,
                fails_with(
                    sys(
                        libc::SYS_socket,
                        &[
                            libc::AF_INET.into(),
                            libc::SOCK_RAW.into(),
                            libc::IPPROTO_ICMP.into(),
                        ],
                    ),
                    libc::EPERM,
                ),
            ),
            // CAP_SYS_ADMIN is gone: sethostname needs it (so nothing is ever changed).
            (
                7,
                fails_with(
                    sys(libc::SYS_sethostname, &[c"x".as_ptr() as libc::c_long, 1]),
                    libc::EPERM,
                ),
            ),
        ];
        checks.iter().find(|(_, ok)| !ok).map_or(0, |(n, _)| *n)
    });
    drop(write_end);
    let mut bytes = [0u8; 8];
    let n = nix::unistd::read(read_end.as_raw_fd(), &mut bytes).expect("read");
    let eff = u64::from_ne_bytes(bytes);
    println!("CapEff in child after apply_in_child(docker_default): {eff:#018x} ({n} bytes)");
    assert_eq!(
        code, 0,
        "check {code} failed in the capability child (CapEff {eff:#x})"
    );
    assert_eq!(eff, want);
}

/// Forks, applies caps + no_new_privs + the default filter, execs `argv`; returns the exit code.
fn exec_under_policy(argv: &[&CStr]) -> i32 {
    let filter = default_filter(CapSet::docker_default());
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    in_child(|| {
        if caps::apply_in_child(CapSet::docker_default()).is_err() {
            return 100;
        }
        if !install(&filter) {
            return 101;
        }
        // SAFETY: ptrs is a NULL-terminated array of pointers to NUL-terminated strings that
        // live until execv replaces the process image.
        unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
        102
    })
}

#[test]
fn busybox_runs_under_the_default_policy() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    if !std::path::Path::new("/bin/busybox").exists() {
        println!("skipped: /bin/busybox missing");
        return;
    }
    assert_eq!(exec_under_policy(&[c"/bin/busybox", c"true"]), 0);
    // A shell that forks (clone without namespace flags), execs and waits.
    let code = exec_under_policy(&[
        c"/bin/busybox",
        c"sh",
        c"-c",
        c"/bin/busybox true && /bin/busybox grep -q 'CapEff:.*a80405fb' /proc/self/status && exit 7",
    ]);
    assert_eq!(code, 7, "busybox sh under the default policy");
    // unshare(1) must be refused under the filter.
    let code = exec_under_policy(&[c"/bin/busybox", c"unshare", c"-n", c"/bin/busybox", c"true"]);
    assert_ne!(
        code, 0,
        "busybox unshare -n must fail under the default policy"
    );
}
