//! Rekomi's REST API for the merchant's own systems and Klaviyo flows: `Authorization: Bearer
//! <token>`, JSON in and out, one error envelope `{"error":{"code","message"}}`. Every request is
//! scoped to the token's merchant and counted against the token's rate limit (429 with
//! Retry-After). A POST with an `Idempotency-Key` (header, or `idempotency_key` in the body for
//! callers with static headers) runs once: a retry gets the first answer, and the same key with
//! another body is a 422. The OpenAPI document is generated from these handlers (`docs`).

pub mod docs;
pub mod orders;
pub mod people;

use crate::services::rest::{take_body_key, RestError};
use crate::startup::AppState;
use crate::store::api_tokens::KeyState;
use crate::store::{api_tokens, now_ms};
use app::domain::MerchantId;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

pub fn rest_error(e: RestError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, e.code, &e.message)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "API request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on Rekomi's side; retry the request.")
}

/// Who is calling: the token's merchant, and the token (for the audit trail and its rate limit).
pub struct Caller {
    pub merchant: MerchantId,
    pub token_id: i64,
    /// "api token \"Klaviyo flows\"": how changes are recorded in the audit trail.
    pub actor: String,
}

pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "no_token",
            "Send an API token as `Authorization: Bearer <token>` (create one under Tracking in Rekomi).",
        ));
    };
    let hash = crate::services::accounts::token_hash(token);
    let (token_id, merchant, name) = match api_tokens::authenticate(&state.services.db, &hash, now_ms()).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(error(StatusCode::UNAUTHORIZED, "bad_token", "This API token is unknown or was revoked."))
        }
        Err(e) => return Err(internal(e)),
    };
    if let Err(wait) = state.services.api_limiter.check(&token_id) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("This token made too many requests; retry in {wait} s."),
        );
        if let Ok(value) = HeaderValue::from_str(&wait.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Err(response);
    }
    Ok(Caller { merchant, token_id, actor: format!("api token \"{name}\"") })
}

/// Reads a JSON body as `T`, naming what is wrong.
fn parse<T: DeserializeOwned>(body: Value) -> Result<T, (StatusCode, Value)> {
    serde_json::from_value(body)
        .map_err(|e| problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", &format!("The body is not valid: {e}.")))
}

pub fn problem(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": { "code": code, "message": message } }))
}

/// The answer of a handler as (status, body), for storing under an idempotency key.
pub fn answer<T: serde::Serialize>(status: StatusCode, result: Result<T, RestError>) -> (StatusCode, Value) {
    match result {
        Ok(body) => (status, serde_json::to_value(body).unwrap_or(Value::Null)),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            problem(status, e.code, &e.message)
        }
    }
}

/// Authenticates, then runs `handle` once per idempotency key (when one is given); replays get the
/// stored answer.
pub async fn idempotent<T, F, Fut>(state: &AppState, headers: &HeaderMap, body: &Bytes, handle: F) -> Response
where
    T: DeserializeOwned,
    F: FnOnce(Caller, T) -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let caller = match authenticate(state, headers).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let mut value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json", &format!("The body is not JSON: {e}."))
        }
    };
    let body_key = take_body_key(&mut value);
    let header_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::trim);
    // The body's key wins: it is templated per profile, while a flow's headers are the same for
    // every call.
    let key = body_key.filter(|k| !k.is_empty()).or(header_key.filter(|k| !k.is_empty()).map(str::to_owned));
    let Some(key) = key else {
        let (status, value) = match parse::<T>(value) {
            Ok(parsed) => handle(caller, parsed).await,
            Err(problem) => problem,
        };
        return (status, Json(value)).into_response();
    };
    if key.len() > 255 {
        return error(StatusCode::BAD_REQUEST, "invalid_idempotency_key", "An Idempotency-Key is 1 to 255 characters.");
    }
    let merchant = caller.merchant;
    let request_hash = hex::encode(Sha256::digest(body));
    let db = &state.services.db;
    let claim = match api_tokens::claim_key(db, merchant, &key, &request_hash, now_ms()).await {
        Ok(KeyState::Claimed(claim)) => claim,
        Ok(KeyState::InProgress) => {
            return error(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still running; retry in a moment.",
            )
        }
        Ok(KeyState::Answered(hash, status, stored)) => {
            if hash != request_hash {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request body.",
                );
            }
            let status =
                u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
            let value: Value = serde_json::from_str(&stored).unwrap_or(Value::Null);
            return (status, [("idempotent-replay", "true")], Json(value)).into_response();
        }
        Err(e) => return internal(e),
    };
    let (status, value) = match parse::<T>(value) {
        Ok(parsed) => handle(caller, parsed).await,
        Err(problem) => problem,
    };
    // A server error frees the key, so the retry gets another chance; anything else is kept.
    let kept = if status.is_server_error() {
        api_tokens::release_key(db, merchant, &key, &claim).await
    } else {
        api_tokens::finish_key(db, merchant, &key, &claim, i64::from(status.as_u16()), &value.to_string()).await
    };
    if let Err(e) = kept {
        return internal(e);
    }
    (status, Json(value)).into_response()
}

/// Rejects any path under `/api/v1` that isn't an endpoint, in the API's own error shape.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "No such endpoint; see /api/v1/docs.")
}
