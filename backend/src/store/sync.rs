//! The Klaviyo sync outbox and its log: queueing (inside the approval's transaction), claiming due
//! rows under a lease, writing back what a worker learned, and the reads the merchant's pages use.

use super::engine::values_placeholders;
use super::{db_err, Db, DbResult, Tx};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, Drift, MerchantId, SyncState};
use shared::views::{SyncHealth, SyncLogEntry, SyncView};

/// The insert shared by [`enqueue`] and [`enqueue_many`]: a sync per affiliate to the campaign's
/// list or else the merchant's default list, none when no list is chosen (Klaviyo not connected
/// yet: "sync all approved" picks them up later). A re-queue starts the sync over; it keeps when the
/// last subscribe was sent only while that send is still unconfirmed, since Klaviyo may yet apply
/// it (a disabled affiliate's sync then watches the list until it can't).
fn enqueue_sql(affiliates: &str) -> String {
    format!(
        "INSERT INTO klaviyo_syncs (merchant_id, affiliate_id, list_id, state, due_at, created_at, updated_at)
         SELECT a.merchant_id, a.id, COALESCE(c.klaviyo_list_id, k.default_list_id), 'queued', $2, $2, $2
         FROM affiliates a
         JOIN campaigns c ON c.id = a.campaign_id
         JOIN klaviyo_connections k ON k.merchant_id = a.merchant_id
         WHERE a.merchant_id = $1 AND a.id {affiliates} AND COALESCE(c.klaviyo_list_id, k.default_list_id) IS NOT NULL
           AND a.state IN ('approved', 'disabled', 'banned')
         ON CONFLICT (affiliate_id, list_id) DO UPDATE SET state = 'queued', reason = NULL, attempts = 0,
             checks = 0, due_at = excluded.due_at, lease_owner = NULL, lease_until = NULL,
             retired_at = NULL, leave_list = FALSE,
             sent_at = CASE WHEN klaviyo_syncs.state IN ('sending', 'verifying', 'retrying', 'awaiting_confirmation')
                            THEN klaviyo_syncs.sent_at END,
             updated_at = excluded.updated_at"
    )
}

/// Queues a sync for one affiliate inside the caller's transaction; how many rows were queued.
pub async fn enqueue(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    tx.query(&enqueue_sql("= $3")).bind(merchant).bind(now).bind(affiliate).execute().await
}

/// [`enqueue`] for many affiliates in one statement; how many were queued.
pub async fn enqueue_many(tx: &mut Tx, merchant: MerchantId, affiliates: &[AffiliateId], now: i64) -> DbResult<u64> {
    if affiliates.is_empty() {
        return Ok(0);
    }
    // Ids are integers from our own type, so inlining them is safe.
    let list = affiliates.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(",");
    tx.query(&enqueue_sql(&format!("IN ({list})"))).bind(merchant).bind(now).execute().await
}

/// "Re-sync": queues these affiliates (approved or disabled; anyone else is left alone) to their
/// current list and forgets what was last written, so names and properties are written again and
/// everything is read back, even after a sync that succeeded; how many were queued.
pub async fn enqueue_resync(tx: &mut Tx, merchant: MerchantId, affiliates: &[AffiliateId], now: i64) -> DbResult<u64> {
    if affiliates.is_empty() {
        return Ok(0);
    }
    // Ids are integers from our own type, so inlining them is safe.
    let list = affiliates.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(",");
    let eligible = format!("IN (SELECT id FROM affiliates WHERE merchant_id = $1 AND id IN ({list}) AND state IN ('approved', 'disabled', 'banned'))");
    let queued = tx.query(&enqueue_sql(&eligible)).bind(merchant).bind(now).execute().await?;
    tx.query(&format!(
        // The merchant's own decision undoes a removal from the list; a profile deleted in Klaviyo
        // (perhaps a data-privacy request there) is never created again by Rekomi.
        "UPDATE klaviyo_syncs SET fields_hash = NULL,
             drift = CASE WHEN drift = 'deleted' THEN drift END,
             drift_at = CASE WHEN drift = 'deleted' THEN drift_at END,
             in_list_at = NULL
         WHERE merchant_id = $1 AND affiliate_id IN ({list})"
    ))
    .bind(merchant)
    .execute()
    .await?;
    Ok(queued)
}

