//! The Containerfile parser: pure text in, stages of instructions out, every error naming
//! `file:line`. Follows Docker's frontend: a `# escape=` directive (backslash or backtick)
//! before anything else, comment lines, line continuations (comments inside a continued
//! instruction are dropped), JSON exec form vs shell form, and `$VAR`/`${VAR}`/`${VAR:-w}`/
//! `${VAR:+w}` substitution from ARG and ENV for the instructions Docker substitutes.

use std::collections::BTreeMap;

/// A parse (or later, build) error at a Containerfile line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {msg}")]
pub struct LineError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

/// One instruction as written: upper-cased keyword, its flags (`--from=x`) and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    pub keyword: String,
    pub flags: Vec<(String, String)>,
    /// The arguments after the flags, continuations joined.
    pub args: String,
    /// The instruction as written (continuations joined): the cache key's text.
    pub original: String,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Exec form (`["a","b"]`) or shell form (`a b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdForm {
    Exec(Vec<String>),
    Shell(String),
}

impl CmdForm {
    /// The argv: shell form runs under `/bin/sh -c`.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CmdForm::Exec(v) => v.clone(),
            CmdForm::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
        }
    }
}

/// Parses `args` as a JSON string array when it looks like one, else shell form.
pub fn cmd_form(args: &str) -> CmdForm {
    let t = args.trim();
    if t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
            return CmdForm::Exec(v);
        }
    }
    CmdForm::Shell(t.to_string())
}

/// Instructions skiff builds; anything else is an error at its line.
pub const KNOWN: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
    "MAINTAINER",
];

/// Splits a Containerfile into instructions.
pub fn parse(file: &str, text: &str) -> Result<Vec<Instruction>, LineError> {
    let err = |line: usize, msg: String| LineError {
        file: file.to_string(),
        line,
        msg,
    };
    let mut escape = '\\';
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    let mut directives_open = true;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = raw.trim();
        if directives_open {
            if let Some(d) = trimmed.strip_prefix('#') {
                if let Some((k, v)) = d.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("escape") {
                        escape = match v.trim() {
                            "\\" => '\\',
                            "`" => '`',
                            other => return Err(err(n, format!("invalid escape {other:?}"))),
                        };
                        continue;
                    }
                }
            }
            directives_open = false;
        }
        if trimmed.starts_with('#') {
            continue; // comments, also inside a continued instruction (as Docker)
        }
        if trimmed.is_empty() && cur.is_none() {
            continue;
        }
        let (start, mut acc) = cur.take().unwrap_or((n, String::new()));
        let body = raw.trim_end();
        if let Some(stripped) = body.strip_suffix(escape) {
            acc.push_str(stripped.trim());
            acc.push(' ');
            cur = Some((start, acc));
            continue;
        }
        acc.push_str(body.trim_start());
        out.push(instruction(file, start, acc.trim())?);
    }
    if let Some((start, acc)) = cur {
        if !acc.trim().is_empty() {
            out.push(instruction(file, start, acc.trim())?);
        }
    }
    Ok(out)
}

