//! `.env` and `env_file` syntax, as Compose reads it: `KEY=VALUE` lines,
//! `#` comments, blank lines, an optional `export ` prefix, single quotes
//! (literal), double quotes (with `\n`, `\"`, `\\` escapes), and inline
//! ` #` comments after unquoted values.

/// The pairs in order, or the 1-based line and reason of the first bad line.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (u32, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let key = key.trim();
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return Err((i as u32 + 1, format!("invalid variable name {key:?}")));
        }
        let value =
            unquote(value.trim()).ok_or((i as u32 + 1, "unterminated quote".to_string()))?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn unquote(v: &str) -> Option<String> {
    if let Some(rest) = v.strip_prefix('\'') {
        return rest.find('\'').map(|end| rest[..end].to_string());
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
        return None;
    }
    let v = match v.find(" #") {
        Some(i) => &v[..i],
        None => v,
    };
    Some(v.trim_end().to_string())
}

/// Reads `env_file`s (relative to `dir`) in order, later files winning.
/// A missing file is an error unless it is marked not required.
pub fn read_files(
    files: &[(String, crate::error::Pos, bool)],
    dir: &std::path::Path,
    read: crate::Reader<'_>,
    errs: &mut crate::error::Errors,
) -> std::collections::BTreeMap<String, String> {
    let mut env = std::collections::BTreeMap::new();
    for (name, pos, required) in files {
        let path = dir.join(name);
        match read(&path) {
            Ok(text) => match parse(&text) {
                Ok(pairs) => env.extend(pairs),
                Err((line, msg)) => errs.push(
                    &crate::error::Pos {
                        file: path.display().to_string().into(),
                        line,
                        col: 1,
                    },
                    msg,
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(e) => errs.push(pos, format!("env_file {}: {e}", path.display())),
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compose_dotenv() {
        let text = "# c\nA=1\nexport B = two words # note\nC='x # y'\nD=\"l1\\nl2\"\nE=\n\nF\n";
        let got = parse(text).unwrap();
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "x # y"),
            ("D", "l1\nl2"),
            ("E", ""),
            ("F", ""),
        ];
        assert_eq!(
            got,
            want.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!(parse("ok=1\nbad key=2\n").unwrap_err().0, 2);
        assert_eq!(parse("A=\"open\n").unwrap_err().0, 1);
    }
}