/// Sends the existing syncs of the affiliates `scope` names again, because something Rekomi writes
/// on their profiles changed (a rate, the campaign's name or commission). Only what changed is
/// written: the last write's hash tells. Affiliates never synced are left to "Sync all approved".
/// Only the sync to the list their campaign uses now is sent: one to a list it used before would
/// put them back in it (moving them is the merchant's call, [`retire_moved`]).
fn requeue_sql(scope: &str) -> String {
    format!(
        "UPDATE klaviyo_syncs SET state = 'queued', reason = NULL, attempts = 0, checks = 0, due_at = $2,
             lease_owner = NULL, lease_until = NULL, updated_at = $2,
             sent_at = CASE WHEN state IN ('sending', 'verifying', 'retrying', 'awaiting_confirmation') THEN sent_at END
         WHERE merchant_id = $1 AND affiliate_id IN ({scope}) AND retired_at IS NULL
           AND affiliate_id IN (SELECT id FROM affiliates WHERE merchant_id = $1 AND state IN ('approved', 'disabled', 'banned'))
           AND list_id = ({CURRENT_LIST})"
    )
}

/// The list the affiliate of the `klaviyo_syncs` row in scope is synced to now: their campaign's, or
/// else the merchant's default.
const CURRENT_LIST: &str = "SELECT COALESCE(c.klaviyo_list_id, k.default_list_id) FROM affiliates cur
    JOIN campaigns c ON c.id = cur.campaign_id JOIN klaviyo_connections k ON k.merchant_id = cur.merchant_id
    WHERE cur.id = klaviyo_syncs.affiliate_id";

/// [`requeue_sql`] for one affiliate; how many rows were queued.
pub async fn requeue_affiliate(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    tx.query(&requeue_sql("$3")).bind(merchant).bind(now).bind(affiliate).execute().await
}

/// [`requeue_sql`] for every affiliate of a campaign; how many rows were queued.
pub async fn requeue_campaign(tx: &mut Tx, merchant: MerchantId, campaign: CampaignId, now: i64) -> DbResult<u64> {
    let scope = "SELECT id FROM affiliates WHERE merchant_id = $1 AND campaign_id = $3";
    tx.query(&requeue_sql(scope)).bind(merchant).bind(now).bind(campaign).execute().await
}

/// Current syncs to a list their affiliate's campaign no longer uses (it chose another list, or the
/// default list changed).
const STALE: &str = "FROM klaviyo_syncs s JOIN affiliates a ON a.id = s.affiliate_id
        JOIN campaigns c ON c.id = a.campaign_id JOIN klaviyo_connections k ON k.merchant_id = s.merchant_id
    WHERE s.merchant_id = $1 AND s.retired_at IS NULL AND a.erased_at IS NULL
      AND COALESCE(c.klaviyo_list_id, k.default_list_id) IS NOT NULL
      AND s.list_id <> COALESCE(c.klaviyo_list_id, k.default_list_id)";

/// Approved affiliates still synced to a list their campaign no longer uses, by (that list, the
/// one it uses now).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingMove {
    pub from_list: String,
    pub to_list: String,
    pub affiliates: i64,
}

pub async fn pending_moves(db: &Db, merchant: MerchantId) -> DbResult<Vec<PendingMove>> {
    let sql = format!(
        "SELECT s.list_id AS from_list, COALESCE(c.klaviyo_list_id, k.default_list_id) AS to_list,
             COUNT(DISTINCT s.affiliate_id) AS affiliates
         {STALE} AND a.state = 'approved'
         GROUP BY s.list_id, COALESCE(c.klaviyo_list_id, k.default_list_id)
         ORDER BY affiliates DESC, from_list"
    );
    db.query_as(&sql).bind(merchant).fetch_all().await
}

