//! The merchant's own systems call these with `Authorization: Bearer <token>`. Every POST carries an
//! `Idempotency-Key`: a retry gets the first answer; the same key with another body is refused.
//!
//! `POST /api/v1/conversions`: an order from a store that isn't Shopify.
//! `POST /api/v1/conversions/{order_id}/refunds`: a refund of one.

use super::webhooks::refund_json;
use crate::services::orders::{self, Order, OrderError, OrderOutcome};
use crate::startup::AppState;
use crate::store::api_tokens::KeyState;
use crate::store::earnings::NewRefund;
use crate::store::{api_tokens, now_ms};
use app::domain::tracking::Touches;
use app::domain::{Currency, MerchantId, Money};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "API request failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong on Rekomi's side; retry with the same key.",
    )
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<MerchantId, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "no_token",
            "Send an API token as `Authorization: Bearer <token>`.",
        ));
    };
    let hash = crate::services::accounts::token_hash(token);
    match api_tokens::authenticate(&state.services.db, &hash, now_ms()).await {
        Ok(Some(merchant)) => Ok(merchant),
        Ok(None) => Err(error(StatusCode::UNAUTHORIZED, "bad_token", "This API token is unknown or was revoked.")),
        Err(e) => Err(internal(e)),
    }
}

/// Runs `handle` once per idempotency key; replays get the stored answer.
async fn idempotent<T, F, Fut>(state: &AppState, headers: &HeaderMap, body: &Bytes, handle: F) -> Response
where
    T: DeserializeOwned,
    F: FnOnce(MerchantId, T) -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let merchant = match authenticate(state, headers).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return error(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "Send an Idempotency-Key header (1 to 255 characters), the same on every retry of this request.",
        );
    }
    let request_hash = hex::encode(Sha256::digest(body));
    let db = &state.services.db;
    match api_tokens::claim_key(db, merchant, key, &request_hash, now_ms()).await {
        Ok(KeyState::Claimed) => {}
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
    }
    let (status, value) = match serde_json::from_slice::<T>(body) {
        Ok(parsed) => handle(merchant, parsed).await,
        Err(e) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", &format!("The body is not valid: {e}.")),
    };
    // A server error frees the key, so the retry gets another chance; anything else is kept.
    let kept = if status.is_server_error() {
        api_tokens::release_key(db, merchant, key).await
    } else {
        api_tokens::finish_key(db, merchant, key, i64::from(status.as_u16()), &value.to_string()).await
    };
    if let Err(e) = kept {
        return internal(e);
    }
    (status, Json(value)).into_response()
}

fn problem(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": { "code": code, "message": message } }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionRequest {
    order_id: String,
    order_name: Option<String>,
    /// The order subtotal in minor units (cents), after discounts, before shipping and tax.
    amount_minor: i64,
    currency: String,
    referral_code: Option<String>,
    /// The snippet's `rekomi_ref` cookie, when the store passes it along.
    touches: Option<String>,
    coupon_code: Option<String>,
    customer_email: Option<String>,
    /// RFC 3339; defaults to now.
    occurred_at: Option<String>,
}

pub async fn conversions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let services = state.services.clone();
    idempotent(&state, &headers, &body, |merchant, req: ConversionRequest| async move {
        let now = now_ms();
        let order_id = req.order_id.trim().to_owned();
        if order_id.is_empty() || order_id.len() > 255 {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_order_id", "order_id is 1 to 255 characters.");
        }
        let currency = match Currency::parse(&req.currency) {
            Ok(c) => c,
            Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_currency", &e.to_string()),
        };
        if req.amount_minor < 0 {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", "amount_minor can't be negative.");
        }
        let ordered_at = match req.occurred_at.as_deref() {
            None => now,
            Some(raw) => match orders::parse_time(raw) {
                Some(at) => at,
                None => {
                    return problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_occurred_at",
                        "occurred_at is an RFC 3339 time like 2026-11-24T10:00:00Z.",
                    )
                }
            },
        };
        let touches = req.touches.as_deref().map(Touches::parse).unwrap_or_default();
        let touches = touches.or(req.referral_code.as_deref().map(Touches::code).unwrap_or_default());
        let coupons: Vec<String> = req.coupon_code.into_iter().filter(|c| !c.trim().is_empty()).collect();
        if touches.is_empty() && coupons.is_empty() {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_referral",
                "Name the affiliate: referral_code (or touches) or coupon_code.",
            );
        }
        let order = Order {
            merchant,
            order_id,
            order_name: req.order_name,
            channel: "api",
            subtotal: Money::new(req.amount_minor, currency),
            touches,
            coupons,
            customer_email: req.customer_email.map(|e| e.trim().to_lowercase()),
            ordered_at,
        };
        match orders::record(&services.db, &services.tracker, order, now).await {
            Ok(OrderOutcome::Attributed(a)) if a.duplicate => (StatusCode::OK, json!({ "attributed": true, "conversion": a })),
            Ok(OrderOutcome::Attributed(a)) => (StatusCode::CREATED, json!({ "attributed": true, "conversion": a })),
            Ok(OrderOutcome::NotAttributed) => (
                StatusCode::OK,
                json!({ "attributed": false, "reason": "No approved affiliate of this shop holds that code, or the click is outside the cookie window." }),
            ),
            Err(OrderError::Invalid(m)) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &m),
            Err(OrderError::Internal(e)) => {
                tracing::error!(error = format!("{e:#}"), "conversion failed");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong; retry with the same key.")
            }
        }
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    refund_id: String,
    amount_minor: i64,
}

pub async fn refunds(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let services = state.services.clone();
    idempotent(&state, &headers, &body, |merchant, req: RefundRequest| async move {
        let refund_id = req.refund_id.trim().to_owned();
        if refund_id.is_empty() || refund_id.len() > 255 {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_refund_id", "refund_id is 1 to 255 characters.");
        }
        if req.amount_minor <= 0 {
            return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", "amount_minor must be more than zero.");
        }
        let refund = NewRefund { merchant_id: merchant, order_id, refund_id, amount_minor: req.amount_minor };
        match orders::refund(&services.db, refund, now_ms()).await {
            Ok(outcome) => (StatusCode::OK, refund_json(outcome)),
            Err(e) => {
                tracing::error!(error = %e, "refund failed");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong; retry with the same key.")
            }
        }
    })
    .await
}
