//! How long browsers keep the static files. Hashed build output (`/pkg/rekomi.<hash>.wasm`, …)
//! never changes under its name, so it is cached for a year without asking again; unhashed files
//! (a build without `hash-files`, the favicon) are revalidated on each use, so a new build is
//! never hidden behind an old copy.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

const FOR_EVER: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

pub async fn cache(State(hashed): State<bool>, request: Request, next: Next) -> Response {
    let kind = static_kind(request.uri().path(), hashed);
    let mut response = next.run(request).await;
    if let Some(value) = kind {
        if response.status().is_success() && !response.headers().contains_key(header::CACHE_CONTROL) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
            // The same address answers brotli, gzip or plain bytes: caches must key on the encoding.
            response.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }
    response
}

/// The caching a static path gets, or `None` for pages and APIs (they set their own).
fn static_kind(path: &str, hashed: bool) -> Option<HeaderValue> {
    if path.starts_with("/pkg/") {
        Some(if hashed { FOR_EVER } else { REVALIDATE })
    } else if path == "/favicon.ico" {
        Some(REVALIDATE)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_build_output_is_kept_for_ever() {
        assert_eq!(static_kind("/pkg/rekomi.abc.wasm", true), Some(FOR_EVER));
        assert_eq!(static_kind("/pkg/rekomi.wasm", false), Some(REVALIDATE));
        assert_eq!(static_kind("/favicon.ico", true), Some(REVALIDATE));
        assert_eq!(static_kind("/app/queue", true), None);
        assert_eq!(static_kind("/api/v1/affiliates", true), None);
    }
}
