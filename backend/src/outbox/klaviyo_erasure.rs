//! Job kind: Klaviyo's part of an affiliate's erasure. The profile is found by email, taken out of
//! every list Rekomi had put it in (membership only: consent belongs to the person) and the
//! properties Rekomi wrote are unset; then the row, and the email in it, are deleted. Every step is
//! safe to repeat, so a failure is retried with backoff; a refusal that can't succeed on a retry
//! stops the row with Klaviyo's word for the merchant.

use super::klaviyo_sync::calls::Calls;
use super::klaviyo_sync::plan::{retry_delay, PROPERTIES};
use super::runner::{Job, RunnerSettings};
use crate::klaviyo::pace::Pacer;
use crate::klaviyo::{Client, KlaviyoError, Operation};
use crate::services::klaviyo::{KlaviyoConnections, KlaviyoServiceError};
use crate::store::erasures::{self as store, ClaimedErasure};
use crate::store::{now_ms, Claim, Db, DbResult};
use shared::domain::MerchantId;
use std::time::Duration;
use tokio::sync::Notify;

/// Tries before an erasure stops and waits for the merchant.
const MAX_ATTEMPTS: i64 = 12;
/// How long an erasure waits for a disconnected Klaviyo to be connected again. Past that Rekomi
/// gives up its part (the email isn't kept any longer) and the merchant's own Klaviyo request is
/// the way left; connecting again wakes the waiting ones at once.
const WAIT_FOR_CONNECTION_MS: i64 = 30 * 86_400_000;
/// While waiting, how often the connection is looked at (a reconnect wakes it anyway).
const RECHECK_MS: i64 = 3_600_000;
const WAITING: &str = "Waiting for Klaviyo to be connected again (Rekomi keeps trying for 30 days).";

/// What an attempt came to.
enum Erased {
    Done,
    /// Klaviyo isn't connected: nothing could be asked of it.
    Disconnected,
}

pub struct ErasureJob {
    pub(super) db: Db,
    pub(super) client: Client,
    pub(super) connections: KlaviyoConnections,
    pub(super) pacer: Pacer,
}

impl ErasureJob {
    pub fn runner(lease: Duration) -> RunnerSettings {
        RunnerSettings {
            claim_limit: 50,
            per_merchant: 10,
            slots: 2,
            per_merchant_slots: 1,
            lease,
            idle_poll: Duration::from_secs(1),
        }
    }
}

impl Job for ErasureJob {
    type Item = ClaimedErasure;
    type Group = ();
    const NAME: &'static str = "erasure";
    const TABLE: &'static str = "klaviyo_erasures";

    fn wake(&self) -> &'static Notify {
        &super::ERASURES
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedErasure>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedErasure) -> i64 {
        item.id
    }

    fn group(item: &ClaimedErasure) -> (MerchantId, ()) {
        (item.merchant_id, ())
    }

    async fn work(&self, token: &str, merchant: MerchantId, (): (), rows: Vec<ClaimedErasure>) {
        for row in rows {
            let result = self.erase(merchant, &row).await;
            let now = now_ms();
            let saved = match result {
                Ok(Erased::Done) => store::done(&self.db, token, row.id).await,
                Ok(Erased::Disconnected) if now - row.created_at >= WAIT_FOR_CONNECTION_MS => {
                    tracing::warn!(
                        erasure.id = row.id,
                        "Klaviyo stayed disconnected; its part of an erasure was given up"
                    );
                    store::done(&self.db, token, row.id).await
                }
                Ok(Erased::Disconnected) => store::wait(&self.db, token, row.id, WAITING, now + RECHECK_MS, now).await,
                Err(error) => {
                    let due = (error.is_retryable_when_idempotent() && row.attempts + 1 < MAX_ATTEMPTS).then(|| {
                        let wait = retry_delay(row.attempts + 1, error.retry_after());
                        now + i64::try_from(wait.as_millis()).unwrap_or(300_000)
                    });
                    store::not_yet(&self.db, token, row.id, &error.merchant_message(), due, now).await
                }
            };
            if let Err(error) = saved {
                tracing::warn!(%error, "could not save an erasure's outcome; it returns after the lease");
            }
        }
        super::changed(merchant);
    }
}

impl ErasureJob {
    async fn erase(&self, merchant: MerchantId, row: &ClaimedErasure) -> Result<Erased, KlaviyoError> {
        let (key, connection) = match self.connections.key(merchant).await {
            Ok(found) => found,
            // Disconnected: the person is still in the merchant's Klaviyo; wait for a connection.
            Err(KlaviyoServiceError::NotConnected) => return Ok(Erased::Disconnected),
            Err(error) => {
                tracing::warn!(%error, "could not load the Klaviyo key for an erasure");
                // Retried like an unreachable Klaviyo: the key is read again next time.
                return Err(KlaviyoError::Transport { operation: Operation::GetProfiles, detail: error.to_string() });
            }
        };
        let mut calls = Calls::new(self.pacer.clone(), connection.account_id.clone(), merchant);
        let client = &self.client;
        let emails = [row.email.clone()];
        let found = calls.run(Operation::GetProfiles, &[], || client.profiles_by_email(&key, &emails)).await?;
        let Some(profile) = found.into_iter().next() else { return Ok(Erased::Done) };
        let ids = [profile.id.clone()];
        for list in row.lists() {
            match calls.run(Operation::RemoveFromList, &[], || client.remove_from_list(&key, list, &ids)).await {
                // A list deleted since holds nobody.
                Ok(()) | Err(KlaviyoError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        calls.run(Operation::ProfileImport, &[], || client.unset_properties(&key, &row.email, &PROPERTIES)).await?;
        Ok(Erased::Done)
    }
}
