//! Job kind: payouts paid as Shopify store credit. For each payout of a run the merchant chose to
//! pay that way, the affiliate's customer account is found by email (or made), the amount is
//! credited in the shop's currency, and Shopify's transaction id is recorded. Once every payout of
//! the run is credited, the run is marked paid (events and webhooks as for any paid run).
//!
//! Never twice: before a credit is sent the row records that it is about to be; an attempt after
//! one whose answer was lost first reads the account's recent credits and takes a matching one as
//! done. A refusal (`userErrors`) stops the line with Shopify's words and pays nothing.

use super::runner::{Job, RunnerSettings};
use crate::services::shop::{ShopConnections, ShopError};
use crate::shopify::documents::{CUSTOMER_CREATE, CUSTOMER_FIND, STORE_CREDIT, STORE_CREDIT_RECENT};
use crate::shopify::ShopifyError;
use crate::store::store_credits::{self as store, ClaimedCredit};
use crate::store::{now_ms, Claim, Db, DbResult};
use serde_json::{json, Value};
use shared::domain::{Currency, MerchantId, Money, PayoutRunId, PersonName};
use std::time::Duration;
use tokio::sync::Notify;

/// Tries before a line stops for the merchant.
const MAX_ATTEMPTS: i64 = 8;
/// The reference a run paid this way carries.
pub const REFERENCE: &str = "Shopify store credit";

pub struct StoreCreditJob {
    pub db: Db,
    pub shop: ShopConnections,
}

impl StoreCreditJob {
    pub fn runner(lease: Duration) -> RunnerSettings {
        RunnerSettings {
            claim_limit: 200,
            per_merchant: 50,
            slots: 2,
            per_merchant_slots: 1,
            lease,
            idle_poll: Duration::from_secs(2),
        }
    }
}

/// Why a line isn't credited yet.
enum NotDone {
    /// Try again later (Shopify unreachable, throttled).
    Retry(String),
    /// Shopify refused: the merchant must act.
    Refused(String),
}

impl From<ShopifyError> for NotDone {
    fn from(e: ShopifyError) -> Self {
        if e.is_transient() {
            NotDone::Retry(format!("Shopify didn't answer properly ({e}); trying again."))
        } else if let ShopifyError::MissingScopes(scopes) = &e {
            NotDone::Refused(format!("The Shopify app lacks {}.", scopes.join(", ")))
        } else {
            NotDone::Refused(format!("Shopify refused: {e}."))
        }
    }
}

impl Job for StoreCreditJob {
    type Item = ClaimedCredit;
    type Group = PayoutRunId;
    const NAME: &'static str = "store-credit";
    const TABLE: &'static str = "store_credits";

