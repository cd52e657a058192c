//! Job kind: the reconcile. Klaviyo is the source of truth for consent, so once a day (and soon
//! after a sync runs into a change) Rekomi re-reads the membership and consent of every synced
//! affiliate, 100 per call, and records who unsubscribed, was suppressed, was taken out of the list
//! or deleted there, with the date it noticed. It never changes anything in Klaviyo.
//!
//! A pass is one row per merchant in `klaviyo_reconciles`, worked in slices under a lease (a slice
//! stops after half the lease and saves where it got to), so a pass of 100,000 affiliates survives
//! restarts, runs on any instance, and lets other merchants' passes take turns. Its calls are paced
//! within half of each of Klaviyo's limits ([`Pacer::ready_background`]), leaving the rest to live
//! syncs and events, and it has its own runner, so it never holds a sync's slot.

use super::klaviyo_sync::calls::Calls;
use super::runner::{Job, RunnerSettings};
use crate::klaviyo::pace::Pacer;
use crate::klaviyo::wire::ProfileState;
use crate::klaviyo::{Client, KlaviyoError, Operation};
use crate::services::klaviyo::{KlaviyoConnections, KlaviyoServiceError};
use crate::store::reconcile::{self as store, CheckRow, ClaimedReconcile, Found, Progress};
use crate::store::{now_ms, Claim, Db, DbResult};
use shared::domain::klaviyo::PrivateKey;
use shared::domain::{Drift, MerchantId};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Rows read from the database at a time (each list's share is read from Klaviyo 100 per call).
const PAGE: i64 = 500;

pub struct ReconcileJob {
    pub(super) db: Db,
    pub(super) client: Client,
    pub(super) connections: KlaviyoConnections,
    pub(super) pacer: Pacer,
    /// Time between passes.
    pub(super) every: Duration,
    pub(super) lease: Duration,
}

impl ReconcileJob {
    pub fn runner(lease: Duration) -> RunnerSettings {
        RunnerSettings {
            claim_limit: 4,
            per_merchant: 1,
            slots: 2,
            per_merchant_slots: 1,
            lease,
            idle_poll: Duration::from_secs(5),
        }
    }
}

impl Job for ReconcileJob {
    type Item = ClaimedReconcile;
    type Group = ();
    const NAME: &'static str = "reconcile";
    const TABLE: &'static str = "klaviyo_reconciles";

    fn wake(&self) -> &'static Notify {
        &super::RECONCILES
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedReconcile>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedReconcile) -> i64 {
        item.id
    }

    fn group(item: &ClaimedReconcile) -> (MerchantId, ()) {
        (item.merchant_id, ())
    }

    async fn work(&self, token: &str, merchant: MerchantId, _group: (), passes: Vec<ClaimedReconcile>) {
        for pass in passes {
            self.slice(token, merchant, pass).await;
        }
    }
}

