//! Profile -> classic BPF for `SECCOMP_SET_MODE_FILTER`. Pure.
//!
//! Program layout:
//! ```text
//!   ld arch; jeq NATIVE ? +1 : 0; ret KILL_PROCESS
//!   ld nr;  (x86_64) jge 0x40000000 ? ret ERRNO(ENOSYS)     x32 ABI
//!   binary search (jge + ja) over maximal runs of syscall numbers with the same outcome
//!     leaf: ret <action>  |  ja <rule block of one syscall>
//!   blocks: per syscall, each conditional rule (conditions ANDed, fail -> next rule) then
//!           its unconditional action or the default
//! ```
//! Conditional jumps only ever go a few instructions forward; long distances use `ja` (32-bit),
//! so the 255-instruction reach of `jt`/`jf` never limits the profile size.

use super::{table, Action, ArgCond, CmpOp, SeccompError, SeccompProfile};
use crate::caps::CapSet;

/// BPF_LD | BPF_W | BPF_ABS.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = BPF_JMP;
const BPF_JEQ: u16 = BPF_JMP | 0x10;
const BPF_JGT: u16 = BPF_JMP | 0x20;
const BPF_JGE: u16 = BPF_JMP | 0x30;
const BPF_RET_K: u16 = 0x06;
/// The kernel's BPF_MAXINSNS.
const MAX_INSNS: usize = 4096;

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn action_value(action: Action) -> u32 {
    match action {
        Action::KillProcess => 0x8000_0000,
        Action::KillThread => 0,
        Action::Trap => 0x0003_0000,
        Action::Errno(e) => 0x0005_0000 | u32::from(e),
        Action::Trace(d) => 0x7ff0_0000 | u32::from(d),
        Action::Log => 0x7ffc_0000,
        Action::Allow => 0x7fff_0000,
    }
}

#[derive(Clone, Copy)]
enum Target {
    Next,
    Label(usize),
}

enum Op {
    Stmt(u16, u32),
    Jump(u16, u32, Target, Target),
    Ja(usize),
    Bind(usize),
}

#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn bind(&mut self, label: usize) {
        self.ops.push(Op::Bind(label));
    }
    fn load(&mut self, offset: u32) {
        self.ops.push(Op::Stmt(BPF_LD_W_ABS, offset));
    }
    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.ops.push(Op::Jump(code, k, jt, jf));
    }
    fn ja(&mut self, label: usize) {
        self.ops.push(Op::Ja(label));
    }
    fn ret(&mut self, action: Action) {
        self.ops.push(Op::Stmt(BPF_RET_K, action_value(action)));
    }

    fn finish(self) -> Result<Vec<libc::sock_filter>, SeccompError> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pos = 0;
        for op in &self.ops {
            match op {
                Op::Bind(l) => at[*l] = pos,
                _ => pos += 1,
            }
        }
        if pos > MAX_INSNS {
            return Err(SeccompError::TooLarge {
                message: format!("{pos} instructions, the kernel allows {MAX_INSNS}"),
            });
        }
        let too_far = |what: &str| SeccompError::TooLarge {
            message: format!("{what} jump out of range"),
        };
        let mut out = Vec::with_capacity(pos);
        for op in self.ops {
            let here = out.len() + 1;
            let offset = |t: Target| -> Result<u8, SeccompError> {
                match t {
                    Target::Next => Ok(0),
                    Target::Label(l) => at[l]
                        .checked_sub(here)
                        .and_then(|d| u8::try_from(d).ok())
                        .ok_or_else(|| too_far("conditional")),
                }
            };
            let insn = match op {
                Op::Bind(_) => continue,
                Op::Stmt(code, k) => (code, 0, 0, k),
                Op::Jump(code, k, jt, jf) => (code, offset(jt)?, offset(jf)?, k),
                Op::Ja(l) => {
                    let d = at[l].checked_sub(here).ok_or_else(|| too_far("ja"))?;
                    (BPF_JA, 0, 0, u32::try_from(d).map_err(|_| too_far("ja"))?)
                }
            };
            out.push(libc::sock_filter {
                code: insn.0,
                jt: insn.1,
                jf: insn.2,
                k: insn.3,
            });
        }
        Ok(out)
    }
}

