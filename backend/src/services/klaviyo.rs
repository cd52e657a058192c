//! The merchant's Klaviyo connection: test a pasted key with live calls and save it sealed, show
//! what was proven, pick the list approved affiliates go to, and notice when Klaviyo loses it.

use super::rate_limit::KeyedRateLimiter;
use crate::klaviyo::retry::interactive;
use crate::klaviyo::{Client, KlaviyoError};
use crate::secrets::Sealer;
use crate::store::klaviyo::{self as store, ConnectionRow, ListChoice, NewConnection};
use crate::store::{now_ms, Db};
use anyhow::Context;
use shared::domain::klaviyo::{missing_scopes_message, KeyScope, OptIn, PrivateKey, ScopeCheck, ScopeState};
use shared::domain::{CampaignId, MerchantId};
use shared::error::{AppError, ErrorKind};
use shared::views::{ChosenList, ConnectOutcome, ConnectionView, KlaviyoAccountView, KlaviyoListView, KlaviyoOverview};
use std::sync::Arc;

const KEY_UNREADABLE: &str = "Rekomi can no longer read the saved Klaviyo key (the server's secret key changed \
     since it was saved). Paste the key again, or disconnect.";

/// How long a chosen list counts as checked before the status page asks Klaviyo again.
const LIST_RECHECK_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum KlaviyoServiceError {
    #[error("the pasted key is malformed")]
    MalformedKey(String),
    #[error("too many connection tests")]
    TooManyTests(u64),
    #[error("no Klaviyo connection")]
    NotConnected,
    /// The saved key does not open: the server's secret key changed, or the row was altered.
    #[error("the saved Klaviyo key cannot be opened")]
    KeyUnreadable,
    #[error("no such list in Klaviyo")]
    ListNotFound,
    #[error("campaign not found")]
    CampaignNotFound,
    /// Klaviyo refused or failed; `saved_key` says whether it was the saved key (not a pasted one).
    #[error("{source}")]
    Klaviyo { source: KlaviyoError, saved_key: bool },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<KlaviyoServiceError> for AppError {
    fn from(value: KlaviyoServiceError) -> Self {
        use KlaviyoServiceError::*;
        match value {
            MalformedKey(message) => AppError::field("key", message),
            TooManyTests(secs) => AppError::new(
                ErrorKind::RateLimited,
                format!("Klaviyo allows only a few key checks a minute; try again in {secs} s."),
            ),
            NotConnected => AppError::new(ErrorKind::Conflict, "Connect Klaviyo first: paste a private API key."),
            KeyUnreadable => AppError::new(ErrorKind::Conflict, KEY_UNREADABLE),
            ListNotFound => AppError::new(
                ErrorKind::NotFound,
                "Klaviyo has no such list any more; it may have been deleted. Reload the lists and pick another.",
            ),
            CampaignNotFound => AppError::not_found("campaign"),
            Klaviyo { source, saved_key } => klaviyo_error(&source, saved_key),
            Internal(e) => super::internal(&e),
        }
    }
}

fn klaviyo_error(error: &KlaviyoError, saved_key: bool) -> AppError {
    match error {
        KlaviyoError::BadKey { .. } | KlaviyoError::NotAuthenticated { .. } if !saved_key => {
            AppError::field("key", error.merchant_message())
        }
        KlaviyoError::BadKey { .. } | KlaviyoError::NotAuthenticated { .. } => AppError::new(
            ErrorKind::Conflict,
            "Klaviyo no longer accepts the saved key (it may have been revoked). Paste a new private key.",
        ),
        KlaviyoError::Throttled { .. } => AppError::new(ErrorKind::RateLimited, error.merchant_message()),
        KlaviyoError::MissingScope { .. } => AppError::new(ErrorKind::Conflict, error.merchant_message()),
        KlaviyoError::NotFound { .. } => AppError::new(ErrorKind::NotFound, error.merchant_message()),
        _ => {
            tracing::warn!(error = %error, "Klaviyo call failed");
            AppError::new(ErrorKind::Upstream, error.merchant_message())
        }
    }
}

#[derive(Clone)]
pub struct KlaviyoConnections {
    db: Db,
    client: Client,
    sealer: Sealer,
    tests: Arc<KeyedRateLimiter<MerchantId>>,
}

fn owner(merchant: MerchantId) -> String {
    format!("rekomi:klaviyo-key:merchant:{merchant}")
}

/// Scope checks are stored as `Label=State` pairs, e.g. `ListsFull=ReadVerifiedWritePending`.
fn encode_checks(checks: &[ScopeCheck]) -> String {
    checks.iter().map(|c| format!("{:?}={:?}", c.scope, c.state)).collect::<Vec<_>>().join(",")
}

fn decode_checks(raw: &str) -> Vec<ScopeCheck> {
    raw.split(',')
        .filter_map(|pair| {
            let (scope, state) = pair.split_once('=')?;
            let scope = KeyScope::REQUIRED.into_iter().find(|s| format!("{s:?}") == scope)?;
            let state = [ScopeState::Verified, ScopeState::Missing, ScopeState::ReadVerifiedWritePending]
                .into_iter()
                .find(|s| format!("{s:?}") == state)?;
            Some(ScopeCheck { scope, state })
        })
        .collect()
}

fn opt_in(raw: Option<&str>) -> OptIn {
    // An unknown or missing value is treated as double opt-in: the warning is the careful choice.
    raw.and_then(OptIn::from_klaviyo).unwrap_or(OptIn::Double)
}

fn connection_view(row: &ConnectionRow, key_problem: Option<String>) -> ConnectionView {
    let default_list = match (&row.default_list_id, &row.default_list_name) {
        (Some(id), Some(name)) => Some(ChosenList {
            id: id.clone(),
            name: name.clone(),
            opt_in: opt_in(row.default_list_opt_in.as_deref()),
            missing: row.default_list_missing,
        }),
        _ => None,
    };
    ConnectionView {
        key_hint: row.key_hint.clone(),
        account: KlaviyoAccountView {
            id: row.account_id.clone(),
            name: row.account_name.clone(),
            test_account: row.test_account,
        },
        checks: decode_checks(&row.scope_checks),
        verified_at: row.verified_at,
        default_list,
        key_problem,
    }
}

impl KlaviyoConnections {
    pub fn new(db: Db, client: Client, sealer: Sealer, tests_per_minute: u32) -> Self {
        Self { db, client, sealer, tests: Arc::new(KeyedRateLimiter::per_minute(tests_per_minute)) }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The saved key, opened; `NotConnected` when there is none.
    pub async fn key(&self, merchant: MerchantId) -> Result<(PrivateKey, ConnectionRow), KlaviyoServiceError> {
        let row = store::get(&self.db, merchant)
            .await
            .context("loading the Klaviyo connection")?
            .ok_or(KlaviyoServiceError::NotConnected)?;
        let opened = self.sealer.open(&row.key_sealed, &owner(merchant)).ok();
        let Some(key) = opened.and_then(|plain| PrivateKey::parse(&plain).ok()) else {
            tracing::error!("the saved Klaviyo key does not open with this server's secret key");
            return Err(KlaviyoServiceError::KeyUnreadable);
        };
        Ok((key, row))
    }

    /// What a write proved about the key's write permissions: `Ok(op)`, accepted, proves every
    /// permission `op` needs; `Err(op)`, refused, marks them missing (Klaviyo does not say which).
    pub async fn record_write_check(
        &self,
        merchant: MerchantId,
        write: Result<crate::klaviyo::Operation, crate::klaviyo::Operation>,
    ) -> anyhow::Result<()> {
        // One transaction: the sync and events runners record at the same time, and a
        // read-modify-write outside it would let one overwrite the other's finding.
        let mut tx = self.db.begin().await?;
        let Some(stored) = store::scope_checks_for_update(&mut tx, merchant).await? else { return Ok(()) };
        let mut checks = decode_checks(&stored);
        let (op, accepted) = match write {
            Ok(op) => (op, true),
            Err(op) => (op, false),
        };
        let mut scopes = op.suspect_key_scopes();
        if !accepted {
            // Klaviyo's 403 does not say which permission was missing: it is one this call needs that
            // no accepted write has proven. Only when all were proven (the key was edited since) are
            // they all suspect again.
            let unproven: Vec<_> = scopes
                .iter()
                .copied()
                .filter(|s| checks.iter().any(|c| c.scope == *s && c.state != ScopeState::Verified))
                .collect();
            if !unproven.is_empty() {
                scopes = unproven;
            }
        }
        for check in checks.iter_mut().filter(|c| scopes.contains(&c.scope)) {
            if !accepted {
                check.state = ScopeState::Missing;
            } else if check.state == ScopeState::ReadVerifiedWritePending {
                check.state = ScopeState::Verified;
            }
        }
        let encoded = encode_checks(&checks);
        if encoded != stored {
            store::set_scope_checks(&mut tx, merchant, &encoded).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn throttle_tests(&self, merchant: MerchantId) -> Result<(), KlaviyoServiceError> {
        self.tests.check(&merchant).map_err(|secs| KlaviyoServiceError::TooManyTests(secs.max(1)))
    }

    /// Forgets merchants whose key-check limit has refilled (housekeeping).
    pub fn forget_idle(&self) {
        self.tests.forget_idle();
    }

    /// Tests a pasted key with one cheap read per permission and saves it only when every read
    /// passed (and, if it belongs to another account than before, only once the merchant confirms).
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn connect(
        &self,
        merchant: MerchantId,
        raw_key: &str,
        confirm_account_id: Option<&str>,
    ) -> Result<ConnectOutcome, KlaviyoServiceError> {
        let key = PrivateKey::parse(raw_key).map_err(|e| KlaviyoServiceError::MalformedKey(e.to_string()))?;
        self.throttle_tests(merchant)?;
        let (account, lists, profiles, subscriptions, events) = tokio::join!(
            interactive(|| self.client.account(&key)),
            interactive(|| self.client.probe_lists(&key)),
            interactive(|| self.client.probe_profiles(&key)),
            interactive(|| self.client.probe_subscriptions(&key)),
            interactive(|| self.client.probe_events(&key)),
        );
        let probes = [
            (KeyScope::AccountsRead, account.as_ref().map(drop).map_err(Clone::clone), ScopeState::Verified),
            (KeyScope::ListsFull, lists, ScopeState::ReadVerifiedWritePending),
            (KeyScope::ProfilesFull, profiles, ScopeState::ReadVerifiedWritePending),
            (KeyScope::SubscriptionsFull, subscriptions, ScopeState::ReadVerifiedWritePending),
            (KeyScope::EventsFull, events, ScopeState::ReadVerifiedWritePending),
        ];
        let mut checks = Vec::new();
        for (scope, result, proven) in probes {
            let state = match result {
                Ok(()) => proven,
                Err(KlaviyoError::MissingScope { .. }) => ScopeState::Missing,
                // A bad key fails every probe the same way; anything else (throttled, down) means
                // nothing was learnt, so say that rather than guess.
                Err(source) => return Err(KlaviyoServiceError::Klaviyo { source, saved_key: false }),
            };
            checks.push(ScopeCheck { scope, state });
        }
        let account = account.ok().map(|a| KlaviyoAccountView { id: a.id, name: a.name, test_account: a.test_account });
        let missing: Vec<KeyScope> =
            checks.iter().filter(|c| c.state == ScopeState::Missing).map(|c| c.scope).collect();
        if !missing.is_empty() {
            tracing::info!(missing = ?missing, "Klaviyo key lacks permissions");
            return Ok(ConnectOutcome::MissingScopes { message: missing_scopes_message(&missing), checks, account });
        }
        let Some(account) = account else {
            return Err(anyhow::anyhow!("the account probe passed without an account").into());
        };
        let previous = store::last_account(&self.db, merchant).await.context("reading the last Klaviyo account")?;
        let changed = previous.as_ref().is_some_and(|(id, _)| *id != account.id);
        // The confirmation names the account, so a third key pasted meanwhile is not switched to unseen.
        if changed && confirm_account_id != Some(account.id.as_str()) {
            let (id, name) = previous.unwrap_or_default();
            return Ok(ConnectOutcome::OtherAccount {
                previous: KlaviyoAccountView { id, name, test_account: false },
                new: account,
            });
        }
        let sealed = self.sealer.seal(key.expose(), &owner(merchant))?;
        let record = NewConnection {
            key_sealed: &sealed,
            key_hint: &key.hint(),
            account_id: &account.id,
            account_name: &account.name,
            test_account: account.test_account,
            scope_checks: &encode_checks(&checks),
        };
        self.save(merchant, &record, changed).await.context("saving the Klaviyo connection")?;
        tracing::info!(account.id = %account.id, account_changed = changed, "Klaviyo connected");
        let row =
            store::get(&self.db, merchant).await.context("reloading")?.ok_or(KlaviyoServiceError::NotConnected)?;
        Ok(ConnectOutcome::Connected(connection_view(&row, None)))
    }

    /// Saves (or replaces) the connection. When the key belongs to another account than before, the
    /// chosen lists belonged to the old account, so they are cleared in the same transaction.
    async fn save(
        &self,
        merchant: MerchantId,
        record: &NewConnection<'_>,
        account_changed: bool,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        store::upsert(&mut tx, merchant, record, now_ms()).await?;
        if account_changed {
            store::clear_lists(&mut tx, merchant).await?;
            // Everyone synced is in the old account's lists, out of the new key's reach: they stay
            // there, and read as not synced until "Sync all approved" adds them to the new list.
            crate::store::sync::retire_all(&mut tx, merchant, now_ms()).await?;
        }
        store::remember_account(&mut tx, merchant, record.account_id, record.account_name).await?;
        tx.commit().await?;
        // A first check right away: cheap with nothing synced, and after a new key it reads what
        // that account holds; later passes follow the configured interval.
        let now = now_ms();
        crate::outbox::check_klaviyo(&self.db, merchant, now, now).await?;
        // Events kept while Klaviyo was disconnected go out now (those kept too long are dropped).
        let (released, dropped) = crate::store::events::release_kept(&self.db, merchant, now).await?;
        if released > 0 || dropped > 0 {
            tracing::info!(released, dropped, "events kept while Klaviyo was disconnected");
            crate::outbox::EVENTS.notify_one();
        }
        // Erasures that waited for a connection go now.
        if crate::store::erasures::connected_again(&self.db, merchant, now).await? > 0 {
            crate::outbox::ERASURES.notify_one();
        }
        Ok(())
    }

    /// The connection as saved. A chosen list not checked for a while is re-checked in Klaviyo, so
    /// a list deleted there shows up here.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn status(&self, merchant: MerchantId) -> Result<KlaviyoOverview, KlaviyoServiceError> {
        let previous = store::last_account(&self.db, merchant)
            .await
            .context("reading the last Klaviyo account")?
            .map(|(id, name)| KlaviyoAccountView { id, name, test_account: false });
        let (key, mut row) = match self.key(merchant).await {
            Ok(found) => found,
            Err(KlaviyoServiceError::NotConnected) => {
                return Ok(KlaviyoOverview { connection: None, previous_account: previous })
            }
            // Still show the connection, so the merchant can replace the key or disconnect.
            Err(KlaviyoServiceError::KeyUnreadable) => {
                let row = store::get(&self.db, merchant)
                    .await
                    .context("loading")?
                    .ok_or(KlaviyoServiceError::NotConnected)?;
                let view = connection_view(&row, Some(KEY_UNREADABLE.to_owned()));
                return Ok(KlaviyoOverview { connection: Some(view), previous_account: previous });
            }
            Err(e) => return Err(e),
        };
        let mut key_problem = None;
        let stale = row.list_checked_at.is_none_or(|at| now_ms() - at > LIST_RECHECK_MS);
        if let (Some(list_id), true) = (row.default_list_id.clone(), stale) {
            let found = match interactive(|| self.client.list(&key, &list_id)).await {
                Ok(list) => Some(Some(list)),
                Err(KlaviyoError::NotFound { .. }) => Some(None),
                Err(
                    e @ (KlaviyoError::BadKey { .. }
                    | KlaviyoError::NotAuthenticated { .. }
                    | KlaviyoError::MissingScope { .. }),
                ) => {
                    key_problem = Some(klaviyo_error(&e, true).message);
                    None
                }
                // Klaviyo busy or down: keep what we knew and check next time.
                Err(e) => {
                    tracing::debug!(error = %e, "list re-check skipped");
                    None
                }
            };
            if let Some(found) = found {
                let pair =
                    found.as_ref().map(|l| (l.name.as_str(), l.opt_in_process.as_deref().unwrap_or("double_opt_in")));
                store::record_default_list_check(&self.db, merchant, &list_id, pair, now_ms())
                    .await
                    .context("recording the list check")?;
                row = store::get(&self.db, merchant)
                    .await
                    .context("reloading")?
                    .ok_or(KlaviyoServiceError::NotConnected)?;
            }
        }
        Ok(KlaviyoOverview { connection: Some(connection_view(&row, key_problem)), previous_account: previous })
    }

    /// Every list in the account, sorted by name, read live across all cursor pages. Also marks
    /// chosen lists that Klaviyo no longer has.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn lists(&self, merchant: MerchantId) -> Result<Vec<KlaviyoListView>, KlaviyoServiceError> {
        let (key, _) = self.key(merchant).await?;
        let lists = interactive(|| self.client.all_lists(&key))
            .await
            .map_err(|source| KlaviyoServiceError::Klaviyo { source, saved_key: true })?;
        let listed: Vec<store::ListedList<'_>> = lists
            .iter()
            .map(|l| store::ListedList {
                id: &l.id,
                name: &l.name,
                opt_in: opt_in(l.opt_in_process.as_deref()).as_klaviyo(),
            })
            .collect();
        store::record_lists_present(&self.db, merchant, &listed, now_ms()).await.context("recording list presence")?;
        let mut views: Vec<KlaviyoListView> = lists
            .into_iter()
            .map(|l| KlaviyoListView { opt_in: opt_in(l.opt_in_process.as_deref()), id: l.id, name: l.name })
            .collect();
        views.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
        Ok(views)
    }

    /// Looks the list up in Klaviyo (it must exist now) and returns it as a choice.
    async fn checked_list(&self, key: &PrivateKey, list_id: &str) -> Result<ChosenList, KlaviyoServiceError> {
        let list_id = list_id.trim();
        if list_id.is_empty() || list_id.len() > 64 {
            return Err(KlaviyoServiceError::ListNotFound);
        }
        match interactive(|| self.client.list(key, list_id)).await {
            Ok(list) => Ok(ChosenList {
                opt_in: opt_in(list.opt_in_process.as_deref()),
                id: list.id,
                name: list.name,
                missing: false,
            }),
            Err(KlaviyoError::NotFound { .. }) => Err(KlaviyoServiceError::ListNotFound),
            Err(source) => Err(KlaviyoServiceError::Klaviyo { source, saved_key: true }),
        }
    }

    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn choose_default_list(
        &self,
        merchant: MerchantId,
        list_id: &str,
    ) -> Result<ConnectionView, KlaviyoServiceError> {
        let (key, _) = self.key(merchant).await?;
        let list = self.checked_list(&key, list_id).await?;
        let choice = ListChoice { id: &list.id, name: &list.name, opt_in: list.opt_in.as_klaviyo() };
        store::set_default_list(&self.db, merchant, &choice, now_ms()).await.context("saving the default list")?;
        let row =
            store::get(&self.db, merchant).await.context("reloading")?.ok_or(KlaviyoServiceError::NotConnected)?;
        Ok(connection_view(&row, None))
    }

    /// Sets a campaign's own list, or (`None`) goes back to the default list.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %campaign))]
    pub async fn choose_campaign_list(
        &self,
        merchant: MerchantId,
        campaign: CampaignId,
        list_id: Option<&str>,
    ) -> Result<Option<ChosenList>, KlaviyoServiceError> {
        let chosen = match list_id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(list_id) => {
                let (key, _) = self.key(merchant).await?;
                Some(self.checked_list(&key, list_id).await?)
            }
            None => None,
        };
        let choice = chosen.as_ref().map(|l| ListChoice { id: &l.id, name: &l.name, opt_in: l.opt_in.as_klaviyo() });
        let found = store::set_campaign_list(&self.db, merchant, campaign, choice.as_ref())
            .await
            .context("saving the campaign list")?;
        if !found {
            return Err(KlaviyoServiceError::CampaignNotFound);
        }
        Ok(chosen)
    }

    /// Forgets the key. The account stays remembered so a later key from another account is flagged.
    #[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
    pub async fn disconnect(&self, merchant: MerchantId) -> Result<KlaviyoOverview, KlaviyoServiceError> {
        store::delete(&self.db, merchant).await.context("deleting the Klaviyo connection")?;
        crate::store::reconcile::stop(&self.db, merchant, now_ms()).await.context("stopping the Klaviyo checks")?;
        tracing::info!("Klaviyo disconnected");
        self.status(merchant).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_checks_round_trip_through_storage() {
        let checks = vec![
            ScopeCheck { scope: KeyScope::AccountsRead, state: ScopeState::Verified },
            ScopeCheck { scope: KeyScope::SubscriptionsFull, state: ScopeState::ReadVerifiedWritePending },
        ];
        assert_eq!(decode_checks(&encode_checks(&checks)), checks);
    }

    #[test]
    fn an_unknown_opt_in_is_treated_as_double() {
        assert_eq!(opt_in(Some("single_opt_in")), OptIn::Single);
        assert_eq!(opt_in(Some("something_new")), OptIn::Double);
        assert_eq!(opt_in(None), OptIn::Double);
    }
}