impl ReconcileJob {
    /// Checks pages of the pass until it is done or half the lease is used, saving after each page.
    async fn slice(&self, token: &str, merchant: MerchantId, pass: ClaimedReconcile) {
        // The runner may start a group late in its lease: a slice works within a lease of its own.
        match store::renew(&self.db, token, pass.id, now_ms() + self.ms(self.lease)).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, "could not renew the reconcile lease; the pass returns after it");
                return;
            }
        }
        let (key, connection) = match self.connections.key(merchant).await {
            Ok(found) => found,
            Err(KlaviyoServiceError::NotConnected) => {
                if let Err(error) = store::stop(&self.db, merchant, now_ms()).await {
                    tracing::warn!(%error, "could not stop the reconcile of a disconnected merchant");
                }
                return;
            }
            Err(error) => {
                let now = now_ms();
                let progress = Progress::Failed {
                    after: pass.after_sync_id,
                    due: now + self.ms(self.every),
                    error: error.to_string(),
                };
                self.save(token, &pass, &[], &progress).await;
                return;
            }
        };
        let stop_at = Instant::now() + self.lease / 2;
        let mut calls = Calls::background(self.pacer.clone(), connection.account_id.clone(), merchant);
        let mut pass = pass;
        loop {
            let store::Page { rows, last, more } = match store::page(&self.db, merchant, pass.after_sync_id, PAGE).await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "could not read the next reconcile page; the pass returns after the lease");
                    return;
                }
            };
            let now = now_ms();
            let (found, progress) = match self.check(&mut calls, &key, rows).await {
                Ok(found) if !more => (found, Progress::Done { next: now + self.ms(self.every) }),
                Ok(found) => (found, Progress::Continue { after: last, due: now }),
                Err(error) => {
                    let due = now + self.ms(retry_delay(pass.attempts, error.retry_after()));
                    let failed = Progress::Failed { after: pass.after_sync_id, due, error: error.merchant_message() };
                    (Vec::new(), failed)
                }
            };
            let more = matches!(progress, Progress::Continue { .. });
            if !self.save(token, &pass, &found, &progress).await {
                return;
            }
            super::changed(merchant);
            if !more {
                return;
            }
            if Instant::now() >= stop_at {
                // Saved and released: the pass is due again at once, after other merchants' turns.
                super::RECONCILES.notify_one();
                return;
            }
            // The row was released by the save; take it back for the next page under the same token.
            let now = now_ms();
            match store::claim_again(&self.db, token, pass.id, now + self.ms(self.lease), now).await {
                Ok(Some(next)) => pass = next,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "could not continue the reconcile pass");
                    return;
                }
            }
        }
    }

    /// Reads each list's rows back, 100 per call: members with their consent, then the profiles of
    /// those no longer in the list.
    async fn check(
        &self,
        calls: &mut Calls,
        key: &PrivateKey,
        rows: Vec<CheckRow>,
    ) -> Result<Vec<(CheckRow, Found)>, KlaviyoError> {
        let client = &self.client;
        let mut by_list: BTreeMap<String, Vec<CheckRow>> = BTreeMap::new();
        for row in rows {
            by_list.entry(row.list_id.clone()).or_default().push(row);
        }
        let mut found = Vec::new();
        for (list_id, rows) in by_list {
            for chunk in rows.chunks(crate::klaviyo::client::MAX_READ_BACK) {
                let emails: Vec<String> = chunk.iter().map(|r| r.email.clone()).collect();
                let members = match calls
                    .run(Operation::GetListProfiles, &[], || client.list_members(key, &list_id, &emails))
                    .await
                {
                    Ok(members) => by_email(members),
                    // The list itself is gone: the syncs say so when they next run; nothing here
                    // is the affiliate's doing.
                    Err(KlaviyoError::NotFound { .. }) => {
                        found.extend(chunk.iter().map(|r| (r.clone(), Found::Same)));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let missing: Vec<String> =
                    emails.iter().filter(|e| !members.contains_key(&e.to_lowercase())).cloned().collect();
                let profiles = if missing.is_empty() {
                    HashMap::new()
                } else {
                    by_email(calls.run(Operation::GetProfiles, &[], || client.profiles_by_email(key, &missing)).await?)
                };
                for row in chunk {
                    let email = row.email.to_lowercase();
                    let what = judge(row, members.get(&email), profiles.get(&email));
                    found.push((row.clone(), what));
                }
            }
        }
        Ok(found)
    }

    async fn save(
        &self,
        token: &str,
        pass: &ClaimedReconcile,
        found: &[(CheckRow, Found)],
        progress: &Progress,
    ) -> bool {
        match store::save(&self.db, token, pass, found, progress, now_ms()).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "could not save reconcile results; the pass returns after the lease");
                false
            }
        }
    }

    fn ms(&self, d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

fn by_email(profiles: Vec<ProfileState>) -> HashMap<String, ProfileState> {
    profiles.into_iter().map(|p| (p.email.to_lowercase(), p)).collect()
}

/// A failed slice waits 1, 2, 4 … minutes, at most an hour (or as long as Klaviyo asks).
fn retry_delay(attempts: i64, retry_after: Option<Duration>) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    let planned = Duration::from_secs(60 * 2_u64.pow(exp)).min(Duration::from_secs(3600));
    retry_after.map_or(planned, |asked| asked.max(planned))
}