    fn wake(&self) -> &'static Notify {
        &super::STORE_CREDITS
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedCredit>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedCredit) -> i64 {
        item.id
    }

    fn group(item: &ClaimedCredit) -> (MerchantId, PayoutRunId) {
        (item.merchant_id, item.run_id)
    }

    async fn work(&self, token: &str, merchant: MerchantId, run: PayoutRunId, rows: Vec<ClaimedCredit>) {
        for row in &rows {
            let outcome = self.credit(token, merchant, row).await;
            let now = now_ms();
            let saved = match outcome {
                Ok(transaction) => store::credited(&self.db, token, row.id, &transaction, now).await,
                Err(NotDone::Retry(m)) if row.attempts + 1 < MAX_ATTEMPTS => {
                    let wait = super::klaviyo_sync::plan::retry_delay(row.attempts + 1, None);
                    let due = now + i64::try_from(wait.as_millis()).unwrap_or(60_000);
                    store::not_yet(&self.db, token, row.id, &m, Some(due), now).await
                }
                Err(NotDone::Retry(m) | NotDone::Refused(m)) => {
                    store::not_yet(&self.db, token, row.id, &m, None, now).await
                }
            };
            if let Err(error) = saved {
                tracing::warn!(%error, "could not save a store credit's outcome; it returns after the lease");
            }
        }
        // Every line credited: the run is paid.
        match store::run_counts(&self.db, run).await {
            Ok((0, credited, 0)) if credited > 0 => {
                match crate::services::payouts::pay_run(&self.db, merchant, run, REFERENCE, now_ms()).await {
                    Ok(_) => {
                        tracing::info!(merchant.id = %merchant, run = run.get(), "payout run paid as store credit")
                    }
                    Err(error) => tracing::warn!(%error, "could not mark a store-credit run paid"),
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not count a run's store credits"),
        }
        super::changed(merchant);
    }
}

impl StoreCreditJob {
    async fn call(
        &self,
        merchant: MerchantId,
        document: crate::shopify::documents::Document,
        variables: Value,
    ) -> Result<Value, NotDone> {
        let (shop, token) = match self.shop.token(merchant).await {
            Ok(found) => found,
            Err(ShopError::NotConnected) => return Err(NotDone::Refused("Connect your Shopify store first.".into())),
            Err(ShopError::Uninstalled) => {
                return Err(NotDone::Refused("The Rekomi app was uninstalled from the store: reconnect it.".into()))
            }
            Err(ShopError::Shopify(e)) => return Err(e.into()),
            Err(e) => return Err(NotDone::Retry(e.to_string())),
        };
        loop {
            match self.shop.api.graphql::<Value>(&shop, &token, document, variables.clone()).await {
                Err(ShopifyError::Throttled { retry_after_ms }) if retry_after_ms <= 20_000 => {
                    tokio::time::sleep(Duration::from_millis(retry_after_ms.max(100))).await;
                }
                other => return other.map_err(NotDone::from),
            }
        }
    }

    /// Credits one payout; Shopify's transaction id.
    async fn credit(&self, owner: &str, merchant: MerchantId, row: &ClaimedCredit) -> Result<String, NotDone> {
        let currency = Currency::parse(&row.currency).map_err(|e| NotDone::Refused(e.to_string()))?;
        let amount = Money::new(row.amount_minor, currency).decimal();
        // A credit sent before whose answer never came: Shopify's account says whether it landed.
        if let (Some(customer), Some(attempted)) = (&row.customer_id, row.attempted_at) {
            let recent = self.call(merchant, STORE_CREDIT_RECENT, json!({ "id": customer })).await?;
            let accounts = recent["customer"]["storeCreditAccounts"]["nodes"].as_array().cloned().unwrap_or_default();
            for account in accounts {
                for t in account["transactions"]["nodes"].as_array().cloned().unwrap_or_default() {
                    let same = t["__typename"] == json!("StoreCreditAccountCreditTransaction")
                        && t["amount"]["currencyCode"].as_str() == Some(currency.code())
                        && t["amount"]["amount"].as_str().and_then(|a| a.parse::<f64>().ok())
                            == amount.parse::<f64>().ok()
                        && t["createdAt"]
                            .as_str()
                            .and_then(crate::services::orders::parse_time)
                            .is_some_and(|at| at >= attempted - 60_000);
                    if let (true, Some(id)) = (same, t["id"].as_str()) {
                        return Ok(id.to_owned());
                    }
                }
            }
        }
        let customer = match &row.customer_id {
            Some(id) => id.clone(),
            None => self.customer(merchant, row).await?,
        };
        if !store::attempting(&self.db, owner, row.id, &customer, now_ms())
            .await
            .map_err(|e| NotDone::Retry(e.to_string()))?
        {
            return Err(NotDone::Retry("The line was taken by another worker.".into()));
        }
        let answer = self
            .call(
                merchant,
                STORE_CREDIT,
                json!({ "id": customer, "amount": { "amount": amount, "currencyCode": currency.code() } }),
            )
            .await?;
        let payload = &answer["storeCreditAccountCredit"];
        if let Some(id) = payload["storeCreditAccountTransaction"]["id"].as_str() {
            return Ok(id.to_owned());
        }
        let words: Vec<&str> =
            payload["userErrors"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str()).collect();
        Err(NotDone::Refused(format!("Shopify refused the credit: {}", words.join("; "))))
    }

    /// The affiliate's customer account in the shop, by email, made when there is none.
    async fn customer(&self, merchant: MerchantId, row: &ClaimedCredit) -> Result<String, NotDone> {
        let found = self.call(merchant, CUSTOMER_FIND, json!({ "email": row.email })).await?;
        if let Some(id) = found["customerByIdentifier"]["id"].as_str() {
            return Ok(id.to_owned());
        }
        let name = PersonName::parse(&row.full_name).ok();
        let input = json!({
            "email": row.email,
            "firstName": name.as_ref().map(|n| n.first().to_owned()),
            "lastName": name.as_ref().and_then(|n| n.last().map(str::to_owned)),
            "tags": ["Rekomi affiliate"],
        });
        let made = self.call(merchant, CUSTOMER_CREATE, json!({ "input": input })).await?;
        if let Some(id) = made["customerCreate"]["customer"]["id"].as_str() {
            return Ok(id.to_owned());
        }
        let words: Vec<&str> = made["customerCreate"]["userErrors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .collect();
        Err(NotDone::Refused(format!("Shopify refused to make a customer for {}: {}", row.email, words.join("; "))))
    }
}