/// Per syscall: conditional rules in profile order, then the first unconditional action.
#[derive(Default)]
struct Entry {
    used: bool,
    conditional: Vec<(Vec<ArgCond>, Action)>,
    unconditional: Option<Action>,
}

/// Offsets of the (low, high) 32-bit halves of argument `index`.
fn arg_offsets(index: u8) -> (u32, u32) {
    let base = OFFSET_ARGS + 8 * u32::from(index);
    if cfg!(target_endian = "little") {
        (base, base + 4)
    } else {
        (base + 4, base)
    }
}

/// Emits one condition: falls through when it holds, jumps to `fail` otherwise.
fn emit_cond(asm: &mut Asm, c: &ArgCond, fail: usize) {
    let (lo_off, hi_off) = arg_offsets(c.index);
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let fail = Target::Label(fail);
    let next = Target::Next;
    let ok = asm.label();
    let okt = Target::Label(ok);
    match c.op {
        CmpOp::Eq => {
            asm.load(hi_off);
            asm.jump(BPF_JEQ, hi, next, fail);
            asm.load(lo_off);
            asm.jump(BPF_JEQ, lo, next, fail);
        }
        CmpOp::Ne => {
            asm.load(hi_off);
            asm.jump(BPF_JEQ, hi, next, okt);
            asm.load(lo_off);
            asm.jump(BPF_JEQ, lo, fail, next);
        }
        CmpOp::MaskedEq => {
            // libseccomp: (arg & value) == value_two.
            let (dhi, dlo) = ((c.value_two >> 32) as u32, c.value_two as u32);
            asm.load(hi_off);
            asm.ops.push(Op::Stmt(BPF_ALU_AND_K, hi));
            asm.jump(BPF_JEQ, dhi, next, fail);
            asm.load(lo_off);
            asm.ops.push(Op::Stmt(BPF_ALU_AND_K, lo));
            asm.jump(BPF_JEQ, dlo, next, fail);
        }
        CmpOp::Gt | CmpOp::Ge => {
            asm.load(hi_off);
            asm.jump(BPF_JGT, hi, okt, next);
            asm.jump(BPF_JEQ, hi, next, fail);
            asm.load(lo_off);
            let code = if c.op == CmpOp::Gt { BPF_JGT } else { BPF_JGE };
            asm.jump(code, lo, okt, fail);
        }
        CmpOp::Lt | CmpOp::Le => {
            asm.load(hi_off);
            asm.jump(BPF_JGE, hi, next, okt);
            asm.jump(BPF_JEQ, hi, next, fail);
            asm.load(lo_off);
            let code = if c.op == CmpOp::Lt { BPF_JGE } else { BPF_JGT };
            asm.jump(code, lo, fail, okt);
        }
    }
    asm.bind(ok);
}

/// Where a range of syscall numbers goes: straight to a `ret`, or to a syscall's rule block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dest {
    Ret(Action),
    Block(usize),
}

/// Binary search over segments `(first nr, dest)` that cover all numbers from the first
/// segment's start; A holds the syscall number.
fn emit_dispatch(asm: &mut Asm, segments: &[(u32, Dest)]) {
    if let [(_, dest)] = segments {
        match *dest {
            Dest::Ret(action) => asm.ret(action),
            Dest::Block(label) => asm.ja(label),
        }
        return;
    }
    let mid = segments.len() / 2;
    let (left, right) = (asm.label(), asm.label());
    asm.jump(BPF_JGE, segments[mid].0, Target::Next, Target::Label(left));
    asm.ja(right);
    asm.bind(left);
    emit_dispatch(asm, &segments[..mid]);
    asm.bind(right);
    emit_dispatch(asm, &segments[mid..]);
}

