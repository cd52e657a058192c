//! What the fake Shopify remembers: shops, the apps installed on them (with their client
//! credentials and granted scopes), tokens, webhook subscriptions, and the cost bucket of each
//! app on each shop.

use rand::distributions::Alphanumeric;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    pub scopes: BTreeSet<String>,
    pub installed: bool,
}

#[derive(Debug, Clone)]
pub struct WebhookSubscription {
    pub id: String,
    pub topic: String,
    pub uri: String,
    pub created_at: String,
    /// The app that made it (its deliveries are signed with that app's secret).
    pub client_id: String,
}

/// A code discount (Rekomi makes basic ones; the control API can add the merchant's own).
#[derive(Debug, Clone)]
pub struct Discount {
    pub id: String,
    pub title: String,
    /// ACTIVE, EXPIRED or SCHEDULED.
    pub status: String,
    /// The last `DiscountCodeBasicInput` it was made or updated with.
    pub input: serde_json::Value,
    pub codes: Vec<RedeemCode>,
    /// The app that made it (`None`: made in the admin).
    pub app: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RedeemCode {
    pub id: String,
    pub code: String,
}

/// A `discountRedeemCodeBulkAdd`: per code, the redeem code made or the errors.
#[derive(Debug, Clone)]
pub struct BulkCreation {
    pub id: String,
    pub discount_id: String,
    pub codes: Vec<(String, Option<RedeemCode>, Vec<serde_json::Value>)>,
    /// Looked at once: Shopify works these asynchronously, so the first answer says not done.
    pub polled: bool,
}

#[derive(Debug, Clone)]
pub struct Shop {
    pub domain: String,
    pub name: String,
    pub currency: String,
    pub plan: String,
    /// Apps by client id.
    pub apps: BTreeMap<String, App>,
    pub webhooks: Vec<WebhookSubscription>,
    pub discounts: Vec<Discount>,
    pub bulk_creations: Vec<BulkCreation>,
    /// Asynchronous jobs (bulk deletes) by id: whether each was looked at once.
    pub jobs: BTreeMap<String, bool>,
    pub orders: Vec<super::orders::Order>,
    pub customers: Vec<super::customers::Customer>,
    /// Numbers orders and refunds.
    pub order_number: u64,
    next_id: u64,
}

impl Shop {
    pub fn new(domain: &str, name: &str, currency: &str) -> Self {
        Self {
            domain: domain.to_owned(),
            name: name.to_owned(),
            currency: currency.to_owned(),
            plan: "Basic".to_owned(),
            apps: BTreeMap::new(),
            webhooks: Vec::new(),
            discounts: Vec::new(),
            bulk_creations: Vec::new(),
            jobs: BTreeMap::new(),
            orders: Vec::new(),
            customers: Vec::new(),
            order_number: 0,
            next_id: 1000,
        }
    }

    /// Whether any discount in the shop has this code (codes are unique per shop, any case).
    pub fn code_taken(&self, code: &str) -> bool {
        self.discounts.iter().any(|d| d.codes.iter().any(|c| c.code.eq_ignore_ascii_case(code)))
    }

    /// A new numeric id for a `gid://shopify/{kind}/{n}`.
    pub fn gid(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("gid://shopify/{kind}/{}", self.next_id)
    }
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub shop: String,
    pub client_id: String,
    pub expires: Instant,
}

/// Shopify's calculated-cost leaky bucket for one app on one shop.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub available: f64,
    pub at: Instant,
}

/// Standard plan figures: a 1,000-point bucket that refills at 50 points a second.
pub const BUCKET_MAX: f64 = 1_000.0;
pub const RESTORE_RATE: f64 = 50.0;

#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer every GraphQL call with this status (e.g. 503) while set.
    pub graphql_status: Option<u16>,
    /// No bucket: never throttle (benchmarks of Rekomi itself).
    pub no_throttle: bool,
    /// Token lifetime in seconds (client-credentials tokens live a day).
    pub token_ttl_secs: Option<u64>,
    /// Webhooks are not sent at all (Shopify doesn't guarantee delivery): reconcile must find them.
    pub drop_deliveries: bool,
    /// The first this many attempts of each delivery fail as if the endpoint were down.
    pub fail_first_deliveries: u32,
    /// Waits between delivery attempts, in ms (empty: a compressed form of Shopify's 8 retries).
    pub retry_delays_ms: Vec<u64>,
    /// The next this many store credits are applied but their answer is lost (502).
    pub lose_credit_answers: u32,
}

#[derive(Debug, Default)]
pub struct World {
    pub shops: HashMap<String, Shop>,
    pub tokens: HashMap<String, Grant>,
    pub buckets: HashMap<(String, String), Bucket>,
    pub faults: Faults,
    /// Every GraphQL operation received: (shop, operation name or "", the query text).
    pub calls: Vec<(String, String)>,
    pub tokens_issued: u64,
    /// Calls answered `THROTTLED`.
    pub throttled: u64,
    pub deliveries: Vec<super::orders::Delivery>,
    /// Set while a request runs: its answer is lost after it was applied.
    pub answer_lost: bool,
}

impl World {
    pub fn issue_token(&mut self, shop: &str, client_id: &str) -> (String, u64) {
        let token = format!(
            "shpat_{}",
            rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect::<String>()
        );
        let ttl = self.faults.token_ttl_secs.unwrap_or(86_399);
        let expires = Instant::now() + std::time::Duration::from_secs(ttl);
        self.tokens.insert(token.clone(), Grant { shop: shop.to_owned(), client_id: client_id.to_owned(), expires });
        self.tokens_issued += 1;
        (token, ttl)
    }

    /// Takes `cost` points from the app's bucket on the shop, or says how many are available.
    pub fn spend(&mut self, shop: &str, client_id: &str, cost: f64) -> Result<f64, f64> {
        if self.faults.no_throttle {
            return Ok(BUCKET_MAX);
        }
        let now = Instant::now();
        let bucket = self
            .buckets
            .entry((shop.to_owned(), client_id.to_owned()))
            .or_insert(Bucket { available: BUCKET_MAX, at: now });
        bucket.available =
            (bucket.available + now.duration_since(bucket.at).as_secs_f64() * RESTORE_RATE).min(BUCKET_MAX);
        bucket.at = now;
        if bucket.available < cost {
            return Err(bucket.available);
        }
        bucket.available -= cost;
        Ok(bucket.available)
    }
}