/// Retires every sync to a list its affiliate's campaign no longer uses; with `leave`, each is
/// queued to take them out of that list (membership only). Returns the approved affiliates among
/// them (the caller queues them to their current list) and how many rows will leave a list.
pub async fn retire_moved(
    tx: &mut Tx,
    merchant: MerchantId,
    leave: bool,
    now: i64,
) -> DbResult<(Vec<AffiliateId>, u64)> {
    let approved: Vec<AffiliateId> = tx
        .query_scalar(&format!("SELECT DISTINCT s.affiliate_id {STALE} AND a.state = 'approved'"))
        .bind(merchant)
        .fetch_all()
        .await?;
    let rows: Vec<i64> = tx.query_scalar(&format!("SELECT s.id {STALE}")).bind(merchant).fetch_all().await?;
    let mut retired = 0;
    for chunk in rows.chunks(1_000) {
        // Ids come from the database as integers, so inlining them is safe.
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        retired += tx
            .query(&format!(
                "UPDATE klaviyo_syncs SET retired_at = $2, leave_list = $3, updated_at = $2,
                     state = CASE WHEN $3 THEN 'queued' ELSE state END,
                     due_at = CASE WHEN $3 THEN $2 END,
                     reason = CASE WHEN $3 THEN NULL ELSE reason END,
                     attempts = CASE WHEN $3 THEN 0 ELSE attempts END,
                     checks = CASE WHEN $3 THEN 0 ELSE checks END
                 WHERE merchant_id = $1 AND id IN ({list})"
            ))
            .bind(merchant)
            .bind(now)
            .bind(leave)
            .execute()
            .await?;
    }
    Ok((approved, if leave { retired } else { 0 }))
}

/// Another Klaviyo account was connected: every sync belonged to the old one, whose lists the new
/// key can't reach. They are retired as they are (the people stay in the old account's lists);
/// the approved affiliates then read as not synced, for "Sync all approved" once a list is chosen.
pub async fn retire_all(tx: &mut Tx, merchant: MerchantId, now: i64) -> DbResult<u64> {
    tx.query(
        "UPDATE klaviyo_syncs SET retired_at = $2, leave_list = FALSE, due_at = NULL, updated_at = $2
         WHERE merchant_id = $1 AND retired_at IS NULL",
    )
    .bind(merchant)
    .bind(now)
    .execute()
    .await
}

/// Queues every approved affiliate of the merchant that has no sync to its list yet.
pub async fn enqueue_unsynced(tx: &mut Tx, merchant: MerchantId, now: i64) -> DbResult<u64> {
    tx.query(
        "INSERT INTO klaviyo_syncs (merchant_id, affiliate_id, list_id, state, due_at, created_at, updated_at)
         SELECT a.merchant_id, a.id, COALESCE(c.klaviyo_list_id, k.default_list_id), 'queued', $2, $2, $2
         FROM affiliates a
         JOIN campaigns c ON c.id = a.campaign_id
         JOIN klaviyo_connections k ON k.merchant_id = a.merchant_id
         WHERE a.merchant_id = $1 AND a.state = 'approved'
           AND COALESCE(c.klaviyo_list_id, k.default_list_id) IS NOT NULL
         ON CONFLICT (affiliate_id, list_id) DO UPDATE SET state = 'queued', reason = NULL, attempts = 0,
             checks = 0, due_at = excluded.due_at, lease_owner = NULL, lease_until = NULL, retired_at = NULL,
             leave_list = FALSE, updated_at = excluded.updated_at
           WHERE klaviyo_syncs.retired_at IS NOT NULL",
    )
    .bind(merchant)
    .bind(now)
    .execute()
    .await
}

