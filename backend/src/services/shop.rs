//! The merchant's Shopify store as a connected app (a Dev Dashboard app on their own store, by the
//! client-credentials grant): a live check that names what is missing, tokens renewed before they
//! expire, the webhook subscriptions Rekomi needs made and re-made, and what arrived on each.

use crate::secrets::Sealer;
use crate::services::shopify::ShopifySecrets;
use crate::shopify::documents::{SHOP_INFO, WEBHOOK_CREATE, WEBHOOK_LIST};
use crate::shopify::{self, missing_scopes, Client, ShopDomain, ShopifyError, REQUIRED_SCOPES};
use crate::store::shop::{self as store, Checked, ConnectionRow};
use crate::store::{now_ms, Db};
use anyhow::Context;
use serde::Deserialize;
use serde_json::json;
use shared::domain::clock::format_utc;
use shared::domain::{FieldErrors, MerchantId};
use shared::error::{AppError, ErrorKind};
use shared::views::{ShopConnectForm, ShopConnectionView, ShopPage, ShopWebhookView};

/// The topics Rekomi subscribes to: the GraphQL enum value and the topic deliveries carry.
pub const TOPICS: [(&str, &str); 4] = [
    ("ORDERS_PAID", "orders/paid"),
    ("REFUNDS_CREATE", "refunds/create"),
    ("ORDERS_CANCELLED", "orders/cancelled"),
    ("APP_UNINSTALLED", "app/uninstalled"),
];

