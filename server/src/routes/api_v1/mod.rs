//! Rekomi's REST API for the merchant's own systems and Klaviyo flows: `Authorization: Bearer
//! <token>`, JSON in and out, one error envelope `{"error":{"code","message"}}`. Every request is
//! scoped to the token's merchant and counted against the token's rate limit (429 with
//! Retry-After). A POST with an `Idempotency-Key` (header, or `idempotency_key` in the body for
//! callers with static headers) runs once: a retry gets the first answer, and the same key with
//! another body is a 422. The OpenAPI document is generated from these handlers (`docs`).

pub mod docs;
pub mod orders;
pub mod people;

use super::AppState;
use crate::services::idempotency::{self, Begun, MAX_KEY_LEN};
use crate::services::rest::{self as rest_service, RestError};
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use crate::services::rest::Caller;

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

/// The caller of an API endpoint, from `Authorization: Bearer <token>`, within the token's rate
/// limit. Rejections are in the API's error shape.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = parts
            .headers
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
        let caller = match rest_service::caller(&state.services, token).await {
            Ok(Some(caller)) => caller,
            Ok(None) => {
                return Err(error(StatusCode::UNAUTHORIZED, "bad_token", "This API token is unknown or was revoked."))
            }
            Err(e) => return Err(internal(e)),
        };
        if let Err(wait) = state.services.api_limiter.check(&caller.token_id) {
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
        Ok(Self(caller))
    }
}

/// The path of the first string (or key) in `value` holding a NUL: no text field accepts one, and
/// PostgreSQL can't store it, so it is refused before anything runs.
pub fn nul_in(value: &Value, at: &str) -> Option<String> {
    let join = |key: &str| if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match value {
        Value::String(s) if s.contains('\0') => Some(if at.is_empty() { "body".to_owned() } else { at.to_owned() }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_in(v, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\u0000")))
            } else {
                nul_in(v, &join(k))
            }
        }),
        _ => None,
    }
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

/// Runs `handle` with the parsed body, once per idempotency key when one is given (see
/// `services::idempotency`); replays get the stored answer with `Idempotent-Replay: true`.
pub async fn idempotent<T, F, Fut>(
    state: &AppState,
    ApiCaller(caller): ApiCaller,
    headers: &HeaderMap,
    body: &Bytes,
    handle: F,
) -> Response
where
    T: DeserializeOwned,
    F: FnOnce(Caller, T) -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let mut value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json", &format!("The body is not JSON: {e}."))
        }
    };
    if let Some(field) = nul_in(&value, "") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            &format!("`{field}` contains a NUL character (\\u0000), which no text field accepts."),
        );
    }
    let header_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let Some(key) = idempotency::key_of(&mut value, header_key) else {
        let (status, value) = match parse::<T>(value) {
            Ok(parsed) => handle(caller, parsed).await,
            Err(problem) => problem,
        };
        return (status, Json(value)).into_response();
    };
    if key.len() > MAX_KEY_LEN {
        return error(StatusCode::BAD_REQUEST, "invalid_idempotency_key", "An Idempotency-Key is 1 to 255 characters.");
    }
    let db = &state.services.db;
    let held = match idempotency::begin(db, caller.merchant, key, body).await {
        Ok(Begun::Run(held)) => held,
        Ok(Begun::InProgress) => {
            return error(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still running; retry in a moment.",
            )
        }
        Ok(Begun::Reused) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request body.",
            )
        }
        Ok(Begun::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return (status, [("idempotent-replay", "true")], Json(body)).into_response();
        }
        Err(e) => return internal(e),
    };
    let (status, value) = match parse::<T>(value) {
        Ok(parsed) => handle(caller, parsed).await,
        Err(problem) => problem,
    };
    if let Err(e) = idempotency::settle(db, held, status.as_u16(), &value).await {
        return internal(e);
    }
    (status, Json(value)).into_response()
}

/// Rejects any path under `/api/v1` that isn't an endpoint, in the API's own error shape.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "No such endpoint; see /api/v1/docs.")
}
