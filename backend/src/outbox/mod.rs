//! The outbox: every side effect of a change (a Klaviyo sync, a Klaviyo event, a webhook delivery)
//! is a row written in the same transaction as the change, and worked later by a runner. Nothing is
//! sent from inside a request, and nothing is lost when a send fails or the process dies.
//!
//! Enqueueing goes through the functions here. Each asks the transaction to wake its runner once it
//! has committed ([`Tx::wake_on_commit`]), so no caller remembers a wake-up and no runner looks
//! before the rows are visible. Runners also poll, for other instances' rows and scheduled retries.
//!
//! - `runner.rs`: the one runner (claims under a lease, per-merchant fairness, several instances).
//! - one file per job kind: `klaviyo_sync/` (sync batches), `klaviyo_event.rs`,
//!   `webhook_delivery.rs`. A new kind implements [`runner::Job`] over its table and is started
//!   in [`start`].

pub mod klaviyo_erasure;
pub mod klaviyo_event;
pub mod klaviyo_reconcile;
pub mod klaviyo_sync;
pub mod runner;
pub mod shopify_discount;
pub mod shopify_store_credit;
pub mod webhook_delivery;

pub use klaviyo_sync::Settings;
pub use webhook_delivery::{check_public, secret_owner, signature};

use crate::klaviyo::pace::Pacer;
use crate::secrets::Sealer;
use crate::services::klaviyo::KlaviyoConnections;
use crate::store::{self, Db, DbResult, Tx};
use serde_json::Value;
use shared::domain::lifecycle::{Metric, Topic};
use shared::domain::{AffiliateId, MerchantId};
use std::sync::{Arc, LazyLock};
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;

/// Wakes the Klaviyo sync runner.
pub static SYNCS: Notify = Notify::const_new();
/// Wakes the Klaviyo events runner.
pub static EVENTS: Notify = Notify::const_new();
/// Wakes the reconcile runner (a check asked for now).
pub static RECONCILES: Notify = Notify::const_new();
/// Wakes the erasures runner.
pub static ERASURES: Notify = Notify::const_new();
/// Wakes the webhook deliveries runner.
pub static WEBHOOKS: Notify = Notify::const_new();
/// Wakes the Shopify discount codes runner.
pub static DISCOUNTS: Notify = Notify::const_new();
/// Wakes the Shopify store-credit payouts runner.
pub static STORE_CREDITS: Notify = Notify::const_new();

/// Tells live pages that a merchant's syncs or events moved (the sync status stream listens).
static CHANGES: LazyLock<broadcast::Sender<MerchantId>> = LazyLock::new(|| broadcast::channel(256).0);

/// Announces that `merchant`'s outbox rows changed; no listener (no page open) is fine.
pub fn changed(merchant: MerchantId) {
    let _ = CHANGES.send(merchant);
}

/// Listens for [`changed`] merchants.
pub fn subscribe() -> broadcast::Receiver<MerchantId> {
    CHANGES.subscribe()
}

/// What the runners need from the rest of the server.
pub struct Handles {
    pub db: Db,
    pub connections: KlaviyoConnections,
    pub sealer: Sealer,
    pub public_base: String,
    pub webhooks_allow_private: bool,
    pub shop: crate::services::shop::ShopConnections,
}

