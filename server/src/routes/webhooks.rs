//! `POST /webhooks/shopify/{shop}`: Shopify's `orders/paid` and `refunds/create`. The signature is
//! checked over the raw body before anything is parsed or stored; a bad one gets 401 and leaves no
//! trace. Deliveries are idempotent per order id and per refund id.

use crate::clock::now_ms;
use crate::routes::AppState;
use crate::services::orders::{self, OrderError, OrderOutcome, RefundOutcome};
use crate::services::shopify;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

pub async fn shopify(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let services = &state.services;
    let found = match services.shopify.for_slug(&shop).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "webhook secret lookup failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Rekomi could not check this delivery.");
        }
    };
    let Some((merchant, secret)) = found else {
        return error(StatusCode::NOT_FOUND, "unknown_shop", "No Rekomi shop has this webhook address.");
    };
    let Some(secret) = secret else {
        return error(
            StatusCode::UNAUTHORIZED,
            "no_secret",
            "This shop has no Shopify signing secret in Rekomi yet (Settings → Tracking).",
        );
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !shopify::verify(&secret, &body, header("x-shopify-hmac-sha256")) {
        tracing::warn!(%shop, "Shopify webhook with a bad signature refused");
        return error(StatusCode::UNAUTHORIZED, "bad_signature", "The X-Shopify-Hmac-Sha256 signature does not match.");
    }
    let topic = header("x-shopify-topic").to_owned();
    let now = now_ms();
    // Shopify may deliver the same event more than once; a repeat is acknowledged, not redone.
    let webhook_id = header("x-shopify-webhook-id").to_owned();
    if !webhook_id.is_empty() {
        match services.shop.delivery_seen(merchant, &webhook_id).await {
            Ok(true) => return (StatusCode::OK, Json(json!({ "duplicate": true }))).into_response(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = format!("{e:#}"), "delivery dedupe lookup failed"),
        }
    }
    let outcome = match topic.as_str() {
        "orders/paid" => {
            orders::record_shopify(&services.db, &services.tracker, merchant, &body, now).await.map(|o| match o {
                OrderOutcome::Attributed(a) => json!({ "attributed": true, "conversion": a }),
                OrderOutcome::NotAttributed => json!({ "attributed": false }),
            })
        }
        "refunds/create" => orders::shopify_refund_record(&services.db, merchant, &body, now).await.map(refund_json),
        "app/uninstalled" => match services.shop.uninstalled(merchant).await {
            Ok(()) => Ok(json!({ "uninstalled": true })),
            Err(e) => Err(OrderError::Internal(e)),
        },
        other => {
            services.shop.delivered(merchant, other, &webhook_id, true).await;
            return (StatusCode::OK, Json(json!({ "ignored": other }))).into_response();
        }
    };
    services.shop.delivered(merchant, &topic, &webhook_id, outcome.is_ok()).await;
    match outcome {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(OrderError::Invalid(message)) => {
            tracing::warn!(%shop, %topic, %message, "Shopify webhook payload refused");
            error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", &message)
        }
        Err(OrderError::Internal(e)) => {
            tracing::error!(error = format!("{e:#}"), "webhook failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Rekomi could not record this delivery; it will be retried.",
            )
        }
    }
}

pub(crate) fn refund_json(outcome: RefundOutcome) -> serde_json::Value {
    match outcome {
        RefundOutcome::Kept => {
            json!({ "applied": false, "reason": "no attributed order has that id (yet); kept in case it arrives" })
        }
        RefundOutcome::Duplicate => json!({ "applied": false, "reason": "this refund was recorded before" }),
        RefundOutcome::Reduced { commission_minor } => json!({ "applied": true, "commission_minor": commission_minor }),
        RefundOutcome::ClawedBack { clawback_minor } => json!({ "applied": true, "clawback_minor": clawback_minor }),
    }
}
