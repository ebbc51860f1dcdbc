//! Demo routes whose bodies are not plain JSON: compressed and binary
//! answers, for trying `--keep-body`, `--compressed`, `--raw` and
//! `--save-bodies` against something local.
//!
//! - `GET /compressed/{coding}`: the JSON item 1 encoded with `gzip`,
//!   `deflate` (zlib), `br` or `zstd`, whatever the request's
//!   `Accept-Encoding` says (as a file stored compressed is served);
//!   `identity` sends it plain.
//! - `GET /bytes/{n}`: `n` bytes (at most 1 MiB) from a generator seeded
//!   with `n`, so the same URL always gives the same bytes, sent as
//!   `application/octet-stream`.

use std::io::Write;

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::catalogue::Item;

/// Largest `/bytes/{n}`.
pub(super) const MAX_BYTES: usize = 1024 * 1024;

/// `GET /compressed/{coding}`.
pub(super) async fn compressed(Path(coding): Path<String>) -> Response {
    let plain = match serde_json::to_vec(&Item::new(1)) {
        Ok(v) => v,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let encoded = match encode(&coding, &plain) {
        Some(Ok(body)) => body,
        Some(Err(_)) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        None => {
            return (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": "unknown coding: use gzip, deflate, br, zstd or identity"})),
            )
                .into_response();
        }
    };
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        encoded,
    )
        .into_response();
    if coding != "identity"
        && let Ok(value) = HeaderValue::from_str(&coding)
    {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, value);
    }
    response
}

/// `GET /bytes/{n}`.
pub(super) async fn bytes(Path(n): Path<String>) -> Response {
    let n = match n.parse::<usize>() {
        Ok(n) if n <= MAX_BYTES => n,
        _ => {
            return (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": "use /bytes/N with N up to 1048576"})),
            )
                .into_response();
        }
    };
    let mut rng = fastrand::Rng::with_seed(n as u64);
    let body: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(n).collect();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        body,
    )
        .into_response()
}

/// `plain` in `coding`; None for a coding the demo does not speak.
fn encode(coding: &str, plain: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
    let level = flate2::Compression::default();
    Some(match coding {
        "identity" => Ok(plain.to_vec()),
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(plain).and_then(|()| e.finish())
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(plain).and_then(|()| e.finish())
        }
        "br" => {
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &plain[..], &mut out, &Default::default()).map(|_| out)
        }
        "zstd" => zstd::encode_all(plain, 3),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_coding_round_trips() {
        let plain = b"{\"id\":1}".repeat(20);
        let gz = encode("gzip", &plain).unwrap().unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain);
        let zs = encode("zstd", &plain).unwrap().unwrap();
        assert_eq!(zstd::decode_all(&zs[..]).unwrap(), plain);
        assert_ne!(encode("br", &plain).unwrap().unwrap(), plain);
        assert_eq!(encode("identity", &plain).unwrap().unwrap(), plain);
        assert!(encode("compress", &plain).is_none());
    }
}
