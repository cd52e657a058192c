//! Builds the application (database, services, router) and binds its port, then serves until
//! SIGINT/SIGTERM. Tests build it with port 0 and their own configuration.

use crate::config::Config;
use crate::links::LinkSigner;
use crate::routes::{
    api_v1, client_ip, downloads, health, imports, join, portal, same_origin, sync_events, tracking, webhooks,
};
use crate::secrets::Sealer;
use crate::services::accounts::Accounts;
use crate::services::invites::Invites;
use crate::services::klaviyo::KlaviyoConnections;
use crate::services::rate_limit::IpRateLimiter;
use crate::services::Services;
use crate::store::{now_ms, Db};
use crate::sync::{Engine, SyncSignals};
use anyhow::Context;
use app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::{middleware, Router};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
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

pub struct Application {
    listener: TcpListener,
    router: Router,
    services: Services,
    sync: crate::sync::Settings,
    clicks: crate::tracking::writer::Writer,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url).await?;
        crate::services::accounts::warm_up().await?;
        let listener =
            TcpListener::bind(config.addr).await.with_context(|| format!("could not listen on {}", config.addr))?;
        // Links in emails must be absolute: the public address, or where this instance listens.
        let public_base = config.public_url.clone().unwrap_or_else(|| match listener.local_addr() {
            Ok(addr) => format!("http://{addr}"),
            Err(_) => format!("http://{}", config.addr),
        });
        let sealer = Sealer::new(&config.secret_key.0);
        let (tracker, clicks) = crate::tracking::Tracker::new(db.clone(), &config.secret_key.0);
        let services = Services {
            accounts: Accounts::new(
                db.clone(),
                Arc::new(IpRateLimiter::per_minute(config.auth_per_minute)),
                config.secure_cookies(),
            ),
            applications: Arc::new(IpRateLimiter::per_minute(config.apply_per_minute)),
            klaviyo: KlaviyoConnections::new(
                db.clone(),
                crate::klaviyo::Client::new(&config.klaviyo_api_base)?,
                Sealer::new(&config.secret_key.0),
                config.klaviyo_tests_per_minute,
            ),
            sync: SyncSignals::default(),
            invites: Invites { signer: LinkSigner::new(&config.secret_key.0), public_base: public_base.clone() },
            tracker: Arc::new(tracker),
            shopify: crate::services::shopify::ShopifySecrets::new(db.clone(), sealer.clone()),
            sealer,
            webhooks_allow_private: config.webhooks_allow_private,
            api_limiter: Arc::new(crate::services::rate_limit::KeyedRateLimiter::per_minute(config.api_per_minute)),
            public_base,
            db,
        };
        let router = router(&config, services.clone());
        Ok(Self { listener, router, services, sync: config.sync.clone(), clicks })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn engine(&self) -> &'static str {
        self.services.db.engine()
    }

    /// Serves until SIGINT or SIGTERM, finishing requests in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.services.clone()));
        let clicks = tokio::spawn(self.clicks.run());
        let workers = self.sync.worker.then(|| {
            let s = &self.services;
            let engine = Engine::new(s.db.clone(), s.klaviyo.clone(), s.sync.clone(), self.sync.clone());
            let webhooks = crate::outgoing::WebhookWorker::new(
                s.db.clone(),
                s.sealer.clone(),
                engine.owner(),
                s.webhooks_allow_private,
            );
            let webhooks = match webhooks {
                Ok(worker) => Some(tokio::spawn(worker.run())),
                Err(error) => {
                    tracing::error!(%error, "could not start the webhook worker");
                    None
                }
            };
            (tokio::spawn(engine.events(s.public_base.clone()).run()), tokio::spawn(engine.run()), webhooks)
        });
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown_signal()).await;
        housekeeping.abort();
        // Every request has finished, so every click is queued: write them all before exiting.
        if !self.services.tracker.flush_within(Duration::from_secs(30)).await {
            tracing::error!("the database did not take the last clicks within 30 s; some were not recorded");
        }
        clicks.abort();
        if let Some((events, sync, webhooks)) = workers {
            events.abort();
            sync.abort();
            if let Some(webhooks) = webhooks {
                webhooks.abort();
            }
        }
        self.services.db.close().await;
        served.context("the HTTP server stopped with an error")
    }
}

fn router(config: &Config, services: Services) -> Router {
    let leptos = config.leptos.clone();
    let routes = generate_route_list(App);
    let ports = services.ports();
    let state = AppState(Arc::new(Handles { leptos: leptos.clone(), services, trust_proxy: config.trust_proxy }));
    let trusted = same_origin::TrustedOrigins(Arc::new(config.public_url.iter().cloned().collect()));
    let hooks = if config.test_hooks {
        tracing::warn!("REKOMI_TEST_HOOKS is on: /_test/clock can move the clock; never use this in production");
        Router::new().route("/_test/clock", post(downloads::advance_clock))
    } else {
        Router::new()
    };
    Router::new()
        .merge(hooks)
        .route("/join/{merchant}/{campaign}", get(join::show).post(join::submit))
        .route("/healthz", get(health::healthz))
        .route("/t/snippet.js", get(tracking::snippet))
        .route("/portal/{shop}", get(portal::show))
        .route("/portal/{shop}/link", post(portal::request_link))
        .route("/portal/{shop}/login", get(portal::confirm).post(portal::login))
        .route("/portal/{shop}/payout", post(portal::payout))
        .route("/portal/{shop}/logout", post(portal::logout))
        .route("/webhooks/shopify/{shop}", post(webhooks::shopify))
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
        .route("/api/exports/{what}", get(downloads::export))
        .route("/api/sync/events", get(sync_events::stream))
        .route(
            "/api/imports/upload",
            post(imports::upload).layer(DefaultBodyLimit::max(crate::services::imports::MAX_FILE_BYTES + 1)),
        )
        .route("/api/imports/{id}/confirm", post(imports::confirm))
        .leptos_routes_with_context(&state, routes, move || provide_context(ports.clone()), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
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

/// Approves commissions whose hold is over every minute; drops expired sessions and idle
/// rate-limit entries every ten.
async fn housekeeping(services: Services) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut minutes: u64 = 0;
    loop {
        tick.tick().await;
        match crate::store::earnings::approve_due(&services.db, now_ms()).await {
            Ok(n) if n > 0 => tracing::info!(commissions = n, "hold period over; commissions approved"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not approve due commissions"),
        }
        minutes += 1;
        if minutes % 10 != 1 {
            continue;
        }
        match crate::store::accounts::delete_expired_sessions(&services.db, now_ms()).await {
            Ok(n) if n > 0 => tracing::info!(sessions = n, "expired sessions removed"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not remove expired sessions"),
        }
        if let Err(error) = crate::store::api_tokens::delete_old_keys(&services.db, now_ms()).await {
            tracing::warn!(%error, "could not remove old idempotency keys");
        }
        if let Err(error) = crate::store::portal::delete_expired(&services.db, now_ms()).await {
            tracing::warn!(%error, "could not remove expired portal sessions");
        }
        services.accounts.limiter().forget_idle();
        services.applications.forget_idle();
        services.klaviyo.forget_idle();
        services.api_limiter.forget_idle();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "could not listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
