//! The one body-size guard: a request body is read chunk by chunk and refused
//! as soon as it passes the limit (`--max-body-bytes`), before it is buffered.

use actix_web::web;
use futures_util::StreamExt;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The body is larger than the limit (bytes).
    TooLarge(usize),
    /// The connection failed mid-body.
    Unreadable,
}

/// The whole body, if it fits in `limit` bytes.
pub async fn read_body(mut body: web::Payload, limit: usize) -> Result<web::Bytes, BodyError> {
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}
