//! The small request and answer bodies of the local API that are not
//! container specs or states: wait results, log options, control and resize
//! frames, created ids, ping.

use crate::ApiError;
use serde::{Deserialize, Serialize};

/// `POST /v1/containers/{ref}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitResponse {
    pub exit_code: i32,
    pub oom_killed: bool,
}

/// The query of `GET /v1/containers/{ref}/logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    pub follow: bool,
    /// Only the last N lines (of the selected streams).
    pub tail: Option<usize>,
    pub timestamps: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            follow: false,
            tail: None,
            timestamps: false,
            stdout: true,
            stderr: true,
        }
    }
}

/// The JSON payload of a control frame: `{"exit_code":N,"oom_killed":b}` when
/// the process ended, or `{"error":ApiError}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ControlRepr", into = "ControlRepr")]
pub enum Control {
    Exit { exit_code: i32, oom_killed: bool },
    Error(ApiError),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ControlRepr {
    Exit {
        exit_code: i32,
        #[serde(default)]
        oom_killed: bool,
    },
    Error {
        error: ApiError,
    },
}

impl From<ControlRepr> for Control {
    fn from(r: ControlRepr) -> Self {
        match r {
            ControlRepr::Exit {
                exit_code,
                oom_killed,
            } => Control::Exit {
                exit_code,
                oom_killed,
            },
            ControlRepr::Error { error } => Control::Error(error),
        }
    }
}

impl From<Control> for ControlRepr {
    fn from(c: Control) -> Self {
        match c {
            Control::Exit {
                exit_code,
                oom_killed,
            } => ControlRepr::Exit {
                exit_code,
                oom_killed,
            },
            Control::Error(error) => ControlRepr::Error { error },
        }
    }
}

/// The JSON payload of a resize frame (and the `resize` query, as h/w).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resize {
    pub rows: u16,
    pub cols: u16,
}

/// `201` answer of `POST /v1/containers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedResponse {
    pub id: crate::ContainerId,
}

/// `GET /v1/ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingResponse {
    pub version: String,
    pub pid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn control_json_matches_the_api() {
        let exit = Control::Exit {
            exit_code: 137,
            oom_killed: true,
        };
        assert_eq!(
            serde_json::to_string(&exit).unwrap(),
            r#"{"exit_code":137,"oom_killed":true}"#
        );
        let err = Control::Error(ApiError::new(ErrorKind::NotFound, "no such container: x"));
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"kind":"not_found","message":"no such container: x"}}"#
        );
        for c in [exit, err] {
            let back: Control = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn log_options_default_to_both_streams() {
        let o = LogOptions::default();
        assert!(o.stdout && o.stderr && !o.follow && o.tail.is_none());
    }
}
