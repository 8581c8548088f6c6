//! Spec errors: each names the file, line and column it is about. A load
//! collects every error it finds and returns none of the topology.

use std::fmt;
use std::sync::Arc;

/// A place in a source file: 1-based line and column (in characters).
/// Line 0 means "the file as a whole".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn file(file: &Arc<str>) -> Self {
        Pos {
            file: file.clone(),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

/// One problem in a topology file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {msg}")]
pub struct SpecError {
    pub pos: Pos,
    pub msg: String,
}

impl SpecError {
    pub fn new(pos: &Pos, msg: impl Into<String>) -> Self {
        SpecError {
            pos: pos.clone(),
            msg: msg.into(),
        }
    }
}

/// Every problem found; a load that returns this applied nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        SpecErrors(vec![e])
    }
}

/// Collects errors while a tree is lowered, so one run reports them all.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<SpecError>);

impl Errors {
    pub fn push(&mut self, pos: &Pos, msg: impl Into<String>) {
        self.0.push(SpecError::new(pos, msg));
    }

    /// `Ok(value)` only when nothing went wrong.
    pub fn finish<T>(mut self, value: T) -> Result<T, SpecErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            self.0.sort_by(|a, b| a.pos.cmp(&b.pos));
            self.0.dedup();
            Err(SpecErrors(self.0))
        }
    }
}