/// A claimed row with what the worker needs of its affiliate and campaign.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedSync {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub affiliate_id: AffiliateId,
    pub list_id: String,
    pub state: SyncState,
    pub reason: Option<String>,
    pub attempts: i64,
    pub checks: i64,
    pub sent_at: Option<i64>,
    pub verify_until: Option<i64>,
    pub list_opt_in: Option<String>,
    pub import_job_id: Option<String>,
    pub profile_id: Option<String>,
    pub fields_hash: Option<String>,
    /// What the last check found changed in Klaviyo; a removal or deletion there is not undone.
    pub drift: Option<Drift>,
    /// When Rekomi last saw the affiliate in the list (so an absence now is a change in Klaviyo).
    pub in_list_at: Option<i64>,
    /// The campaign moved to another list; with `leave_list` this row takes them out of this one.
    pub retired_at: Option<i64>,
    pub leave_list: bool,
    pub email: String,
    pub first_name: String,
    pub last_name: Option<String>,
    pub referral_code: Option<String>,
    pub consent_at: Option<i64>,
    pub affiliate_state: AffiliateState,
    pub campaign_name: String,
    pub destination_url: Option<String>,
    /// When the affiliate was approved (the last decision, while approved).
    pub decided_at: Option<i64>,
    pub merchant_slug: String,
    pub commission_kind: String,
    pub commission_bps: Option<i64>,
    pub commission_minor: Option<i64>,
    pub currency: String,
    pub rate_bps: Option<i64>,
    pub rate_minor: Option<i64>,
    pub rate_expires_at: Option<i64>,
    /// The affiliate's discount code (typed in, or made in Shopify) and the shop it works in.
    pub coupon_code: Option<String>,
    pub shop_domain: Option<String>,
}

/// Takes up to `limit` due rows that no live lease holds, for `owner` until `lease_until`, at most
/// `per_merchant` of any one merchant and none of the merchants in `busy` (this instance is
/// already working theirs), so one merchant's backlog never fills a claim. Queued and retrying rows
/// become `sending`.
pub async fn claim(db: &Db, claim: &super::Claim<'_>) -> DbResult<Vec<ClaimedSync>> {
    let claim_sql = super::lease_sql(
        db.kind(),
        "klaviyo_syncs",
        ", state = CASE WHEN state IN ('queued', 'retrying') THEN 'sending' ELSE state END",
        "id",
        claim,
    );
    let ids: Vec<i64> = super::bind_claim(db.query_scalar(&claim_sql), claim).fetch_all().await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // Ids come from the database as integers, so inlining them is safe.
    let sql = format!(
        "SELECT s.id, s.merchant_id, s.affiliate_id, s.list_id, s.state, s.reason, s.attempts, s.checks, s.sent_at,
             s.verify_until, s.list_opt_in, s.import_job_id, s.profile_id, s.fields_hash, s.drift, s.in_list_at,
             s.retired_at, s.leave_list, a.email, a.first_name,
             a.last_name, a.referral_code, a.consent_at, a.state AS affiliate_state, c.name AS campaign_name,
             c.destination_url, a.decided_at, m.slug AS merchant_slug, c.commission_kind, c.commission_bps,
             c.commission_minor, c.currency, a.rate_bps, a.rate_minor, a.rate_expires_at, a.coupon_code,
             (SELECT sc.shop_domain FROM shopify_connections sc WHERE sc.merchant_id = s.merchant_id) AS shop_domain
         FROM klaviyo_syncs s JOIN affiliates a ON a.id = s.affiliate_id JOIN campaigns c ON c.id = a.campaign_id
             JOIN merchants m ON m.id = s.merchant_id
         WHERE s.id IN ({list}) AND s.lease_owner = $1 ORDER BY s.id"
    );
    db.query_as(&sql).bind(claim.owner).fetch_all().await
}

/// What a worker writes back for one row; the lease is released with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: i64,
    pub state: SyncState,
    pub reason: Option<String>,
    pub attempts: i64,
    pub checks: i64,
    pub due_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub verify_until: Option<i64>,
    pub list_opt_in: Option<String>,
    pub import_job_id: Option<String>,
    pub profile_id: Option<String>,
    pub fields_hash: Option<String>,
}

/// One Klaviyo call, logged against each sync it covered.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub merchant_id: MerchantId,
    pub sync_ids: Vec<i64>,
    pub at: i64,
    pub endpoint: String,
    pub status: Option<i64>,
    pub error_code: Option<String>,
    pub error: Option<String>,
}

