//! Cross-site request forgery protection for every state-changing request.
//!
//! Browsers label each request with where it came from: `Sec-Fetch-Site` (Fetch Metadata) and, on
//! POST, `Origin`. A request another site's page makes carries `Sec-Fetch-Site: cross-site` and that
//! site's origin, and is refused here before any handler runs, whether it is a server function, a
//! form post or a future API call made with the session cookie. This is OWASP's "verifying origin
//! with standard headers" defence, and the session cookie's `SameSite=Lax` stands behind it.
//! Requests without either header (curl, server-to-server) carry no ambient browser credentials.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Origins accepted besides the request's own `Host` (the configured public URL behind a proxy).
#[derive(Clone, Default)]
pub struct TrustedOrigins(pub Arc<Vec<String>>);

pub async fn check(State(trusted): State<TrustedOrigins>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = match origin {
        None => true,
        Some(origin) => {
            let authority = origin.split_once("://").map(|(_, rest)| rest);
            authority.is_some_and(|a| Some(a) == host) || trusted.0.iter().any(|t| t == origin)
        }
    };
    if site == Some("cross-site") || !origin_ok {
        tracing::warn!(origin, site, host, path = %req.uri().path(), "cross-site request refused");
        let message = "This request came from another website, so Rekomi refused it. \
            If you reach Rekomi through a proxy, set REKOMI_PUBLIC_URL to the address you use.";
        if req.uri().path().starts_with("/api/") {
            let error = app::error::AppError::new(app::error::ErrorKind::Forbidden, message);
            return (StatusCode::FORBIDDEN, axum::Json(error)).into_response();
        }
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    next.run(req).await
}
