//! Builds the application (database, services, router) and binds its port, then serves until
//! SIGINT/SIGTERM. Tests build it with port 0 and their own configuration.

use crate::config::Config;
use crate::links::LinkSigner;
use crate::secrets::Sealer;
use crate::services::accounts::Accounts;
use crate::services::invites::Invites;
use crate::services::klaviyo::KlaviyoConnections;
use crate::services::rate_limit::IpRateLimiter;
use crate::services::Services;
use crate::store::{now_ms, Db};
use anyhow::Context;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: Router,
    services: Services,
    sync: crate::outbox::Settings,
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
        let shopify_secrets = crate::services::shopify::ShopifySecrets::new(db.clone(), sealer.clone());
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
            invites: Invites { signer: LinkSigner::new(&config.secret_key.0), public_base: public_base.clone() },
            tracker: Arc::new(tracker),
            shopify: shopify_secrets.clone(),
            shop: crate::services::shop::ShopConnections {
                db: db.clone(),
                api: crate::shopify::Client::new(config.shopify_api_base.as_deref())?,
                sealer: sealer.clone(),
                secrets: shopify_secrets,
                public_base: public_base.clone(),
                fake_api: config.shopify_api_base.is_some(),
            },
            sealer,
            webhooks_allow_private: config.webhooks_allow_private,
            api_limiter: Arc::new(crate::services::rate_limit::KeyedRateLimiter::per_minute(config.api_per_minute)),
            public_base,
            db,
        };
        let router = crate::routes::router(&config, services.clone());
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
        let runners = if self.sync.worker {
            let s = &self.services;
            crate::outbox::start(
                crate::outbox::Handles {
                    db: s.db.clone(),
                    connections: s.klaviyo.clone(),
                    sealer: s.sealer.clone(),
                    public_base: s.public_base.clone(),
                    webhooks_allow_private: s.webhooks_allow_private,
                    shop: s.shop.clone(),
                },
                &self.sync,
            )
        } else {
            Vec::new()
        };
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown_signal()).await;
        housekeeping.abort();
        // Every request has finished, so every click is queued: write them all before exiting.
        if !self.services.tracker.flush_within(Duration::from_secs(30)).await {
            tracing::error!("the database did not take the last clicks within 30 s; some were not recorded");
        }
        clicks.abort();
        for runner in runners {
            runner.abort();
        }
        self.services.db.close().await;
        served.context("the HTTP server stopped with an error")
    }
}

/// Approves commissions whose hold is over every minute; drops expired sessions and idle
/// rate-limit entries every ten.
async fn housekeeping(services: Services) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut minutes: u64 = 0;
    loop {
        tick.tick().await;
        match crate::services::earnings::approve_due(&services.db, now_ms()).await {
            Ok(n) if n > 0 => tracing::info!(commissions = n, "hold period over; commissions approved"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not approve due commissions"),
        }
        minutes += 1;
        // Each shop's orders are read every ten minutes (each taken by one instance).
        services.recovery().run_due().await;
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
        if let Err(error) = crate::store::verifications::delete_expired(&services.db, now_ms()).await {
            tracing::warn!(%error, "could not remove expired verification links");
        }
        services.shop.recheck_due().await;
        match crate::services::integrations::scrub_sent_links(&services.db, now_ms()).await {
            Ok(n) if n > 0 => tracing::info!(events = n, "links with tokens removed from sent events"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = format!("{error:#}"), "could not scrub sent events"),
        }
        match crate::services::imports::expire(&services.db, now_ms()).await {
            Ok(n) if n > 0 => tracing::info!(imports = n, "unconfirmed dry runs expired with their files"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = format!("{error:#}"), "could not expire dry runs"),
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