/// What Klaviyo's state means for a row: `member` is the profile as a member of the row's list
/// (absent when not a member), `profile` the profile found anywhere (read only for non-members).
pub fn judge(row: &CheckRow, member: Option<&ProfileState>, profile: Option<&ProfileState>) -> Found {
    let Some(seen) = member.or(profile) else {
        return if row.was_in_list() { Found::Drift(Drift::Deleted) } else { Found::Same };
    };
    let opted_out = drift_of(seen);
    match (opted_out, member.is_some()) {
        (None, true) => Found::InList,
        // Rekomi put them there; someone took them out while they stayed subscribed.
        (None, false) if row.was_in_list() => Found::Drift(Drift::Removed),
        (Some(drift), _) if row.was_in_list() => Found::Drift(drift),
        _ => Found::Same,
    }
}

/// Why a profile can't get email marketing, if it can't.
pub fn drift_of(profile: &ProfileState) -> Option<Drift> {
    if profile.suppressions.iter().any(|s| s == "UNSUBSCRIBE") {
        return Some(Drift::Unsubscribed);
    }
    if !profile.suppressions.is_empty() {
        return Some(Drift::Suppressed);
    }
    if profile.consent.as_deref() == Some("SUBSCRIBED") {
        None
    } else {
        Some(Drift::Unsubscribed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::SyncState;

    fn row(state: SyncState) -> CheckRow {
        // A row that succeeded was seen in the list then (the sync records when).
        let in_list_at = (state == SyncState::Succeeded).then_some(1);
        CheckRow {
            id: 1,
            list_id: "L".into(),
            email: "ana@example.com".into(),
            state,
            drift: None,
            in_list_at,
            updated_at: 1,
        }
    }

    fn profile(consent: &str, suppressions: &[&str]) -> ProfileState {
        ProfileState {
            id: "P".into(),
            email: "ana@example.com".into(),
            consent: Some(consent.into()),
            can_receive_email_marketing: None,
            suppressions: suppressions.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_synced_affiliate_is_judged_by_what_klaviyo_shows() {
        let synced = row(SyncState::Succeeded);
        let subscribed = profile("SUBSCRIBED", &[]);
        assert_eq!(judge(&synced, Some(&subscribed), None), Found::InList);
        assert_eq!(judge(&synced, None, Some(&subscribed)), Found::Drift(Drift::Removed));
        let unsubscribed = profile("UNSUBSCRIBED", &["UNSUBSCRIBE"]);
        assert_eq!(judge(&synced, Some(&unsubscribed), None), Found::Drift(Drift::Unsubscribed));
        assert_eq!(judge(&synced, None, Some(&unsubscribed)), Found::Drift(Drift::Unsubscribed));
        let bounced = profile("SUBSCRIBED", &["HARD_BOUNCE"]);
        assert_eq!(judge(&synced, Some(&bounced), None), Found::Drift(Drift::Suppressed));
        assert_eq!(judge(&synced, None, None), Found::Drift(Drift::Deleted));
    }

    #[test]
    fn someone_never_put_in_the_list_has_nothing_to_drift_from() {
        let blocked = row(SyncState::Blocked);
        assert_eq!(judge(&blocked, None, None), Found::Same);
        assert_eq!(judge(&blocked, None, Some(&profile("UNSUBSCRIBED", &[]))), Found::Same);
        // Back by their own fresh consent: in the list and subscribed.
        assert_eq!(judge(&blocked, Some(&profile("SUBSCRIBED", &[])), None), Found::InList);
        let drifted = CheckRow { drift: Some(Drift::Unsubscribed), ..row(SyncState::Blocked) };
        assert_eq!(judge(&drifted, Some(&profile("SUBSCRIBED", &[])), None), Found::InList);
        assert_eq!(judge(&drifted, None, Some(&profile("SUBSCRIBED", &[]))), Found::Drift(Drift::Removed));
    }
}
