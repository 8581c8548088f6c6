//! Compose variable interpolation in string values: `$VAR`, `${VAR}`,
//! `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?message}` / `${VAR?message}` (required), `${VAR:+alt}` /
//! `${VAR+alt}`, and `$$` for a literal `$`. Defaults may themselves hold
//! interpolations. Keys are not interpolated, as in Compose.

use crate::error::Errors;
use crate::node::{Node, Value};
use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, String>;

/// Interpolates every string in the tree.
pub fn tree(n: &mut Node, vars: &Vars, errs: &mut Errors) {
    match &mut n.value {
        Value::Str(s) => match string(s, vars) {
            Ok(v) => *s = v,
            Err(msg) => errs.push(&n.pos, msg),
        },
        Value::Seq(items) => items.iter_mut().for_each(|i| tree(i, vars, errs)),
        Value::Map(m) => m.iter_mut().for_each(|(_, v)| tree(v, vars, errs)),
        _ => {}
    }
}

/// Interpolates one string.
pub fn string(s: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let Some(off) = s[i..].find('$') else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..i + off]);
        i += off + 1;
        match b.get(i) {
            Some(b'$') => {
                out.push('$');
                i += 1;
            }
            Some(b'{') => {
                let end = closing(s, i + 1).ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
                out.push_str(&braced(&s[i + 1..end], vars)?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let len = s[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(s.len() - i);
                out.push_str(vars.get(&s[i..i + len]).map_or("", String::as_str));
                i += len;
            }
            _ => {
                return Err(format!(
                    "invalid interpolation in {s:?}: a lone $ (write $$ for a literal $)"
                ))
            }
        }
    }
    Ok(out)
}

/// The index of the `}` matching an opening brace just before `from`.
fn closing(s: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    for (k, c) in s[from..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(from + k);
                }
            }
            _ => {}
        }
    }
    None
}

fn braced(body: &str, vars: &Vars) -> Result<String, String> {
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let (name, op) = body.split_at(name_len);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("invalid variable name in ${{{body}}}"));
    }
    let value = vars.get(name);
    let set = value.is_some();
    let nonempty = value.is_some_and(|v| !v.is_empty());
    let v = || value.cloned().unwrap_or_default();
    let (test, arg) = match op.get(..2) {
        Some(":-") | Some(":?") | Some(":+") => (&op[..2], &op[2..]),
        _ => op.split_at(op.chars().next().map_or(0, char::len_utf8)),
    };
    Ok(match test {
        "" => v(),
        ":-" if nonempty => v(),
        "-" if set => v(),
        ":-" | "-" => string(arg, vars)?,
        ":?" if nonempty => v(),
        "?" if set => v(),
        ":?" | "?" => {
            let msg = string(arg, vars)?;
            return Err(format!(
                "required variable {name} is missing a value: {msg}"
            ));
        }
        ":+" if nonempty => string(arg, vars)?,
        "+" if set => string(arg, vars)?,
        ":+" | "+" => String::new(),
        _ => return Err(format!("invalid interpolation ${{{body}}}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form() {
        let vars: Vars = [("A", "1"), ("E", ""), ("NAME", "web")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ok = |s: &str| string(s, &vars).unwrap();
        assert_eq!(ok("x${A}y $A-$NAME."), "x1y 1-web.");
        assert_eq!(ok("${E:-d} ${E-d} ${U-d} ${U:-d}"), "d  d d");
        assert_eq!(ok("${U:-${NAME:-x}-2}"), "web-2");
        assert_eq!(ok("${A:+on} ${E:+on} ${E+on} ${U+on}|"), "on  on |");
        assert_eq!(ok("cost: $$5 $${A}"), "cost: $5 ${A}");
        assert_eq!(ok("${A:?need A}"), "1");
        let e = string("${U:?set U please}", &vars).unwrap_err();
        assert!(e.contains("U") && e.contains("set U please"), "{e}");
        assert!(string("${E:?}", &vars).is_err());
        assert!(string("${A", &vars).is_err());
        assert!(string("a $ b", &vars).is_err());
        assert!(string("${1A}", &vars).is_err());
        assert!(string("${A\u{e9}x}", &vars).is_err(), "multibyte operator");
    }
}
