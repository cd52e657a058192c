//! Orders from a store that isn't Shopify: `POST /api/v1/conversions` and its refunds. Both are
//! idempotent on the shop's own ids (order id, refund id) as well as on the Idempotency-Key.

use super::{idempotent, problem, ApiCaller};
use crate::clock::now_ms;
use crate::routes::webhooks::refund_json;
use crate::routes::AppState;
use crate::services::orders::{self, NewRefund, Order, OrderError, OrderOutcome};
use crate::services::rest::ErrorBody;
use app::domain::tracking::Touches;
use app::domain::{Currency, Money};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

/// An order to attribute. Name the affiliate with `referral_code` (or the snippet's `touches`) or
/// a `coupon_code`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionRequest {
    #[schema(min_length = 1, max_length = 255)]
    order_id: String,
    order_name: Option<String>,
    /// The order subtotal in minor units (cents), after discounts, before shipping and tax.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    amount_minor: i64,
    /// ISO 4217, e.g. `USD`.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    currency: String,
    referral_code: Option<String>,
    /// The snippet's `rekomi_ref` cookie, when the store passes it along.
    touches: Option<String>,
    coupon_code: Option<String>,
    #[schema(format = Email)]
    customer_email: Option<String>,
    /// RFC 3339; defaults to now.
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
}

/// Records an order and the commission it earns.
#[utoipa::path(post, path = "/api/v1/conversions", tag = "orders",
    request_body = ConversionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; a retry gets the first answer.")),
    responses(
        (status = 201, description = "Attributed and recorded: `{attributed: true, conversion}`"),
        (status = 200, description = "Recorded before (same order id), or not attributed: `{attributed: false, reason}`"),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 422, description = "A field is wrong; the message names it", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn conversions(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let services = state.services.clone();
    idempotent(&state, caller, &headers, &body, |caller, req: ConversionRequest| async move {
        let merchant = caller.merchant;
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

/// A refund of a recorded order, once per `refund_id`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    #[schema(min_length = 1, max_length = 255)]
    refund_id: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    amount_minor: i64,
}

/// Applies a refund: an unpaid commission shrinks (voided at zero); a paid one gets a negative line.
#[utoipa::path(post, path = "/api/v1/conversions/{order_id}/refunds", tag = "orders",
    request_body = RefundRequest,
    params(
        ("order_id" = String, Path, description = "The order id given when the conversion was recorded"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; a retry gets the first answer."),
    ),
    responses(
        (status = 200, description = "Applied, kept for an order not recorded yet, or a duplicate"),
        (status = 401, description = "No token, or an unknown or revoked one", body = ErrorBody),
        (status = 422, description = "A field is wrong; the message names it", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub async fn refunds(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let services = state.services.clone();
    idempotent(&state, caller, &headers, &body, |caller, req: RefundRequest| async move {
        let merchant = caller.merchant;
        if order_id.trim().is_empty() || order_id.len() > 255 || order_id.contains('\0') {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_order_id",
                "The order id is 1 to 255 characters, without NUL.",
            );
        }
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
            Err(OrderError::Invalid(m)) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &m),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "refund failed");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong; retry with the same key.")
            }
        }
    })
    .await
}