/// Inserts log rows (one per covered sync) in multi-row statements.
async fn insert_log(tx: &mut Tx, log: &[LogRow]) -> DbResult<()> {
    let rows: Vec<(&LogRow, i64)> =
        log.iter().flat_map(|entry| entry.sync_ids.iter().map(move |id| (entry, *id))).collect();
    // Eight parameters a row; 500 rows stay well under both engines' parameter limits.
    for chunk in rows.chunks(500) {
        let sql = format!(
            "INSERT INTO klaviyo_sync_log (merchant_id, sync_id, at, endpoint, status, batch_size, error_code, error)
             VALUES {}",
            values_placeholders(tx.kind(), chunk.len(), 8)
        );
        let mut insert = tx.query(&sql);
        for (entry, id) in chunk {
            insert = insert
                .bind(entry.merchant_id)
                .bind(*id)
                .bind(entry.at)
                .bind(entry.endpoint.as_str())
                .bind(entry.status)
                .bind(i64::try_from(entry.sync_ids.len()).unwrap_or(i64::MAX))
                .bind(entry.error_code.as_deref())
                .bind(entry.error.as_deref());
        }
        insert.execute().await?;
    }
    Ok(())
}

/// Writes outcomes and log rows in one transaction. A row whose lease this worker lost (it ran out
/// and another worker took the row) is left to its new owner.
pub async fn finish(db: &Db, owner: &str, outcomes: &[Outcome], log: &[LogRow], now: i64) -> DbResult<u64> {
    let mut tx = db.begin().await?;
    let updated = match tx.postgres() {
        Some(conn) => update_outcomes_at_once(conn, owner, outcomes, now).await?,
        None => {
            let mut updated = 0;
            for o in outcomes {
                updated += tx
                    .query(
                        "UPDATE klaviyo_syncs SET state = $3, reason = $4, attempts = $5, checks = $6, due_at = $7,
                             sent_at = $8, verify_until = $9, list_opt_in = $10, import_job_id = $11,
                             profile_id = $12, fields_hash = $13, lease_owner = NULL, lease_until = NULL,
                             updated_at = $14, drift = CASE WHEN $3 = 'succeeded' THEN NULL ELSE drift END,
                             drift_at = CASE WHEN $3 = 'succeeded' THEN NULL ELSE drift_at END,
                             in_list_at = CASE WHEN $3 <> 'succeeded' THEN in_list_at
                                 WHEN (SELECT a.state FROM affiliates a WHERE a.id = klaviyo_syncs.affiliate_id)
                                     = 'approved' THEN $14 END
                         WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(o.id)
                    .bind(owner)
                    .bind(o.state)
                    .bind(o.reason.as_deref())
                    .bind(o.attempts)
                    .bind(o.checks)
                    .bind(o.due_at)
                    .bind(o.sent_at)
                    .bind(o.verify_until)
                    .bind(o.list_opt_in.as_deref())
                    .bind(o.import_job_id.as_deref())
                    .bind(o.profile_id.as_deref())
                    .bind(o.fields_hash.as_deref())
                    .bind(now)
                    .execute()
                    .await?;
            }
            updated
        }
    };
    insert_log(&mut tx, log).await?;
    tx.commit().await?;
    Ok(updated)
}

/// PostgreSQL: one statement for the whole batch (a thousand round trips would dominate a sync).
/// SQLite runs in-process, where a statement per row costs little.
async fn update_outcomes_at_once(
    conn: &mut sqlx::PgConnection,
    owner: &str,
    outcomes: &[Outcome],
    now: i64,
) -> DbResult<u64> {
    let col = |f: fn(&Outcome) -> Option<String>| outcomes.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&Outcome) -> Option<i64>| outcomes.iter().map(f).collect::<Vec<_>>();
    let done = sqlx::query(
        "UPDATE klaviyo_syncs s SET state = v.state, reason = v.reason, attempts = v.attempts,
             checks = v.checks, due_at = v.due_at, sent_at = v.sent_at, verify_until = v.verify_until,
             list_opt_in = v.list_opt_in, import_job_id = v.import_job_id, profile_id = v.profile_id,
             fields_hash = v.fields_hash, lease_owner = NULL, lease_until = NULL, updated_at = $13,
             drift = CASE WHEN v.state = 'succeeded' THEN NULL ELSE s.drift END,
             drift_at = CASE WHEN v.state = 'succeeded' THEN NULL ELSE s.drift_at END,
             in_list_at = CASE WHEN v.state <> 'succeeded' THEN s.in_list_at
                 WHEN (SELECT a.state FROM affiliates a WHERE a.id = s.affiliate_id) = 'approved' THEN $13 END
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
             $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[])
             AS v(id, state, reason, attempts, checks, due_at, sent_at, verify_until, list_opt_in,
                  import_job_id, profile_id, fields_hash)
         WHERE s.id = v.id AND s.lease_owner = $14",
    )
    .bind(outcomes.iter().map(|o| o.id).collect::<Vec<_>>())
    .bind(outcomes.iter().map(|o| o.state.as_str().to_owned()).collect::<Vec<_>>())
    .bind(col(|o| o.reason.clone()))
    .bind(outcomes.iter().map(|o| o.attempts).collect::<Vec<_>>())
    .bind(outcomes.iter().map(|o| o.checks).collect::<Vec<_>>())
    .bind(num(|o| o.due_at))
    .bind(num(|o| o.sent_at))
    .bind(num(|o| o.verify_until))
    .bind(col(|o| o.list_opt_in.clone()))
    .bind(col(|o| o.import_job_id.clone()))
    .bind(col(|o| o.profile_id.clone()))
    .bind(col(|o| o.fields_hash.clone()))
    .bind(now)
    .bind(owner)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}

