//! Idempotency for the REST API's POSTs. Calls that Klaviyo flows make may arrive twice, so a request
//! with a key runs once: a retry gets the first answer, the same key with another body is refused,
//! and a key whose request is still running answers "in use". A server error frees the key, so the
//! retry gets another chance; any other answer is kept for a day (`store::api_tokens::KEY_KEEP_MS`).
//!
//! Klaviyo's webhook action has static headers, so the key may come in the body
//! (`idempotency_key`, templated per profile) as well as in the `Idempotency-Key` header; the body's
//! key wins.

use super::rest::take_body_key;
use crate::clock::now_ms;
use crate::store::api_tokens::{self, KeyState};
use crate::store::{Db, DbError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::domain::MerchantId;

/// Keys are 1 to 255 characters.
pub const MAX_KEY_LEN: usize = 255;

/// The key a request carries: the body's (taken out of the body), else the header's.
pub fn key_of(body: &mut Value, header: Option<&str>) -> Option<String> {
    let body_key = take_body_key(body).filter(|k| !k.is_empty());
    body_key.or_else(|| header.map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned))
}

/// What a keyed request may do.
#[derive(Debug)]
pub enum Begun {
    /// This request holds the key: run it, then [`settle`].
    Run(Held),
    /// Answered before with the same body: replay this.
    Replay { status: u16, body: Value },
    /// A request with this key is still running.
    InProgress,
    /// The key was used with another body.
    Reused,
}

/// A key this request holds, under its own claim (a retry that takes over a stalled key gets its
/// own, and the stalled request then stores nothing).
#[derive(Debug)]
pub struct Held {
    merchant: MerchantId,
    key: String,
    claim: String,
    request_hash: String,
}

/// Claims `key` for a request with this raw body.
pub async fn begin(db: &Db, merchant: MerchantId, key: String, raw_body: &[u8]) -> Result<Begun, DbError> {
    let request_hash = hex::encode(Sha256::digest(raw_body));
    Ok(match api_tokens::claim_key(db, merchant, &key, &request_hash, now_ms()).await? {
        KeyState::Claimed(claim) => Begun::Run(Held { merchant, key, claim, request_hash }),
        KeyState::InProgress => Begun::InProgress,
        KeyState::Answered(hash, _, _) if hash != request_hash => Begun::Reused,
        KeyState::Answered(_, status, stored) => Begun::Replay {
            status: u16::try_from(status).unwrap_or(200),
            body: serde_json::from_str(&stored).unwrap_or(Value::Null),
        },
    })
}

/// Stores the answer under the key, or frees the key after a server error.
pub async fn settle(db: &Db, held: Held, status: u16, body: &Value) -> Result<(), DbError> {
    debug_assert!(!held.request_hash.is_empty());
    if (500..600).contains(&status) {
        api_tokens::release_key(db, held.merchant, &held.key, &held.claim).await
    } else {
        api_tokens::finish_key(db, held.merchant, &held.key, &held.claim, i64::from(status), &body.to_string()).await
    }
}