/// Starts the three runners; dropping (aborting) the handles stops them.
pub fn start(handles: Handles, settings: &Settings) -> Vec<JoinHandle<()>> {
    // Names this instance's leases; each claim adds its kind and a number.
    let owner = format!("{}-{}-{:08x}", hostname(), std::process::id(), rand::random::<u32>());
    let client = handles.connections.client().clone();
    // One pace per Klaviyo account, shared by syncs and events.
    let pacer = Pacer::default();
    let sync = klaviyo_sync::SyncJob {
        db: handles.db.clone(),
        client: client.clone(),
        connections: handles.connections.clone(),
        pacer: pacer.clone(),
        settings: settings.clone(),
        public_base: handles.public_base.clone(),
    };
    let reconcile = klaviyo_reconcile::ReconcileJob {
        db: handles.db.clone(),
        client: client.clone(),
        connections: handles.connections.clone(),
        pacer: pacer.clone(),
        every: settings.reconcile_every,
        lease: settings.lease,
    };
    let erasure = klaviyo_erasure::ErasureJob {
        db: handles.db.clone(),
        client: client.clone(),
        connections: handles.connections.clone(),
        pacer: pacer.clone(),
    };
    let events = klaviyo_event::EventJob {
        public_base: handles.public_base,
        db: handles.db.clone(),
        client,
        connections: handles.connections,
        pacer,
    };
    let mut runners = vec![
        tokio::spawn(runner::run(Arc::new(sync), handles.db.clone(), owner.clone(), settings.runner())),
        tokio::spawn(runner::run(
            Arc::new(events),
            handles.db.clone(),
            owner.clone(),
            klaviyo_event::EventJob::runner(settings.lease),
        )),
        tokio::spawn(runner::run(
            Arc::new(reconcile),
            handles.db.clone(),
            owner.clone(),
            klaviyo_reconcile::ReconcileJob::runner(settings.lease),
        )),
        tokio::spawn(runner::run(
            Arc::new(erasure),
            handles.db.clone(),
            owner.clone(),
            klaviyo_erasure::ErasureJob::runner(settings.lease),
        )),
    ];
    let credits = shopify_store_credit::StoreCreditJob { db: handles.db.clone(), shop: handles.shop.clone() };
    runners.push(tokio::spawn(runner::run(
        Arc::new(credits),
        handles.db.clone(),
        owner.clone(),
        shopify_store_credit::StoreCreditJob::runner(settings.lease),
    )));
    let discounts = shopify_discount::DiscountJob { db: handles.db.clone(), shop: handles.shop, lease: settings.lease };
    runners.push(tokio::spawn(runner::run(
        Arc::new(discounts),
        handles.db.clone(),
        owner.clone(),
        shopify_discount::DiscountJob::runner(settings.lease),
    )));
    match webhook_delivery::DeliveryJob::new(handles.db.clone(), handles.sealer, handles.webhooks_allow_private) {
        Ok(job) => runners.push(tokio::spawn(runner::run(
            Arc::new(job),
            handles.db,
            owner,
            webhook_delivery::DeliveryJob::runner(),
        ))),
        Err(error) => tracing::error!(%error, "could not start the webhook runner"),
    }
    runners
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "rekomi".into())
}

/// Asks for a check of every synced affiliate against Klaviyo at `due` (now: "Check now", or a
/// sync that ran into a change made in Klaviyo), unless one is due sooner.
pub async fn check_klaviyo(db: &Db, merchant: MerchantId, due: i64, now: i64) -> DbResult<()> {
    store::reconcile::schedule(db, merchant, due, now).await?;
    if due <= now {
        RECONCILES.notify_one();
    }
    Ok(())
}

/// Queues Klaviyo's part of an erasure (see [`klaviyo_erasure`]).
pub async fn erase_in_klaviyo(
    tx: &mut Tx,
    merchant: MerchantId,
    email: &str,
    lists: &[String],
    now: i64,
) -> DbResult<()> {
    store::erasures::enqueue(tx, merchant, email, lists, now).await?;
    tx.wake_on_commit(&ERASURES);
    Ok(())
}

/// Asks for a look at these affiliates' discount codes in Shopify (made for the approved, taken
/// out for the others; see [`shopify_discount`]). Every change that syncs an affiliate to Klaviyo
/// calls this too.
pub async fn discounts(tx: &mut Tx, merchant: MerchantId, affiliates: &[AffiliateId], now: i64) -> DbResult<()> {
    if store::discounts::touch(tx, merchant, affiliates, now).await? > 0 {
        tx.wake_on_commit(&DISCOUNTS);
    }
    Ok(())
}

/// [`discounts`] for a whole campaign (new terms, "Make codes now").
pub async fn discounts_for_campaign(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: shared::domain::CampaignId,
    now: i64,
) -> DbResult<()> {
    if store::discounts::touch_campaign(tx, merchant, campaign, now).await? > 0 {
        tx.wake_on_commit(&DISCOUNTS);
    }
    Ok(())
}