/// Remembers the last error a sync met, for the health panel.
pub async fn record_error(db: &Db, merchant: MerchantId, message: &str, now: i64) -> DbResult<()> {
    db.query("UPDATE klaviyo_connections SET last_sync_error = $2, last_sync_error_at = $3 WHERE merchant_id = $1")
        .bind(merchant)
        .bind(message)
        .bind(now)
        .execute()
        .await
        .map(drop)
}

/// "Retry now": failed and retrying syncs start over at once; a double opt-in sync awaiting
/// confirmation is sent again (Klaviyo mails the affiliate a new confirmation link).
pub async fn retry_now(tx: &mut Tx, merchant: MerchantId, affiliate: AffiliateId, now: i64) -> DbResult<u64> {
    tx.query(
        "UPDATE klaviyo_syncs SET state = 'queued', reason = NULL, attempts = 0, checks = 0, due_at = $3,
             lease_owner = NULL, lease_until = NULL, updated_at = $3
         WHERE merchant_id = $1 AND affiliate_id = $2
           AND state IN ('failed', 'retrying', 'awaiting_confirmation')
           AND (lease_until IS NULL OR lease_until < $3)",
    )
    .bind(merchant)
    .bind(affiliate)
    .bind(now)
    .execute()
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct SyncRow {
    affiliate_id: AffiliateId,
    list_id: String,
    state: SyncState,
    reason: Option<String>,
    due_at: Option<i64>,
    attempts: i64,
    updated_at: i64,
    affiliate_state: AffiliateState,
    drift: Option<Drift>,
    drift_at: Option<i64>,
    checked_at: Option<i64>,
    retired_at: Option<i64>,
    leave_list: bool,
}

impl From<SyncRow> for SyncView {
    fn from(row: SyncRow) -> Self {
        SyncView {
            affiliate_id: row.affiliate_id,
            list_id: row.list_id,
            state: row.state,
            reason: row.reason,
            next_at: row.due_at,
            attempts: row.attempts,
            updated_at: row.updated_at,
            leaving: row.affiliate_state.is_out() || (row.retired_at.is_some() && row.leave_list),
            retired: row.retired_at.is_some(),
            drift: row.drift,
            drift_at: row.drift_at,
            checked_at: row.checked_at,
        }
    }
}

const SYNC_COLUMNS: &str =
    "affiliate_id, list_id, state, reason, due_at, attempts, updated_at, drift, drift_at, checked_at, retired_at, leave_list,
    (SELECT a.state FROM affiliates a WHERE a.id = klaviyo_syncs.affiliate_id) AS affiliate_state";

/// The syncs of one affiliate: the current one first, then newest first.
pub async fn for_affiliate(db: &Db, merchant: MerchantId, affiliate: AffiliateId) -> DbResult<Vec<SyncView>> {
    let sql = format!(
        "SELECT {SYNC_COLUMNS} FROM klaviyo_syncs WHERE merchant_id = $1 AND affiliate_id = $2
         ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, updated_at DESC, id DESC"
    );
    let rows: Vec<SyncRow> = db.query_as(&sql).bind(merchant).bind(affiliate).fetch_all().await?;
    Ok(rows.into_iter().map(SyncView::from).collect())
}

/// Each of these affiliates' syncs, the current one (else the latest) last (for the queue page).
pub async fn latest_for(db: &Db, merchant: MerchantId, affiliates: &[AffiliateId]) -> DbResult<Vec<SyncView>> {
    if affiliates.is_empty() {
        return Ok(Vec::new());
    }
    let list = affiliates.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(",");
    let sql = format!(
        "SELECT {SYNC_COLUMNS} FROM klaviyo_syncs WHERE merchant_id = $1 AND affiliate_id IN ({list})
         ORDER BY CASE WHEN retired_at IS NULL THEN 1 ELSE 0 END, updated_at, id"
    );
    let rows: Vec<SyncRow> = db.query_as(&sql).bind(merchant).fetch_all().await?;
    Ok(rows.into_iter().map(SyncView::from).collect())
}

/// Syncs changed after the position `(updated_at, id)`, in that order, at most `limit`, each with its
/// row id (the live feed's cursor).
pub async fn changed_after(
    db: &Db,
    merchant: MerchantId,
    after: (i64, i64),
    limit: i64,
) -> DbResult<Vec<(i64, SyncView)>> {
    changes(db, merchant, "(updated_at > $2 OR (updated_at = $2 AND id > $3))", after, limit).await
}

/// Syncs changed at or after `since` (unix ms), oldest first, at most `limit`.
pub async fn changed_since(db: &Db, merchant: MerchantId, since: i64, limit: i64) -> DbResult<Vec<(i64, SyncView)>> {
    changes(db, merchant, "updated_at >= $2 AND $3 >= 0", (since, 0), limit).await
}

async fn changes(
    db: &Db,
    merchant: MerchantId,
    condition: &str,
    (at, id): (i64, i64),
    limit: i64,
) -> DbResult<Vec<(i64, SyncView)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        #[sqlx(flatten)]
        sync: SyncRow,
    }
    let sql = format!(
        "SELECT id, {SYNC_COLUMNS} FROM klaviyo_syncs WHERE merchant_id = $1 AND {condition}
             AND retired_at IS NULL
         ORDER BY updated_at, id LIMIT $4"
    );
    let rows: Vec<Row> = db.query_as(&sql).bind(merchant).bind(at).bind(id).bind(limit).fetch_all().await?;
    Ok(rows.into_iter().map(|r| (r.id, SyncView::from(r.sync))).collect())
}

