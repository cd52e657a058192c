//! `/r/{code}`: the tracking link. Counts the click (off the request path) and sends the visitor to
//! the shop with `ref={code}`. `/t/snippet.js`: the script the shop loads to remember the code.

use crate::clock::now_ms;
use crate::routes::Redirects;
use crate::tracking::Counted;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

const VISITOR_COOKIE: &str = "rk_v";

pub async fn redirect(
    State(state): State<Redirects>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
    request: Request,
) -> Response {
    // The request by value rather than a `HeaderMap` extractor, which would copy every header.
    let headers = request.headers();
    let ip = super::client_ip::from_parts(Some(peer), headers, state.trust_proxy);
    let tracker = &state.tracker;
    let found = match tracker.code(code.trim()).await {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "tracking link lookup failed");
            return page(StatusCode::SERVICE_UNAVAILABLE, "This link is resting", "Please try again in a moment.");
        }
    };
    let Some(found) = found else {
        return page(StatusCode::NOT_FOUND, "Link not found", "This affiliate link doesn't exist. Check the address.");
    };
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let visitor = tracker.visitor(super::cookie(headers, VISITOR_COOKIE), ip, user_agent);
    let counted = tracker.click(&found, &visitor, user_agent, now_ms());
    let target = match (counted, &found.redirect, &found.destination) {
        (Counted::NotEarning, _, Some(shop)) => match HeaderValue::from_str(shop) {
            Ok(value) => value,
            Err(_) => {
                return page(StatusCode::NOT_FOUND, "This link isn't set up yet", "Please visit the shop directly.")
            }
        },
        (_, Some(with_ref), _) if counted != Counted::NotEarning => with_ref.clone(),
        _ => {
            return page(
                StatusCode::NOT_FOUND,
                "This link isn't set up yet",
                "The shop hasn't said where its affiliate links lead. Please visit the shop directly.",
            )
        }
    };
    let mut response = (StatusCode::FOUND, [(header::LOCATION, target)]).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = visitor.cookie {
        let secure = if state.secure_cookies { "; Secure" } else { "" };
        let set = format!("{VISITOR_COOKIE}={value}; Max-Age=31536000; Path=/r; HttpOnly; SameSite=Lax{secure}");
        // Handed over without a copy: this runs for every new visitor.
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(set)) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    response
}

fn page(status: StatusCode, heading: &str, text: &str) -> Response {
    super::join::message_page(status, heading, text)
}

/// The shop-side script: no dependencies, no network calls of its own beyond Shopify's cart.
pub async fn snippet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SNIPPET,
    )
        .into_response()
}

/// Remembers `?ref=` / `?via=` in a first-party cookie as first and last touch (`code.ms|code.ms`),
/// for `data-days` days (the longest cookie window of the shop's campaigns; the server applies each
/// campaign's own window and model to the times). On Shopify it copies the value into the cart's
/// attributes, which become the order's note attributes.
pub const SNIPPET: &str = r#"(function () {
  "use strict";
  var script = document.currentScript;
  var days = parseInt((script && script.getAttribute("data-days")) || "30", 10) || 30;
  var name = "rekomi_ref";
  var valid = /^[A-Za-z0-9_-]{2,64}$/;
  function read() {
    var m = document.cookie.match(/(?:^|;\s*)rekomi_ref=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function write(value) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + days * 86400 +
      "; Path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  }
  var params = new URLSearchParams(location.search);
  var code = params.get("ref") || params.get("via");
  if (code && valid.test(code)) {
    var now = Date.now();
    var first = read().split("|")[0];
    var touch = code + "." + now;
    write(/^[A-Za-z0-9_-]{2,64}\.\d+$/.test(first) ? first + "|" + touch : touch);
  }
  var value = read();
  window.Rekomi = { touches: value, referral: value ? value.split("|").pop().split(".")[0] : null };
  if (value && window.Shopify && window.fetch) {
    fetch("/cart/update.js", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ attributes: { rekomi_ref: value } })
    }).catch(function () {});
  }
})();
"#;

/// `POST /pixel/{shop}`: the custom pixel's report of a completed checkout (sent as `text/plain`
/// JSON, so the browser makes no preflight). The report only links an order to a click; the order
/// webhook stays the source of money, and a report counts only for the checkout token it names.
pub async fn pixel(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    axum::extract::Path(shop): axum::extract::Path<String>,
    body: bytes::Bytes,
) -> Response {
    use crate::services::orders::{self, OrderError, PixelOutcome, PixelReport};
    let answer = |status: StatusCode, value: serde_json::Value| {
        (status, [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], axum::Json(value)).into_response()
    };
    if body.len() > 4_096 {
        return answer(StatusCode::PAYLOAD_TOO_LARGE, serde_json::json!({ "error": "The report is too large." }));
    }
    let services = &state.services;
    let merchant = match services.shopify.for_slug(&shop).await {
        Ok(Some((merchant, _))) => merchant,
        Ok(None) => {
            return answer(StatusCode::NOT_FOUND, serde_json::json!({ "error": "No Rekomi shop has this address." }))
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "pixel: shop lookup failed");
            return answer(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": "Try again later." }));
        }
    };
    let report: PixelReport = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({ "error": format!("The report is not valid: {e}.") }),
            )
        }
    };
    match orders::pixel_report(&services.db, &services.tracker, merchant, &report, crate::clock::now_ms()).await {
        Ok(PixelOutcome::Kept) => answer(StatusCode::ACCEPTED, serde_json::json!({ "kept": true })),
        Ok(PixelOutcome::Duplicate) => answer(StatusCode::OK, serde_json::json!({ "kept": false, "duplicate": true })),
        Ok(PixelOutcome::Attributed(a)) => answer(StatusCode::OK, serde_json::json!({ "kept": true, "conversion": a })),
        Err(OrderError::Invalid(message)) => {
            answer(StatusCode::UNPROCESSABLE_ENTITY, serde_json::json!({ "error": message }))
        }
        Err(OrderError::Internal(e)) => {
            tracing::error!(error = format!("{e:#}"), "pixel report failed");
            answer(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": "Try again later." }))
        }
    }
}
