//! The reconcile job's rows: one pass per merchant over their synced affiliates, worked in slices
//! under a lease (the outbox's claim), and what each check found written onto the sync rows.

use super::{Claim, Db, DbResult};
use shared::domain::{Drift, MerchantId, SyncState};

/// Schedules the merchant's next pass for `due` (unix ms), unless one is due sooner already.
pub async fn schedule(db: &Db, merchant: MerchantId, due: i64, now: i64) -> DbResult<()> {
    db.query(
        "INSERT INTO klaviyo_reconciles (merchant_id, due_at, created_at, updated_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (merchant_id) DO UPDATE SET updated_at = excluded.updated_at,
             due_at = CASE WHEN klaviyo_reconciles.due_at IS NULL OR klaviyo_reconciles.due_at > excluded.due_at
                           THEN excluded.due_at ELSE klaviyo_reconciles.due_at END",
    )
    .bind(merchant)
    .bind(due)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

/// No more passes (Klaviyo disconnected); a pass under way starts over when it resumes.
pub async fn stop(db: &Db, merchant: MerchantId, now: i64) -> DbResult<()> {
    db.query(
        "UPDATE klaviyo_reconciles SET due_at = NULL, after_sync_id = 0, pass_started_at = NULL, checked = 0,
             drifted = 0, lease_owner = NULL, lease_until = NULL, updated_at = $2
         WHERE merchant_id = $1",
    )
    .bind(merchant)
    .bind(now)
    .execute()
    .await
    .map(drop)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedReconcile {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub after_sync_id: i64,
    pub pass_started_at: Option<i64>,
    pub attempts: i64,
}

/// Takes due passes no live lease holds, merchants taking turns (see [`super::lease_sql`]).
pub async fn claim(db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedReconcile>> {
    let sql = super::lease_sql(db.kind(), "klaviyo_reconciles", "", "id", claim);
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&sql), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT id, merchant_id, after_sync_id, pass_started_at, attempts FROM klaviyo_reconciles
         WHERE id IN ({list}) AND lease_owner = $1 ORDER BY id"
    );
    db.query_as(&sql).bind(claim.owner).fetch_all().await
}

/// Extends the lease of a pass this instance holds; false when it no longer does.
pub async fn renew(db: &Db, token: &str, id: i64, lease_until: i64) -> DbResult<bool> {
    let renewed = db
        .query("UPDATE klaviyo_reconciles SET lease_until = $3 WHERE id = $1 AND lease_owner = $2")
        .bind(id)
        .bind(token)
        .bind(lease_until)
        .execute()
        .await?;
    Ok(renewed == 1)
}

/// Takes a pass back for its next slice right after saving it, unless another instance did.
pub async fn claim_again(
    db: &Db,
    token: &str,
    id: i64,
    lease_until: i64,
    now: i64,
) -> DbResult<Option<ClaimedReconcile>> {
    db.query_as(
        "UPDATE klaviyo_reconciles SET lease_owner = $2, lease_until = $3
         WHERE id = $1 AND due_at IS NOT NULL AND (lease_until IS NULL OR lease_until < $4)
         RETURNING id, merchant_id, after_sync_id, pass_started_at, attempts",
    )
    .bind(id)
    .bind(token)
    .bind(lease_until)
    .bind(now)
    .fetch_optional()
    .await
}

/// A synced affiliate to check: their sync row, list and what Rekomi last knew.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckRow {
    pub id: i64,
    pub list_id: String,
    pub email: String,
    pub state: SyncState,
    pub drift: Option<Drift>,
    pub in_list_at: Option<i64>,
    /// As read: a row a sync changed since is left to that sync's result.
    pub updated_at: i64,
}

impl CheckRow {
    /// Rekomi saw them a subscribed member (or a check found them changed since), so an absence
    /// now is a change made in Klaviyo.
    pub fn was_in_list(&self) -> bool {
        self.in_list_at.is_some() || self.drift.is_some()
    }
}

/// A page of the pass: the rows to check, where the pass got to, and whether rows are left.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub rows: Vec<CheckRow>,
    /// The last sync row looked at (checked or not).
    pub last: i64,
    pub more: bool,
}

