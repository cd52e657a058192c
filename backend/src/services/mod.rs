//! Use cases, called by the server functions (through `ports`), the public routes and the tests.
//! Each area has its own error enum with the cases a caller acts on; [`AppError`] conversions here
//! are where an internal cause is logged, once.

pub mod accounts;
pub mod affiliates;
pub mod branding;
pub mod campaigns;
pub mod discounts;
pub mod earnings;
pub mod exports;
pub mod idempotency;
pub mod imports;
pub mod integrations;
pub mod invites;
pub mod klaviyo;
pub mod orders;
pub mod overview;
pub mod payouts;
pub mod portal;
pub mod rate_limit;
pub mod recovery;
pub mod rest;
pub mod shop;
pub mod shopify;
pub mod sync;
pub mod verification;

use crate::store::Db;
use shared::error::AppError;

/// Logs an internal failure with its cause chain and returns the generic message.
pub(crate) fn internal(error: &anyhow::Error) -> AppError {
    tracing::error!(error = format!("{error:#}"), "request failed");
    AppError::internal()
}

/// The shared handles every service uses.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub accounts: accounts::Accounts,
    pub applications: std::sync::Arc<rate_limit::IpRateLimiter>,
    pub klaviyo: klaviyo::KlaviyoConnections,
    pub invites: invites::Invites,
    pub tracker: std::sync::Arc<crate::tracking::Tracker>,
    pub shopify: shopify::ShopifySecrets,
    /// The merchant's store as a connected app (tokens, webhook subscriptions).
    pub shop: shop::ShopConnections,
    /// Seals the webhook endpoints' signing secrets.
    pub sealer: crate::secrets::Sealer,
    /// Webhook endpoints may be on private addresses (tests, local development).
    pub webhooks_allow_private: bool,
    /// REST API requests per token.
    pub api_limiter: std::sync::Arc<rate_limit::KeyedRateLimiter<i64>>,
    /// Where this instance is reached, for absolute links (tracking, portal sign-in).
    pub public_base: String,
}

impl Services {
    /// Missed Shopify orders, read from the shop ([`recovery`]).
    pub fn recovery(&self) -> recovery::OrderRecovery {
        recovery::OrderRecovery { db: self.db.clone(), shop: self.shop.clone(), tracker: self.tracker.clone() }
    }

    /// Whether the database answers a trivial query (the health check).
    pub async fn database_answers(&self) -> Result<(), crate::store::DbError> {
        crate::store::ping(&self.db).await
    }
}
