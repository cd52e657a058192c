//! The HTTP surface around the Leptos app: the state every handler reaches, the one route table,
//! the extractors that say who is calling (`auth`), and plain axum handlers. Handlers parse the
//! request, call a service, and shape the answer; they never touch the store.

pub mod api_v1;
pub mod assets;
pub mod auth;
pub mod branding;
pub mod client_ip;
pub mod downloads;
pub mod health;
pub mod imports;
pub mod join;
pub mod portal;
pub mod same_origin;
pub mod sync_events;
pub mod tracking;
pub mod webhooks;

use crate::config::Config;
use crate::services::Services;
use app::{shell, App};
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Router};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Handles>);

/// The state's contents. axum clones the state for every request, so it lives behind one `Arc`.
pub struct Handles {
    pub leptos: LeptosOptions,
    pub services: Services,
    pub trust_proxy: bool,
}

impl std::ops::Deref for AppState {
    type Target = Handles;
    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// What the tracking redirect needs, taken from the state without cloning all of it (it is the
/// hottest route).
#[derive(Clone)]
pub struct Redirects {
    pub tracker: Arc<crate::tracking::Tracker>,
    pub secure_cookies: bool,
    pub trust_proxy: bool,
}

impl FromRef<AppState> for Redirects {
    fn from_ref(state: &AppState) -> Self {
        Self {
            tracker: state.services.tracker.clone(),
            secure_cookies: state.services.public_base.starts_with("https://"),
            trust_proxy: state.trust_proxy,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Arguments a server function can't decode are answered before the function runs, with
/// leptos_axum's status 500 around our `AppError` body ("The request was not understood: …"). The
/// answer takes the status that error names (422 there), so a bad request never reads as a crash;
/// a real internal error keeps its 500.
async fn server_fn_status(request: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    use axum::http::{Method, StatusCode};
    let server_fn = request.method() == Method::POST && request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Every route of the server, with its middleware.
pub fn router(config: &Config, services: Services) -> Router {
    let leptos = config.leptos.clone();
    app::assets::stylesheet_href(&leptos);
    let hashed_assets = leptos.hash_files;
    let routes = generate_route_list(App);
    let for_server_fns = Arc::new(services.clone());
    let state = AppState(Arc::new(Handles { leptos: leptos.clone(), services, trust_proxy: config.trust_proxy }));
    let trusted = same_origin::TrustedOrigins(Arc::new(config.public_url.iter().cloned().collect()));
    let hooks = if config.test_hooks {
        tracing::warn!("REKOMI_TEST_HOOKS is on: /_test/clock can move the clock; never use this in production");
        Router::new().route("/_test/clock", post(downloads::advance_clock))
    } else {
        Router::new()
    };
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, move || provide_context(for_server_fns.clone()), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::merchant_pages))
        .layer(middleware::from_fn(server_fn_status));
    Router::new()
        .merge(hooks)
        .route("/join/{merchant}/{campaign}", get(join::show).post(join::submit))
        .route("/join/{merchant}/{campaign}/verify", get(join::show_verify).post(join::verify))
        .route("/healthz", get(health::healthz))
        .route("/t/snippet.js", get(tracking::snippet))
        .route("/portal/{shop}", get(portal::show))
        .route("/portal/{shop}/link", post(portal::request_link))
        .route("/portal/{shop}/login", get(portal::confirm).post(portal::login))
        .route("/portal/{shop}/payout", post(portal::payout))
        .route("/portal/{shop}/logout", post(portal::logout))
        .route("/webhooks/shopify/{shop}", post(webhooks::shopify))
        .route("/pixel/{shop}", post(tracking::pixel))
        .route("/api/v1/conversions", post(api_v1::orders::conversions))
        .route("/api/v1/conversions/{order_id}/refunds", post(api_v1::orders::refunds))
        .route("/api/v1/affiliates", get(api_v1::people::affiliates))
        .route("/api/v1/affiliates/status", get(api_v1::people::status))
        .route("/api/v1/affiliates/rate", post(api_v1::people::rate_bump))
        .route("/api/v1/invites", post(api_v1::people::invite))
        .route("/api/v1/commissions", get(api_v1::people::commissions))
        .route("/api/v1/payouts", get(api_v1::people::payouts))
        .route("/api/v1/openapi.json", get(api_v1::docs::openapi_json))
        .route("/api/v1/docs", get(api_v1::docs::page))
        .route("/api/v1/{*rest}", axum::routing::any(api_v1::not_found))
        .route("/api/payouts/{run}/{kind}", get(downloads::payout_file))
        .route("/api/exports/results.csv", get(downloads::results))
        .route("/api/exports/{what}", get(downloads::export))
        .route("/api/sync/events", get(sync_events::stream))
        .route(
            "/api/imports/upload",
            post(imports::upload).layer(DefaultBodyLimit::max(crate::services::imports::MAX_FILE_BYTES + 1)),
        )
        .route("/api/imports/{id}/confirm", post(imports::confirm))
        .route(
            "/api/campaigns/{id}/images/{slot}",
            axum::routing::put(branding::upload)
                .delete(branding::remove)
                .layer(DefaultBodyLimit::max(app::domain::branding::ImageSlot::Hero.max_bytes())),
        )
        .route("/media/{name}", get(branding::image))
        .merge(pages)
        // Static files: leptos serves the precompressed `.br`/`.gz` siblings that
        // `cargo leptos build --release --precompress` writes; `assets::cache` says how long to keep them.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(hashed_assets, assets::cache))
        // Everything else compressible (pages, server-function answers, the API) is compressed on
        // the fly: brotli at level 4 or gzip, as the browser accepts; event streams and images are not.
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(middleware::from_fn_with_state(trusted, same_origin::check))
        .layer(middleware::from_fn_with_state(config.trust_proxy, client_ip::resolve))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        // The tracking redirect is merged after the layers, so it runs without them: it is the
        // hottest route, answers only a 302 (nothing to frame or sniff), needs no CSRF check
        // (a GET), and resolves the client address itself.
        .merge(Router::new().route("/r/{code}", get(tracking::redirect)))
        .with_state(state)
}

/// The value of the request's cookie `name`, if it has a non-empty one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v)
}
