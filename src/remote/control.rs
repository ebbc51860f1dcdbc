//! `/control`: the dashboard's commands over HTTP, for a bearer token only.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::engine::pace::{MAX_RATE, MIN_RATE};
use crate::engine::{Command, MAX_CONCURRENCY};

/// The secret a `/control` request must present.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    // Never in a log or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A token given by the user (`--control-token`); refused when too
    /// short to be a secret or not printable ASCII (it travels in a header).
    pub fn given(token: &str) -> Result<Token, String> {
        let token = token.trim();
        if token.len() < 16 {
            return Err("--control-token must be at least 16 characters".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("--control-token must be printable ASCII without spaces".into());
        }
        Ok(Token(token.to_string()))
    }

    /// 32 random bytes from the OS, in hex.
    pub fn generate() -> std::io::Result<Token> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token's text, to print or to send.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value carries this token, in time
    /// that does not depend on where they first differ.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        // ct_eq on slices of different lengths is false without comparing:
        // the length of a token is no secret, its bytes are.
        bool::from(given.trim_ascii().ct_eq(self.0.as_bytes()))
    }

    /// Writes the token to a new file only its owner can read.
    pub fn write_private(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        writeln!(file, "{}", self.0)
    }
}

/// Where a generated token is written: in the runtime directory when there
/// is one (private to the user), else the temporary directory.
pub fn token_path(port: u16) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("fetchtop-{}-{port}.token", std::process::id()))
}

/// A `/control` request body: one JSON object naming the command.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    /// The concurrency limit (0 pauses).
    SetLimit {
        /// The new limit.
        limit: u64,
    },
    /// Most requests started per second.
    SetRate {
        /// Requests per second.
        rate: f64,
    },
    /// Admit nothing until resumed.
    Pause,
    /// Admit again.
    Resume,
    /// Cancel every request in flight.
    CancelAll,
}

impl ControlRequest {
    /// Parses and checks a body; the error is one line for the 400 answer.
    pub fn parse(body: &[u8]) -> Result<ControlRequest, String> {
        let req: ControlRequest = serde_json::from_slice(body).map_err(|e| {
            format!("not a command ({e}); send e.g. {{\"command\":\"set_limit\",\"limit\":100}}")
        })?;
        match req {
            ControlRequest::SetLimit { limit } if limit > MAX_CONCURRENCY => Err(format!(
                "limit {limit} is more than the {MAX_CONCURRENCY} accepted"
            )),
            ControlRequest::SetRate { rate } if !(MIN_RATE..=MAX_RATE).contains(&rate) => Err(
                format!("rate {rate} is not from {MIN_RATE} to {MAX_RATE} requests per second"),
            ),
            req => Ok(req),
        }
    }

    /// The engine command it is.
    pub fn command(&self) -> Command {
        match *self {
            ControlRequest::SetLimit { limit } => Command::SetConcurrency(limit),
            ControlRequest::SetRate { rate } => Command::SetRate(rate),
            ControlRequest::Pause => Command::Pause,
            ControlRequest::Resume => Command::Resume,
            ControlRequest::CancelAll => Command::CancelAll,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_admitted() {
        let t = Token::given("0123456789abcdef-secret").unwrap();
        assert!(t.admits(Some(b"Bearer 0123456789abcdef-secret")));
        for bad in [
            &b"Bearer 0123456789abcdef-secreT"[..],
            b"Bearer 0123456789abcdef-secret-and-more",
            b"Bearer ",
            b"0123456789abcdef-secret",
            b"Basic 0123456789abcdef-secret",
        ] {
            assert!(!t.admits(Some(bad)), "{}", String::from_utf8_lossy(bad));
        }
        assert!(!t.admits(None));
        assert!(Token::given("short").is_err());
        assert!(Token::given("has a space in the middle").is_err());
        assert_eq!(format!("{t:?}"), "Token(..)");
    }

    #[test]
    fn generated_tokens_differ_and_are_written_privately() {
        use std::os::unix::fs::PermissionsExt as _;
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.token");
        a.write_private(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), a.expose());
        assert!(
            a.write_private(&path).is_err(),
            "never over an existing file"
        );
    }

    #[test]
    fn bodies_parse_to_commands_or_say_why_not() {
        let ok = |s: &str| ControlRequest::parse(s.as_bytes()).map(|r| r.command());
        assert_eq!(
            ok(r#"{"command":"set_limit","limit":7}"#),
            Ok(Command::SetConcurrency(7))
        );
        assert_eq!(ok(r#"{"command":"pause"}"#), Ok(Command::Pause));
        assert_eq!(ok(r#"{"command":"resume"}"#), Ok(Command::Resume));
        assert_eq!(ok(r#"{"command":"cancel_all"}"#), Ok(Command::CancelAll));
        assert_eq!(
            ok(r#"{"command":"set_rate","rate":2.5}"#),
            Ok(Command::SetRate(2.5))
        );
        for bad in [
            "",
            "{",
            r#"{"command":"explode"}"#,
            r#"{"command":"set_limit"}"#,
            r#"{"command":"set_limit","limit":-1}"#,
            r#"{"command":"set_limit","limit":99999999}"#,
            r#"{"command":"set_rate","rate":0}"#,
        ] {
            assert!(ControlRequest::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