fn instruction(file: &str, line: usize, text: &str) -> Result<Instruction, LineError> {
    let (kw, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let keyword = kw.to_ascii_uppercase();
    if !KNOWN.contains(&keyword.as_str()) {
        return Err(LineError {
            file: file.to_string(),
            line,
            msg: format!("unknown instruction: {kw}"),
        });
    }
    let mut rest = rest.trim_start();
    let mut flags = Vec::new();
    // Flags only for the instructions that take them (RUN's args may start with "--").
    if matches!(
        keyword.as_str(),
        "FROM" | "COPY" | "ADD" | "HEALTHCHECK" | "RUN"
    ) {
        while let Some(f) = rest.strip_prefix("--") {
            if (keyword == "HEALTHCHECK" || keyword == "RUN")
                && (!f.contains('=') || f.starts_with(' '))
            {
                break;
            }
            let (flag, after) = f.split_once(char::is_whitespace).unwrap_or((f, ""));
            let (k, v) = flag.split_once('=').unwrap_or((flag, ""));
            flags.push((k.to_string(), v.to_string()));
            rest = after.trim_start();
        }
    }
    Ok(Instruction {
        line,
        keyword,
        flags,
        args: rest.to_string(),
        original: text.to_string(),
    })
}

/// Substitutes `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`; `\$` is a literal `$`.
pub fn substitute(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'{') {
            let close = chars[i + 2..]
                .iter()
                .position(|&c| c == '}')
                .ok_or_else(|| format!("missing '}}' in {s:?}"))?;
            let inner: String = chars[i + 2..i + 2 + close].iter().collect();
            let (name, op) = match inner.find(":-").or_else(|| inner.find(":+")) {
                Some(p) => (&inner[..p], Some((&inner[p..p + 2], &inner[p + 2..]))),
                None => (inner.as_str(), None),
            };
            if name.is_empty() || !name.chars().all(is_name) {
                return Err(format!("bad substitution ${{{inner}}}"));
            }
            let val = vars.get(name).filter(|v| !v.is_empty());
            match op {
                None => out.push_str(val.map_or("", String::as_str)),
                Some((":-", w)) => out.push_str(val.map_or(w, String::as_str)),
                Some((_, w)) => out.push_str(if val.is_some() { w } else { "" }),
            }
            i += close + 3;
            continue;
        }
        let name: String = chars[i + 1..].iter().take_while(|c| is_name(**c)).collect();
        if name.is_empty() {
            out.push('$');
            i += 1;
            continue;
        }
        out.push_str(vars.get(&name).map_or("", String::as_str));
        i += 1 + name.chars().count();
    }
    Ok(out)
}

/// Splits words the way Docker does for ENV/LABEL/ARG values: whitespace separates, double
/// and single quotes group (and are removed), backslash escapes.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                if let Some(n) = it.next() {
                    cur.push(n);
                }
                any = true;
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// `KEY=VALUE KEY2="v 2"` or the legacy `KEY VALUE` form (ENV, LABEL).
pub fn key_values(args: &str) -> Result<Vec<(String, String)>, String> {
    let ws = words(args);
    if ws.is_empty() {
        return Err("needs at least one KEY=VALUE".into());
    }
    if !ws[0].contains('=') {
        // Legacy: ENV KEY the rest of the line.
        let (k, v) = args
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((args.trim(), ""));
        if v.trim().is_empty() {
            return Err(format!("{k} needs a value (KEY=VALUE)"));
        }
        return Ok(vec![(k.to_string(), words(v).join(" "))]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_escape() {
        let text =
            "# escape=`\nFROM scratch\n# c\nRUN echo a `\n  # inside\n  b\ncopy --chown=1:2 x /y\n";
        let ins = parse("Containerfile", text).unwrap();
        assert_eq!(ins.len(), 3);
        assert_eq!(ins[1].keyword, "RUN");
        assert_eq!(ins[1].args, "echo a b");
        assert_eq!(ins[1].line, 4);
        assert_eq!(ins[2].keyword, "COPY");
        assert_eq!(ins[2].flag("chown"), Some("1:2"));
        assert_eq!(ins[2].args, "x /y");
        let e = parse("F", "FROM scratch\n\nFOO bar\n").unwrap_err();
        assert_eq!(e.to_string(), "F:3: unknown instruction: FOO");
    }

    #[test]
    fn forms_and_substitution() {
        assert_eq!(
            cmd_form(r#"["/bin/echo", "hi"]"#),
            CmdForm::Exec(vec!["/bin/echo".into(), "hi".into()])
        );
        assert_eq!(cmd_form("echo $HOME").argv()[2], "echo $HOME");
        let vars: BTreeMap<String, String> =
            [("A".to_string(), "1".to_string()), ("E".into(), "".into())].into();
        assert_eq!(
            substitute("$A-${A}-${B:-d}-${A:+x}-${E:-e}-\\$A", &vars).unwrap(),
            "1-1-d-x-e-$A"
        );
        assert!(substitute("${A", &vars).is_err());
        assert_eq!(
            key_values(r#"A=1 B="two words" C=x\ y"#).unwrap(),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x y".into())
            ]
        );
        assert_eq!(
            key_values("K v w").unwrap(),
            vec![("K".into(), "v w".into())]
        );
    }
}
