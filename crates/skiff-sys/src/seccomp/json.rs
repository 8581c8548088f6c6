//! Docker/OCI seccomp JSON -> [`SeccompProfile`].
//!
//! Accepts Docker's profile format (`defaultAction`, `defaultErrnoRet`, `architectures` or
//! `archMap`, `flags`, `syscalls[{name|names, action, errnoRet, args[{index, value, valueTwo,
//! op}], includes/excludes{caps, arches, minKernel}}]`) and the OCI `linux.seccomp` object,
//! which is its subset. Unknown fields are ignored, as Go's decoder does. Syntax and type errors
//! report serde_json's line and column; semantic errors report the path of the value
//! (`syscalls[3].args[0].op`). Architecture lists are accepted but only the native architecture
//! is compiled; `flags` are validated and otherwise ignored (none widens what is allowed).

use serde::Deserialize;

use super::{Action, ArgCond, CmpOp, RuleFilter, SeccompError, SeccompProfile, SyscallRule};
use crate::caps::CapSet;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    #[serde(default)]
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    listener_path: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<RawSyscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    name: Option<String>,
    names: Option<Vec<String>>,
    #[serde(default)]
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<RawArg>>,
    includes: Option<RawFilter>,
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u32,
    #[serde(default)]
    value: u64,
    #[serde(default)]
    value_two: u64,
    #[serde(default)]
    op: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

const FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

fn invalid(at: impl Into<String>, message: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        at: at.into(),
        message: message.into(),
    }
}

pub(super) fn parse(text: &str) -> Result<SeccompProfile, SeccompError> {
    let raw: RawProfile = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        SeccompError::Json {
            line: e.line(),
            column: e.column(),
            message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
        }
    })?;
    if raw.default_action.is_empty() {
        return Err(invalid("defaultAction", "is required"));
    }
    if raw.architectures.as_ref().is_some_and(|a| !a.is_empty())
        && raw.arch_map.as_ref().is_some_and(|a| !a.is_empty())
    {
        return Err(invalid(
            "architectures",
            "both 'architectures' and 'archMap' given; use one",
        ));
    }
    if raw.listener_path.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(invalid(
            "listenerPath",
            "seccomp user notification is not supported",
        ));
    }
    for (i, flag) in raw.flags.iter().flatten().enumerate() {
        if !FLAGS.contains(&flag.as_str()) {
            return Err(invalid(
                format!("flags[{i}]"),
                format!("unknown flag {flag:?}"),
            ));
        }
    }
    let default_action = parse_action(&raw.default_action, raw.default_errno_ret, "defaultAction")?;
    let mut rules = Vec::new();
    for (i, call) in raw.syscalls.into_iter().flatten().enumerate() {
        let at = format!("syscalls[{i}]");
        let names = match (call.name, call.names) {
            (Some(_), Some(names)) if !names.is_empty() => {
                return Err(invalid(&at, "both 'name' and 'names' given; use one"))
            }
            (Some(name), _) => vec![name],
            (None, Some(names)) => names,
            (None, None) => Vec::new(),
        };
        let action = parse_action(&call.action, call.errno_ret, &format!("{at}.action"))?;
        let mut args = Vec::new();
        for (j, a) in call.args.into_iter().flatten().enumerate() {
            let at = format!("{at}.args[{j}]");
            let index = u8::try_from(a.index)
                .ok()
                .filter(|i| *i <= 5)
                .ok_or_else(|| {
                    invalid(format!("{at}.index"), format!("{} is not 0..=5", a.index))
                })?;
            let op = parse_op(&a.op).ok_or_else(|| {
                invalid(format!("{at}.op"), format!("unknown operator {:?}", a.op))
            })?;
            args.push(ArgCond {
                index,
                value: a.value,
                value_two: a.value_two,
                op,
            });
        }
        rules.push(SyscallRule {
            names,
            action,
            args,
            includes: parse_filter(call.includes, &format!("{at}.includes"))?,
            excludes: parse_filter(call.excludes, &format!("{at}.excludes"))?,
        });
    }
    Ok(SeccompProfile {
        default_action,
        rules,
    })
}

fn parse_action(name: &str, errno_ret: Option<u32>, at: &str) -> Result<Action, SeccompError> {
    let data = |what: &str| -> Result<u16, SeccompError> {
        match errno_ret {
            None => Ok(libc::EPERM as u16),
            Some(n) => u16::try_from(n)
                .map_err(|_| invalid(at, format!("{what} {n} does not fit in 16 bits"))),
        }
    };
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(data("errnoRet")?),
        "SCMP_ACT_TRACE" => Action::Trace(data("errnoRet")?),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(invalid(
                at,
                "SCMP_ACT_NOTIFY (user notification) is not supported",
            ))
        }
        other => return Err(invalid(at, format!("unknown action {other:?}"))),
    })
}

fn parse_op(name: &str) -> Option<CmpOp> {
    Some(match name {
        "SCMP_CMP_NE" => CmpOp::Ne,
        "SCMP_CMP_LT" => CmpOp::Lt,
        "SCMP_CMP_LE" => CmpOp::Le,
        "SCMP_CMP_EQ" => CmpOp::Eq,
        "SCMP_CMP_GE" => CmpOp::Ge,
        "SCMP_CMP_GT" => CmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
        _ => return None,
    })
}

fn parse_filter(raw: Option<RawFilter>, at: &str) -> Result<RuleFilter, SeccompError> {
    let Some(raw) = raw else {
        return Ok(RuleFilter::default());
    };
    let mut caps = Vec::new();
    for (i, name) in raw.caps.into_iter().flatten().enumerate() {
        caps.push(
            CapSet::parse_name(&name)
                .map_err(|e| invalid(format!("{at}.caps[{i}]"), e.to_string()))?,
        );
    }
    let min_kernel = match raw.min_kernel.filter(|k| !k.is_empty()) {
        None => None,
        Some(text) => Some(super::parse_kernel_version(&text).ok_or_else(|| {
            invalid(
                format!("{at}.minKernel"),
                format!("bad kernel version {text:?}"),
            )
        })?),
    };
    Ok(RuleFilter {
        caps,
        arches: raw.arches.unwrap_or_default(),
        min_kernel,
    })
}