/// The next `limit` sync rows of the merchant after row `after`, and of those the ones to check:
/// approved affiliates whose sync to their campaign's current list settled (succeeded, or not
/// subscribed); rows being sent or read back are the sync's own business, and a list no longer
/// used is nobody's to check. The ids come first, by index, so each page costs its own rows only
/// (one query joining everything re-read all rows left on every page on PostgreSQL).
pub async fn page(db: &Db, merchant: MerchantId, after: i64, limit: i64) -> DbResult<Page> {
    let ids: Vec<i64> = db
        .query_scalar("SELECT id FROM klaviyo_syncs WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(merchant)
        .bind(after)
        .bind(limit)
        .fetch_all()
        .await?;
    let Some(&last) = ids.last() else { return Ok(Page { rows: Vec::new(), last: after, more: false }) };
    // Ids come from the database as integers, so inlining them is safe.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows = db
        .query_as(&format!(
            "SELECT s.id, s.list_id, a.email, s.state, s.drift, s.in_list_at, s.updated_at
             FROM klaviyo_syncs s JOIN affiliates a ON a.id = s.affiliate_id JOIN campaigns c ON c.id = a.campaign_id
                 JOIN klaviyo_connections k ON k.merchant_id = s.merchant_id
             WHERE s.id IN ({list}) AND s.merchant_id = $1 AND a.state = 'approved'
               AND s.state IN ('succeeded', 'blocked') AND s.list_id = COALESCE(c.klaviyo_list_id, k.default_list_id)
             ORDER BY s.id"
        ))
        .bind(merchant)
        .fetch_all()
        .await?;
    Ok(Page { rows, last, more: i64::try_from(ids.len()).unwrap_or(i64::MAX) >= limit })
}

/// What a check found for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Subscribed and in the list: as Rekomi left it (or back, by the person's own fresh consent).
    InList,
    Drift(Drift),
    /// Nothing Rekomi tracks changed (someone never subscribed is still not).
    Same,
}

/// Where a slice leaves the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More rows after `after`; due again at `due`.
    Continue { after: i64, due: i64 },
    /// Every row checked; the next pass is due at `next`.
    Done { next: i64 },
    /// Stopped by an error before `after` was passed; tried again at `due`.
    Failed { after: i64, due: i64, error: String },
}