/// [`discounts`] for every affiliate of the merchant (a shop connected).
pub async fn discounts_for_merchant(tx: &mut Tx, merchant: MerchantId, now: i64) -> DbResult<()> {
    if store::discounts::touch_all(tx, merchant, now).await? > 0 {
        tx.wake_on_commit(&DISCOUNTS);
    }
    Ok(())
}

/// Queues a Klaviyo sync of one affiliate to their list (see [`store::sync::enqueue`]).
pub async fn sync(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    discounts(tx, merchant, &[affiliate], now).await?;
    let queued = store::sync::enqueue(tx, merchant, affiliate, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Queues Klaviyo syncs of many affiliates in one statement.
pub async fn syncs(tx: &mut Tx, merchant: MerchantId, affiliates: &[AffiliateId], now: i64) -> DbResult<u64> {
    discounts(tx, merchant, affiliates, now).await?;
    let queued = store::sync::enqueue_many(tx, merchant, affiliates, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Queues a Klaviyo sync for every approved affiliate of the merchant that has none yet.
pub async fn unsynced(tx: &mut Tx, merchant: MerchantId, now: i64) -> DbResult<u64> {
    let queued = store::sync::enqueue_unsynced(tx, merchant, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Sends an affiliate's syncs again after something written on their profile changed.
pub async fn refresh_affiliate(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    discounts(tx, merchant, &[affiliate], now).await?;
    let queued = store::sync::requeue_affiliate(tx, merchant, affiliate, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Sends the syncs of a campaign's affiliates again after the campaign changed.
pub async fn refresh_campaign(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: shared::domain::CampaignId,
    now: i64,
) -> DbResult<u64> {
    let queued = store::sync::requeue_campaign(tx, merchant, campaign, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Queues a fresh sync of these affiliates, rewriting everything ("Re-sync").
pub async fn resync(tx: &mut Tx, merchant: MerchantId, affiliates: &[AffiliateId], now: i64) -> DbResult<u64> {
    let queued = store::sync::enqueue_resync(tx, merchant, affiliates, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Starts an affiliate's stopped syncs over now ("Retry now").
pub async fn retry_sync(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    let queued = store::sync::retry_now(tx, merchant, affiliate, now).await?;
    if queued > 0 {
        tx.wake_on_commit(&SYNCS);
    }
    Ok(queued)
}

/// Queues a lifecycle event (`Rekomi Affiliate Approved`, …) when the merchant has Klaviyo
/// connected and the metric switched on.
pub async fn lifecycle(
    tx: &mut Tx,
    merchant: MerchantId,
    metric: Metric,
    email: &str,
    unique_id: &str,
    properties: &Value,
    now: i64,
) -> DbResult<()> {
    if store::outbox::lifecycle(tx, merchant, metric, email, unique_id, properties, now).await? {
        tx.wake_on_commit(&EVENTS);
    }
    Ok(())
}

/// Queues a Klaviyo event that is not a lifecycle metric (an invite), tied to its invite.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn event(
    tx: &mut Tx,
    merchant: MerchantId,
    metric: &str,
    email: &str,
    unique_id: &str,
    properties: &str,
    invite: Option<i64>,
    now: i64,
) -> DbResult<()> {
    if store::events::enqueue(tx, merchant, metric, email, unique_id, properties, invite, now).await? {
        tx.wake_on_commit(&EVENTS);
    }
    Ok(())
}

/// Queues a delivery of `topic` to each of the merchant's endpoints subscribed to it.
pub async fn webhook(
    tx: &mut Tx,
    merchant: MerchantId,
    topic: Topic,
    event_id: &str,
    data: Value,
    now: i64,
) -> DbResult<()> {
    if store::outbox::webhook(tx, merchant, topic, event_id, data, now).await? > 0 {
        tx.wake_on_commit(&WEBHOOKS);
    }
    Ok(())
}