/// The newest calls made for an affiliate.
pub async fn log_for(db: &Db, merchant: MerchantId, affiliate: AffiliateId, limit: i64) -> DbResult<Vec<SyncLogEntry>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        at: i64,
        endpoint: String,
        status: Option<i64>,
        batch_size: i64,
        error_code: Option<String>,
        error: Option<String>,
    }
    let rows: Vec<Row> = db
        .query_as(
            "SELECT l.at, l.endpoint, l.status, l.batch_size, l.error_code, l.error
             FROM klaviyo_sync_log l JOIN klaviyo_syncs s ON s.id = l.sync_id
             WHERE l.merchant_id = $1 AND s.affiliate_id = $2 ORDER BY l.id DESC LIMIT $3",
        )
        .bind(merchant)
        .bind(affiliate)
        .bind(limit)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| SyncLogEntry {
            at: r.at,
            endpoint: r.endpoint,
            status: r.status,
            batch_size: r.batch_size,
            error_code: r.error_code,
            error: r.error,
        })
        .collect())
}

/// Counts by state, approved affiliates with no sync, and the last error.
pub async fn health(db: &Db, merchant: MerchantId) -> DbResult<SyncHealth> {
    let counts: Vec<(SyncState, i64)> = db
        // A disabled affiliate taken out of the list is done, but not "in Klaviyo": left out.
        .query_as(
            "SELECT s.state, COUNT(*) FROM klaviyo_syncs s WHERE s.merchant_id = $1
               AND NOT (s.state = 'succeeded'
                        AND EXISTS (SELECT 1 FROM affiliates a WHERE a.id = s.affiliate_id AND a.state IN ('disabled', 'banned')))
               -- A retired row counts only while it is taking someone out of an old list.
               AND NOT (s.retired_at IS NOT NULL AND (NOT s.leave_list OR s.state IN ('succeeded', 'blocked')))
             GROUP BY s.state",
        )
        .bind(merchant)
        .fetch_all()
        .await?;
    let unsynced: i64 = db
        .query_scalar(
            "SELECT COUNT(*) FROM affiliates a WHERE a.merchant_id = $1 AND a.state = 'approved'
               AND NOT EXISTS (SELECT 1 FROM klaviyo_syncs s WHERE s.affiliate_id = a.id AND s.retired_at IS NULL)",
        )
        .bind(merchant)
        .fetch_one()
        .await?;
    let drifted: i64 = db
        .query_scalar(
            "SELECT COUNT(DISTINCT s.affiliate_id) FROM klaviyo_syncs s JOIN affiliates a ON a.id = s.affiliate_id
             WHERE s.merchant_id = $1 AND s.drift IS NOT NULL AND a.state = 'approved'",
        )
        .bind(merchant)
        .fetch_one()
        .await?;
    let check: Option<(Option<i64>, Option<i64>, Option<i64>, i64)> = db
        .query_as(
            "SELECT last_finished_at, due_at, pass_started_at, checked FROM klaviyo_reconciles WHERE merchant_id = $1",
        )
        .bind(merchant)
        .fetch_optional()
        .await?;
    let connection: Option<(Option<String>, Option<String>, Option<i64>)> = db
        .query_as(
            "SELECT default_list_id, last_sync_error, last_sync_error_at FROM klaviyo_connections
             WHERE merchant_id = $1",
        )
        .bind(merchant)
        .fetch_optional()
        .await?;
    let mut health = SyncHealth { unsynced, drifted, ..SyncHealth::default() };
    if let Some((finished, due, started, checked)) = check {
        health.checked_at = finished;
        // A pass already due (or the first one after an upgrade, due at 0) is not a date to show.
        health.next_check_at = due.filter(|d| *d > super::now_ms());
        health.checking = started.map(|_| checked);
    }
    if let Some((list, error, at)) = connection {
        health.connected = true;
        health.list_chosen = list.is_some();
        health.last_error = error;
        health.last_error_at = at;
    }
    for (state, n) in counts {
        match state {
            SyncState::Queued => health.queued += n,
            SyncState::Sending | SyncState::Verifying => health.in_flight += n,
            SyncState::Retrying => health.retrying += n,
            SyncState::Failed => health.failed += n,
            SyncState::AwaitingConfirmation => health.awaiting_confirmation += n,
            SyncState::Succeeded => health.succeeded += n,
            SyncState::Blocked => health.blocked += n,
        }
    }
    Ok(health)
}

/// Counts by state over every merchant (benchmarks and the chaos test watch these).
pub async fn global_counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    db.query_as("SELECT state, COUNT(*) FROM klaviyo_syncs GROUP BY state").fetch_all().await
}