/// Writes what the checks found and moves the pass on, in one transaction; false when the lease
/// was lost meanwhile (nothing is written then). Rows being synced are left to the sync.
pub async fn save(
    db: &Db,
    token: &str,
    pass: &ClaimedReconcile,
    found: &[(CheckRow, Found)],
    progress: &Progress,
    now: i64,
) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    let held: Option<i64> = tx
        .query_scalar("SELECT id FROM klaviyo_reconciles WHERE id = $1 AND lease_owner = $2")
        .bind(pass.id)
        .bind(token)
        .fetch_optional()
        .await?;
    if held.is_none() {
        return Ok(false);
    }
    // Settled rows, as they were read (`read` is the placeholder of the `updated_at` read): a row
    // re-queued or re-synced meanwhile reads Klaviyo itself, and its result is newer than this check's.
    let settled = |read: &str| {
        format!(
            "merchant_id = $2 AND due_at IS NULL AND (lease_until IS NULL OR lease_until < $3)
             AND state IN ('succeeded', 'blocked') AND updated_at = {read}"
        )
    };
    let mut unchanged: Vec<i64> = Vec::new();
    let mut drifted = 0_i64;
    for (row, what) in found {
        match what {
            Found::InList if row.state == SyncState::Succeeded && row.drift.is_none() => unchanged.push(row.id),
            Found::Same => unchanged.push(row.id),
            Found::InList => {
                tx.query(&format!(
                    "UPDATE klaviyo_syncs SET state = 'succeeded', reason = NULL, drift = NULL, drift_at = NULL,
                         in_list_at = $3, checked_at = $3, updated_at = $3
                     WHERE id = $1 AND {}",
                    settled("$4")
                ))
                .bind(row.id)
                .bind(pass.merchant_id)
                .bind(now)
                .bind(row.updated_at)
                .execute()
                .await?;
            }
            Found::Drift(drift) => {
                if row.drift != Some(*drift) {
                    drifted += 1;
                }
                // The date Rekomi noticed stays the first time it saw this change.
                tx.query(&format!(
                    "UPDATE klaviyo_syncs SET state = 'blocked', reason = $4, checked_at = $3,
                         drift_at = CASE WHEN drift = $5 THEN drift_at ELSE $3 END,
                         updated_at = CASE WHEN drift = $5 THEN updated_at ELSE $3 END, drift = $5
                     WHERE id = $1 AND {}",
                    settled("$6")
                ))
                .bind(row.id)
                .bind(pass.merchant_id)
                .bind(now)
                .bind(drift.explain())
                .bind(*drift)
                .bind(row.updated_at)
                .execute()
                .await?;
            }
        }
    }
    if !unchanged.is_empty() {
        // Ids come from the database as integers, so inlining them is safe.
        let list = unchanged.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        tx.query(&format!("UPDATE klaviyo_syncs SET checked_at = $2 WHERE merchant_id = $1 AND id IN ({list})"))
            .bind(pass.merchant_id)
            .bind(now)
            .execute()
            .await?;
    }
    let checked = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let started = pass.pass_started_at.unwrap_or(now);
    let moved = match progress {
        Progress::Continue { after, due } => {
            tx.query(
                "UPDATE klaviyo_reconciles SET after_sync_id = $2, checked = checked + $3, drifted = drifted + $4,
                     pass_started_at = $5, attempts = 0, due_at = $6, lease_owner = NULL, lease_until = NULL,
                     updated_at = $7
                 WHERE id = $1 AND lease_owner = $8",
            )
            .bind(pass.id)
            .bind(*after)
            .bind(checked)
            .bind(drifted)
            .bind(started)
            .bind(*due)
            .bind(now)
            .bind(token)
            .execute()
            .await?
        }
        Progress::Done { next } => {
            tx.query(
                "UPDATE klaviyo_reconciles SET after_sync_id = 0, last_checked = checked + $2,
                     last_drifted = drifted + $3, checked = 0, drifted = 0, pass_started_at = NULL,
                     last_finished_at = $5, last_error = NULL, attempts = 0, due_at = $4, lease_owner = NULL,
                     lease_until = NULL, updated_at = $5
                 WHERE id = $1 AND lease_owner = $6",
            )
            .bind(pass.id)
            .bind(checked)
            .bind(drifted)
            .bind(*next)
            .bind(now)
            .bind(token)
            .execute()
            .await?
        }
        Progress::Failed { after, due, error } => {
            tx.query(
                "UPDATE klaviyo_reconciles SET after_sync_id = $2, checked = checked + $3, drifted = drifted + $4,
                     pass_started_at = $5, attempts = attempts + 1, last_error = $6, due_at = $7,
                     lease_owner = NULL, lease_until = NULL, updated_at = $8
                 WHERE id = $1 AND lease_owner = $9",
            )
            .bind(pass.id)
            .bind(*after)
            .bind(checked)
            .bind(drifted)
            .bind(started)
            .bind(error.as_str())
            .bind(*due)
            .bind(now)
            .bind(token)
            .execute()
            .await?
        }
    };
    if moved == 0 {
        // Another instance took the pass meanwhile: this slice's writes are dropped with the transaction.
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// Records drift a sync found on its own (an affiliate it had put in the list is gone from it).
pub async fn mark(db: &Db, merchant: MerchantId, found: &[(i64, Drift)], now: i64) -> DbResult<()> {
    if found.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (id, drift) in found {
        tx.query(
            "UPDATE klaviyo_syncs SET drift_at = CASE WHEN drift = $3 THEN drift_at ELSE $4 END, drift = $3,
                 checked_at = $4
             WHERE id = $1 AND merchant_id = $2",
        )
        .bind(*id)
        .bind(merchant)
        .bind(*drift)
        .bind(now)
        .execute()
        .await?;
    }
    tx.commit().await
}