/// Splits the syscall number space into maximal runs with the same destination.
fn segments(dests: &[(u32, Dest)], default: Action) -> Vec<(u32, Dest)> {
    let mut out: Vec<(u32, Dest)> = vec![(0, Dest::Ret(default))];
    let push = |out: &mut Vec<(u32, Dest)>, start: u32, dest: Dest| {
        if out.last().is_some_and(|(_, d)| *d == dest) {
            return;
        }
        if out.last().is_some_and(|(s, _)| *s == start) {
            out.pop();
            if out.last().is_some_and(|(_, d)| *d == dest) {
                return;
            }
        }
        out.push((start, dest));
    };
    for (nr, dest) in dests {
        push(&mut out, *nr, *dest);
        push(&mut out, nr + 1, Dest::Ret(default));
    }
    out
}

/// Compiles `profile` for a container with `caps` on kernel `kernel`.
pub(super) fn compile(
    profile: &SeccompProfile,
    caps: CapSet,
    kernel: (u32, u32),
) -> Result<Vec<libc::sock_filter>, SeccompError> {
    // Indexed by syscall number (the largest is below 500): cheaper than a map.
    let max_nr = table::SYSCALLS.iter().map(|(_, nr)| *nr).max().unwrap_or(0) as usize;
    let mut entries: Vec<Entry> = Vec::new();
    entries.resize_with(max_nr + 1, Entry::default);
    for rule in profile.resolve(caps, kernel) {
        let mut seen = [false; 6];
        let repeated = rule.args.iter().any(|a| {
            let i = usize::from(a.index).min(5);
            std::mem::replace(&mut seen[i], true)
        });
        for nr in rule.names.iter().filter_map(|n| super::syscall_number(n)) {
            let Some(entry) = entries.get_mut(nr as usize) else {
                continue;
            };
            entry.used = true;
            if rule.args.is_empty() {
                entry.unconditional.get_or_insert(rule.action);
            } else if repeated {
                // runc: conditions on the same argument cannot be ANDed; each becomes a rule.
                for a in &rule.args {
                    entry.conditional.push((vec![*a], rule.action));
                }
            } else {
                entry.conditional.push((rule.args.clone(), rule.action));
            }
        }
    }

    let default = profile.default_action;
    let mut asm = Asm::default();

    let arch_ok = asm.label();
    asm.load(OFFSET_ARCH);
    asm.jump(
        BPF_JEQ,
        table::AUDIT_ARCH,
        Target::Label(arch_ok),
        Target::Next,
    );
    asm.ret(Action::KillProcess);
    asm.bind(arch_ok);
    asm.load(OFFSET_NR);
    if cfg!(target_arch = "x86_64") {
        let native = asm.label();
        asm.jump(
            BPF_JGE,
            X32_SYSCALL_BIT,
            Target::Next,
            Target::Label(native),
        );
        asm.ret(Action::Errno(libc::ENOSYS as u16));
        asm.bind(native);
    }

    let mut dests = Vec::with_capacity(entries.len());
    let mut blocks = Vec::new();
    for (nr, entry) in (0u32..).zip(entries).filter(|(_, e)| e.used) {
        let fallback = entry.unconditional.unwrap_or(default);
        if entry.conditional.is_empty() {
            dests.push((nr, Dest::Ret(fallback)));
        } else {
            let block = asm.label();
            dests.push((nr, Dest::Block(block)));
            blocks.push((block, entry.conditional, fallback));
        }
    }
    emit_dispatch(&mut asm, &segments(&dests, default));

    for (block, conditional, fallback) in blocks {
        asm.bind(block);
        for (conds, action) in conditional {
            let next_rule = asm.label();
            for c in &conds {
                emit_cond(&mut asm, c, next_rule);
            }
            asm.ret(action);
            asm.bind(next_rule);
        }
        asm.ret(fallback);
    }
    asm.finish()
}