/// A token is renewed when it has less than this left.
const RENEW_BEFORE_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("invalid")]
    Invalid(FieldErrors),
    #[error("no shop connected")]
    NotConnected,
    #[error("the app was uninstalled")]
    Uninstalled,
    #[error("Shopify: {0}")]
    Shopify(ShopifyError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ShopError> for AppError {
    fn from(value: ShopError) -> Self {
        match value {
            ShopError::Invalid(fields) => AppError::invalid(fields),
            ShopError::NotConnected => AppError::new(ErrorKind::NotFound, "No Shopify store is connected yet."),
            ShopError::Uninstalled => AppError::new(
                ErrorKind::Upstream,
                "The Rekomi app was uninstalled from your store. Install it again in Shopify's Dev Dashboard, then reconnect here.",
            ),
            ShopError::Shopify(e) if e.is_transient() => AppError::new(
                ErrorKind::Upstream,
                "Shopify didn't answer properly just now. Nothing was changed; try again in a minute.",
            ),
            ShopError::Shopify(e) => {
                tracing::error!(error = %e, "Shopify refused a call");
                AppError::new(ErrorKind::Upstream, format!("Shopify refused the request: {e}."))
            }
            ShopError::Internal(e) => super::internal(&e),
        }
    }
}

fn field(name: &str, message: impl Into<String>) -> ShopError {
    let mut fields = FieldErrors::new();
    fields.add(name, message);
    ShopError::Invalid(fields)
}

#[derive(Deserialize)]
struct ShopInfo {
    shop: ShopFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopFields {
    name: String,
    currency_code: String,
    plan: Plan,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plan {
    public_display_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookPage {
    webhook_subscriptions: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    nodes: Vec<Subscription>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
struct Subscription {
    id: String,
    topic: String,
    uri: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookCreated {
    webhook_subscription_create: CreatePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePayload {
    webhook_subscription: Option<Subscription>,
    user_errors: Vec<shopify::client::UserError>,
}

#[derive(Clone)]
pub struct ShopConnections {
    pub db: Db,
    pub api: Client,
    pub sealer: Sealer,
    pub secrets: ShopifySecrets,
    pub public_base: String,
    /// Shopify can reach `http://127.0.0.1` only when it is a fake on this machine.
    pub fake_api: bool,
}

fn owner(merchant: MerchantId, what: &str) -> String {
    format!("shopify-{what}:{merchant}")
}

impl ShopConnections {
    fn webhook_address(&self, merchant_slug: &str) -> String {
        format!("{}/webhooks/shopify/{merchant_slug}", self.public_base)
    }

    fn deliverable(&self) -> bool {
        self.fake_api || self.public_base.starts_with("https://")
    }

    /// The page: the connection with its webhooks, and the setup facts.
    pub async fn page(&self, merchant: MerchantId, merchant_slug: &str) -> Result<ShopPage, ShopError> {
        let connection = match store::get(&self.db, merchant).await.context("reading the connection")? {
            None => None,
            Some(row) => {
                let hooks = store::webhooks(&self.db, merchant).await.context("reading the webhooks")?;
                Some(view(&row, &hooks))
            }
        };
        Ok(ShopPage {
            connection,
            webhook_address: self.webhook_address(merchant_slug),
            webhooks_deliverable: self.deliverable(),
            required_scopes: REQUIRED_SCOPES.iter().map(|(s, why)| ((*s).to_owned(), (*why).to_owned())).collect(),
        })
    }

    /// Checks the credentials live and connects the shop; each problem is named on its field.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn connect(
        &self,
        merchant: MerchantId,
        merchant_slug: &str,
        form: &ShopConnectForm,
    ) -> Result<ShopPage, ShopError> {
        let mut fields = FieldErrors::new();
        let shop = ShopDomain::parse(&form.shop_domain).map_err(|m| fields.add("shop_domain", m)).ok();
        let client_id = form.client_id.trim();
        let client_secret = form.client_secret.trim();
        if client_id.is_empty() {
            fields.add("client_id", "Paste the app's client ID (Dev Dashboard → your app → Settings).");
        }
        if client_secret.is_empty() {
            fields.add("client_secret", "Paste the app's client secret (Dev Dashboard → your app → Settings).");
        }
        let (Some(shop), true) = (shop, fields.is_empty()) else { return Err(ShopError::Invalid(fields)) };
        if let Some(other) = store::owner_of(&self.db, shop.as_str()).await.context("checking the shop")? {
            if other != merchant {
                return Err(field("shop_domain", format!("{shop} is connected to another Rekomi account.")));
            }
        }
        let token = match self.api.client_credentials(&shop, client_id, client_secret).await {
            Ok(token) => token,
            Err(ShopifyError::UnknownShop) => {
                return Err(field("shop_domain", format!("No Shopify store answers at {shop}. Check the address.")))
            }
            Err(ShopifyError::BadCredentials) => {
                return Err(field(
                    "client_secret",
                    "Shopify refused this client ID and secret. Copy both again from the Dev Dashboard (your app → Settings).",
                ))
            }
            Err(ShopifyError::NotInstalled) => {
                return Err(field(
                    "client_id",
                    format!("This app isn't installed on {shop}. In the Dev Dashboard open the app, choose Install app and pick this store."),
                ))
            }
            Err(ShopifyError::Unavailable(_)) => {
                return Err(field("shop_domain", format!("{shop} is paused, frozen or closed, so Shopify refuses apps.")))
            }
            Err(e) => return Err(ShopError::Shopify(e)),
        };
        let missing = missing_scopes(&token.scope);
        if !missing.is_empty() {
            let named: Vec<String> = REQUIRED_SCOPES
                .iter()
                .filter(|(s, _)| missing.contains(s))
                .map(|(s, why)| format!("{s} ({why})"))
                .collect();
            return Err(field(
                "scopes",
                format!(
                    "The app lacks {}: {}. In the Dev Dashboard add {} under the app's access scopes, release a new version, install it again, then connect.",
                    if named.len() == 1 { "an access scope" } else { "access scopes" },
                    named.join("; "),
                    if named.len() == 1 { "it" } else { "them" },
                ),
            ));
        }
        let info: ShopInfo =
            self.api.graphql(&shop, &token.access_token, SHOP_INFO, json!({})).await.map_err(ShopError::Shopify)?;
        let now = now_ms();
        let sealed_secret = self.sealer.seal(client_secret, &owner(merchant, "secret")).context("sealing")?;
        let sealed_token = self.sealer.seal(&token.access_token, &owner(merchant, "token")).context("sealing")?;
        let expires_at = token.expires_in.map(|s| now + i64::try_from(s).unwrap_or(86_399) * 1000);
        let mut tx = self.db.begin().await.context("saving the connection")?;
        let checked = Checked {
            shop_domain: shop.as_str(),
            client_id,
            client_secret: &sealed_secret,
            access_token: &sealed_token,
            token_expires_at: expires_at,
            scopes: &token.scope,
            shop_name: &info.shop.name,
            currency: &info.shop.currency_code,
            plan: &info.shop.plan.public_display_name,
        };
        match store::upsert(&mut tx, merchant, &checked, now).await {
            Ok(()) => {}
            Err(e) if e.is_conflict_on("shopify_connections_shop", "shopify_connections.shop_domain") => {
                return Err(field("shop_domain", format!("{shop} is connected to another Rekomi account.")))
            }
            Err(e) => return Err(anyhow::Error::from(e).context("saving the connection").into()),
        }
        tx.commit().await.context("saving the connection")?;
        // The app's secret signs the shop's webhooks: it replaces a secret pasted by hand.
        self.secrets.set(merchant, merchant_slug, Some(client_secret)).await?;
        self.ensure_webhooks(merchant, merchant_slug).await?;
        // Codes waiting for a shop (or made in another one) are looked at now.
        let mut tx = self.db.begin().await.context("queueing discount codes")?;
        crate::outbox::discounts_for_merchant(&mut tx, merchant, now_ms()).await.context("queueing discount codes")?;
        tx.commit().await.context("queueing discount codes")?;
        self.page(merchant, merchant_slug).await
    }

    /// Disconnects: Rekomi's webhook subscriptions are removed from the shop where it still
    /// answers, then the credentials are forgotten.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn disconnect(&self, merchant: MerchantId, merchant_slug: &str) -> Result<ShopPage, ShopError> {
        if let Ok((shop, token)) = self.token(merchant).await {
            for hook in store::webhooks(&self.db, merchant).await.context("reading the webhooks")? {
                if let Some(id) = hook.subscription_id {
                    let deleted: Result<serde_json::Value, _> =
                        self.api.graphql(&shop, &token, shopify::documents::WEBHOOK_DELETE, json!({ "id": id })).await;
                    if let Err(e) = deleted {
                        tracing::warn!(error = %e, topic = hook.topic, "a webhook subscription could not be removed");
                    }
                }
            }
        }
        let mut tx = self.db.begin().await.context("disconnecting")?;
        store::delete(&mut tx, merchant).await.context("disconnecting")?;
        tx.commit().await.context("disconnecting")?;
        self.secrets.set(merchant, merchant_slug, None).await?;
        self.page(merchant, merchant_slug).await
    }

    /// The shop and a live token, renewed by the client-credentials grant when it is close to
    /// expiring (or refused).
    pub async fn token(&self, merchant: MerchantId) -> Result<(ShopDomain, String), ShopError> {
        let row =
            store::get(&self.db, merchant).await.context("reading the connection")?.ok_or(ShopError::NotConnected)?;
        if row.state != "connected" {
            return Err(ShopError::Uninstalled);
        }
        let shop = ShopDomain::parse(&row.shop_domain).map_err(|m| anyhow::anyhow!(m))?;
        let now = now_ms();
        let fresh = row.token_expires_at.is_none_or(|at| at - now > RENEW_BEFORE_MS);
        if let (Some(sealed), true) = (&row.access_token, fresh) {
            let token = self.sealer.open(sealed, &owner(merchant, "token")).context("opening the token")?;
            return Ok((shop, token));
        }
        self.renew(&row, &shop).await.map(|token| (shop, token))
    }

    async fn renew(&self, row: &ConnectionRow, shop: &ShopDomain) -> Result<String, ShopError> {
        let merchant = row.merchant_id;
        let secret = self.sealer.open(&row.client_secret, &owner(merchant, "secret")).context("opening the secret")?;
        let token = match self.api.client_credentials(shop, &row.client_id, &secret).await {
            Ok(token) => token,
            Err(ShopifyError::NotInstalled | ShopifyError::BadCredentials) => {
                store::mark_uninstalled(&self.db, merchant, now_ms()).await.context("marking uninstalled")?;
                return Err(ShopError::Uninstalled);
            }
            Err(e) => return Err(ShopError::Shopify(e)),
        };
        let now = now_ms();
        let sealed = self.sealer.seal(&token.access_token, &owner(merchant, "token")).context("sealing")?;
        let expires_at = token.expires_in.map(|s| now + i64::try_from(s).unwrap_or(86_399) * 1000);
        store::set_token(&self.db, merchant, &sealed, expires_at, &token.scope, now)
            .await
            .context("saving the token")?;
        tracing::info!(merchant.id = %merchant, "Shopify access token renewed");
        Ok(token.access_token)
    }

    /// Makes sure each topic has its subscription to this instance's address: lists what the
    /// shop has, creates what is missing, records what happened per topic. Run on connect and daily.
    pub async fn ensure_webhooks(&self, merchant: MerchantId, merchant_slug: &str) -> Result<(), ShopError> {
        let address = self.webhook_address(merchant_slug);
        let now = now_ms();
        if !self.deliverable() {
            for (_, topic) in TOPICS {
                let why = "Shopify delivers webhooks only to a public https address; set REKOMI_PUBLIC_URL.";
                store::set_webhook(&self.db, merchant, topic, &address, None, Some(why), now)
                    .await
                    .context("saving")?;
            }
            return Ok(());
        }
        let (shop, token) = self.token(merchant).await?;
        let mut existing = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page: WebhookPage = self
                .api
                .graphql(&shop, &token, WEBHOOK_LIST, json!({ "first": 100, "after": after }))
                .await
                .map_err(ShopError::Shopify)?;
            existing.extend(page.webhook_subscriptions.nodes);
            match page.webhook_subscriptions.page_info {
                PageInfo { has_next_page: true, end_cursor: Some(cursor) } => after = Some(cursor),
                _ => break,
            }
        }
        for (enum_value, topic) in TOPICS {
            if let Some(found) = existing.iter().find(|s| s.topic == enum_value && s.uri == address) {
                store::set_webhook(&self.db, merchant, topic, &address, Some(&found.id), None, now)
                    .await
                    .context("saving")?;
                continue;
            }
            let created: WebhookCreated = self
                .api
                .graphql(&shop, &token, WEBHOOK_CREATE, json!({ "topic": enum_value, "uri": address }))
                .await
                .map_err(ShopError::Shopify)?;
            let payload = created.webhook_subscription_create;
            let problem = payload.user_errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
            let id = payload.webhook_subscription.map(|s| s.id);
            let problem =
                (id.is_none())
                    .then(|| if problem.is_empty() { "Shopify made no subscription.".into() } else { problem });
            store::set_webhook(&self.db, merchant, topic, &address, id.as_deref(), problem.as_deref(), now)
                .await
                .context("saving")?;
        }
        Ok(())
    }
}

fn view(row: &ConnectionRow, hooks: &[store::WebhookRow]) -> ShopConnectionView {
    ShopConnectionView {
        shop_domain: row.shop_domain.clone(),
        shop_name: row.shop_name.clone(),
        currency: row.currency.clone(),
        plan: row.plan.clone(),
        client_id: row.client_id.clone(),
        scopes: row.scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        installed: row.state == "connected",
        checked_at: format_utc(row.checked_at),
        webhooks: TOPICS
            .iter()
            .map(|(_, topic)| {
                let hook = hooks.iter().find(|h| h.topic == *topic);
                ShopWebhookView {
                    topic: (*topic).to_owned(),
                    subscribed: hook.is_some_and(|h| h.subscription_id.is_some()),
                    received: hook.map_or(0, |h| h.received),
                    failures: hook.map_or(0, |h| h.failures),
                    last_received: hook.and_then(|h| h.last_received_at).map(format_utc),
                    problem: hook.and_then(|h| h.last_error.clone()),
                }
            })
            .collect(),
        orders_since: row.orders_cursor.map(format_utc),
        orders_checked: row.orders_checked_at.map(format_utc),
        orders_recovered: row.orders_recovered,
        orders_problem: row.orders_error.clone(),
    }
}

impl ShopConnections {
    /// Whether this delivery id was processed before.
    pub async fn delivery_seen(&self, merchant: MerchantId, webhook_id: &str) -> anyhow::Result<bool> {
        store::delivery_seen(&self.db, merchant, webhook_id).await.context("reading deliveries")
    }

    /// Counts a delivery on its topic's health line and, when it was processed, remembers its id so
    /// a repeat is not processed again. Never fails the delivery: the counts are only a display.
    pub async fn delivered(&self, merchant: MerchantId, topic: &str, webhook_id: &str, ok: bool) {
        let now = now_ms();
        if let Err(e) = store::webhook_received(&self.db, merchant, topic, ok, now).await {
            tracing::warn!(error = %e, "webhook health not recorded");
        }
        if ok && !webhook_id.is_empty() {
            if let Err(e) = store::first_delivery(&self.db, merchant, webhook_id, topic, now).await {
                tracing::warn!(error = %e, "delivery id not recorded");
            }
        }
    }

    /// `app/uninstalled`: the token is dropped and nothing more is called until a reconnect.
    pub async fn uninstalled(&self, merchant: MerchantId) -> anyhow::Result<()> {
        tracing::warn!(merchant.id = %merchant, "the Shopify app was uninstalled");
        store::mark_uninstalled(&self.db, merchant, now_ms()).await.context("marking uninstalled")
    }
}

/// How often each connected shop's subscriptions are re-checked.
pub const RECHECK_EVERY_MS: i64 = 24 * 3600 * 1000;

impl ShopConnections {
    /// The daily check: for each connected shop not checked for a day, lists its subscriptions and
    /// makes whatever is missing. Each shop is taken by one instance (a conditional update), and a
    /// failure is logged and tried again on the next day's pass. Forgets delivery ids older than a
    /// week (Shopify retries for 48 hours).
    pub async fn recheck_due(&self) {
        let now = now_ms();
        let before = now - RECHECK_EVERY_MS;
        if let Err(e) = store::prune_deliveries(&self.db, now - 7 * 24 * 3600 * 1000).await {
            tracing::warn!(error = %e, "old Shopify delivery ids not removed");
        }
        // A pixel report or an unattributed order is matched within the day, or never.
        if let Err(e) = crate::store::pixel::prune(&self.db, now - 24 * 3600 * 1000).await {
            tracing::warn!(error = %e, "old pixel reports not removed");
        }
        let due = match store::due_checks(&self.db, before, 50).await {
            Ok(due) => due,
            Err(e) => return tracing::warn!(error = %e, "could not list the shops to check"),
        };
        for (merchant, slug) in due {
            match store::take_check(&self.db, merchant, before, now).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "could not take a shop check");
                    continue;
                }
            }
            if let Err(e) = self.ensure_webhooks(merchant, &slug).await {
                tracing::warn!(merchant.id = %merchant, error = %e, "the daily Shopify webhook check failed");
            }
        }
    }
}
