//! Invites: created in bulk (or by an import asking for consent), each with the Klaviyo event that
//! delivers it queued in the same transaction; opened, accepted (see `affiliates::accept_invite`),
//! resent with a new nonce, or revoked.

use super::{db_err, on_engine, BeginWrite, Db, DbResult};
use app::domain::{AffiliateId, CampaignId, MerchantId};
use std::collections::HashMap;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub merchant_name: String,
    pub merchant_slug: String,
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub campaign_slug: String,
    pub email: String,
    pub full_name: Option<String>,
    pub affiliate_id: Option<AffiliateId>,
    pub source: String,
    pub nonce: String,
    pub sends: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub sent_at: i64,
    pub opened_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub delivery: Option<String>,
    pub delivery_reason: Option<String>,
}

const SELECT: &str = "SELECT i.id, i.merchant_id, m.name AS merchant_name, m.slug AS merchant_slug, i.campaign_id,
        c.name AS campaign_name, c.slug AS campaign_slug, i.email, i.full_name, i.affiliate_id, i.source, i.nonce,
        i.sends, i.expires_at, i.created_at, i.sent_at, i.opened_at, i.accepted_at, i.revoked_at,
        e.state AS delivery, e.reason AS delivery_reason
    FROM invites i
    JOIN campaigns c ON c.id = i.campaign_id
    JOIN merchants m ON m.id = i.merchant_id
    LEFT JOIN klaviyo_events e ON e.id = (SELECT MAX(id) FROM klaviyo_events WHERE invite_id = i.id)";

/// One invite to create.
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub email: String,
    pub full_name: Option<String>,
    pub affiliate_id: Option<AffiliateId>,
    /// The campaign whose page the link opens; `None`: the issue's campaign.
    pub campaign: Option<CampaignId>,
}

/// What the link and the event of a new or resent invite are made of.
pub struct Issue<'a> {
    pub merchant: MerchantId,
    pub campaign: CampaignId,
    pub expires_at: i64,
    pub now: i64,
    pub actor: &'a str,
    /// The signed link for (campaign, invite id, expiry, nonce).
    pub link: &'a (dyn Fn(CampaignId, i64, i64, &str) -> String + Send + Sync),
    /// The event's properties for (campaign, invite, link).
    pub properties: &'a (dyn Fn(CampaignId, &NewInvite, &str) -> serde_json::Value + Send + Sync),
}

pub const INVITED_METRIC: &str = "Rekomi Affiliate Invited";

/// Inserts one invite and, when Klaviyo is connected, its delivery event, inside an open
/// transaction. Evaluates to the invite's id.
macro_rules! invite_in_tx {
    ($tx:expr, $issue:expr, $invite:expr, $source:expr, $import:expr, $connected:expr) => {{
        let issue: &$crate::store::invites::Issue<'_> = $issue;
        let invite: &$crate::store::invites::NewInvite = $invite;
        let nonce = $crate::links::nonce();
        let campaign = invite.campaign.unwrap_or(issue.campaign);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO invites (merchant_id, campaign_id, email, full_name, affiliate_id, import_id, source, nonce,
                 sends, expires_at, created_at, sent_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10, $11) RETURNING id",
        )
        .bind(issue.merchant)
        .bind(campaign)
        .bind(&invite.email)
        .bind(&invite.full_name)
        .bind(invite.affiliate_id)
        .bind($import)
        .bind($source)
        .bind(&nonce)
        .bind(issue.expires_at)
        .bind(issue.now)
        .bind(issue.actor)
        .fetch_one(&mut *$tx)
        .await
        .map_err(db_err)?;
        if $connected {
            let link = (issue.link)(campaign, id, issue.expires_at, &nonce);
            let properties = (issue.properties)(campaign, invite, &link).to_string();
            let unique = format!("invite:{id}:1");
            $crate::store::events::event_in_tx!(
                $tx,
                issue.merchant,
                $crate::store::invites::INVITED_METRIC,
                &invite.email,
                &unique,
                &properties,
                Some(id),
                issue.now
            );
        }
        id
    }};
}
pub(crate) use invite_in_tx;

/// True when the merchant has a Klaviyo connection (inside a transaction).
macro_rules! connected_in_tx {
    ($tx:expr, $merchant:expr) => {{
        let found: Option<i64> =
            sqlx::query_scalar("SELECT merchant_id FROM klaviyo_connections WHERE merchant_id = $1")
                .bind($merchant)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db_err)?;
        found.is_some()
    }};
}
pub(crate) use connected_in_tx;

/// Which of `emails` already belong to an affiliate (with their state) or to an invite still
/// usable at `now` (with when it was sent).
pub async fn known(
    db: &Db,
    merchant: MerchantId,
    emails: &[String],
    now: i64,
) -> DbResult<(HashMap<String, String>, HashMap<String, i64>)> {
    let mut affiliates = HashMap::new();
    let mut invites = HashMap::new();
    for chunk in emails.chunks(500) {
        let marks = |from: usize| (0..chunk.len()).map(|i| format!("${}", i + from)).collect::<Vec<_>>().join(",");
        let affiliate_sql =
            format!("SELECT email, state FROM affiliates WHERE merchant_id = $1 AND email IN ({})", marks(2));
        let invite_sql = format!(
            "SELECT email, MAX(sent_at) FROM invites WHERE merchant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
                 AND expires_at > $2 AND email IN ({}) GROUP BY email",
            marks(3)
        );
        on_engine!(db, |pool| {
            let mut q = sqlx::query_as::<_, (String, String)>(&affiliate_sql).bind(merchant);
            for e in chunk {
                q = q.bind(e);
            }
            affiliates.extend(q.fetch_all(pool).await.map_err(db_err)?);
            let mut q = sqlx::query_as::<_, (String, i64)>(&invite_sql).bind(merchant).bind(now);
            for e in chunk {
                q = q.bind(e);
            }
            invites.extend(q.fetch_all(pool).await.map_err(db_err)?);
        });
    }
    Ok((affiliates, invites))
}

/// Creates invites in one transaction, re-checking each email there (another request may have
/// invited or added it meanwhile). Returns, per invite, its id or why it was skipped, and whether
/// Klaviyo events were queued.
pub async fn create(db: &Db, issue: &Issue<'_>, invites: &[NewInvite]) -> DbResult<(Vec<Result<i64, String>>, bool)> {
    const TAKEN: &str = "SELECT
            (SELECT state FROM affiliates WHERE merchant_id = $1 AND email = $2),
            (SELECT MAX(id) FROM invites WHERE merchant_id = $1 AND email = $2 AND accepted_at IS NULL
                 AND revoked_at IS NULL AND expires_at > $3)";
    // Two sends at once (a double click, two instances) must not both find an email free: on
    // PostgreSQL they queue on the merchant's row; SQLite's write lock already serialises them.
    let lock = match db {
        Db::Postgres(_) => Some("SELECT id FROM merchants WHERE id = $1 FOR UPDATE"),
        Db::Sqlite(_) => None,
    };
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        if let Some(lock) = lock {
            sqlx::query(lock).bind(issue.merchant).execute(&mut *tx).await.map_err(db_err)?;
        }
        let connected = connected_in_tx!(tx, issue.merchant);
        let mut results = Vec::with_capacity(invites.len());
        for invite in invites {
            let (state, live): (Option<String>, Option<i64>) = sqlx::query_as(TAKEN)
                .bind(issue.merchant)
                .bind(&invite.email)
                .bind(issue.now)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            if let Some(state) = state {
                results.push(Err(format!("Already an affiliate ({state}).")));
                continue;
            }
            if live.is_some() {
                results.push(Err("Already invited; resend that invite from the list instead.".to_owned()));
                continue;
            }
            let id = invite_in_tx!(tx, issue, invite, "bulk", None::<i64>, connected);
            results.push(Ok(id));
        }
        tx.commit().await.map_err(db_err)?;
        Ok((results, connected))
    })
}

/// The merchant's invites, newest first.
pub async fn list(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<InviteRow>> {
    let sql = format!("{SELECT} WHERE i.merchant_id = $1 ORDER BY i.id DESC LIMIT $2");
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).bind(limit).fetch_all(pool).await.map_err(db_err))
}

/// The merchant's newest invite to `email`.
pub async fn latest_for(db: &Db, merchant: MerchantId, email: &str) -> DbResult<Option<InviteRow>> {
    let sql = format!("{SELECT} WHERE i.merchant_id = $1 AND i.email = $2 ORDER BY i.id DESC LIMIT 1");
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).bind(email).fetch_optional(pool).await.map_err(db_err))
}

/// One invite by id, of any merchant (the public page has only the link).
pub async fn get(db: &Db, id: i64) -> DbResult<Option<InviteRow>> {
    let sql = format!("{SELECT} WHERE i.id = $1");
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await.map_err(db_err))
}

pub async fn mark_opened(db: &Db, id: i64, now: i64) -> DbResult<()> {
    on_engine!(db, |pool| {
        sqlx::query("UPDATE invites SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map_err(db_err)?;
        Ok(())
    })
}

/// A new link (nonce and expiry) for a live invite, and its delivery event again. `None` when the
/// invite is not the merchant's, or was accepted or revoked.
pub async fn resend(db: &Db, issue: &Issue<'_>, id: i64) -> DbResult<Option<i64>> {
    let nonce = crate::links::nonce();
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let row: Option<(i64, String, Option<String>, Option<AffiliateId>)> = sqlx::query_as(
            "UPDATE invites SET nonce = $3, expires_at = $4, sends = sends + 1, sent_at = $5, opened_at = NULL
             WHERE merchant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
             RETURNING sends, email, full_name, affiliate_id",
        )
        .bind(issue.merchant)
        .bind(id)
        .bind(&nonce)
        .bind(issue.expires_at)
        .bind(issue.now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((sends, email, full_name, affiliate_id)) = row else { return Ok(None) };
        if connected_in_tx!(tx, issue.merchant) {
            let invite = NewInvite { email, full_name, affiliate_id, campaign: None };
            let link = (issue.link)(issue.campaign, id, issue.expires_at, &nonce);
            let properties = (issue.properties)(issue.campaign, &invite, &link).to_string();
            let unique = format!("invite:{id}:{sends}");
            super::events::event_in_tx!(
                tx,
                issue.merchant,
                INVITED_METRIC,
                &invite.email,
                &unique,
                &properties,
                Some(id),
                issue.now
            );
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some(sends))
    })
}

/// Revokes a live invite; its link stops working at once. False when there was nothing to revoke.
pub async fn revoke(db: &Db, merchant: MerchantId, id: i64, now: i64) -> DbResult<bool> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let done = sqlx::query(
            "UPDATE invites SET revoked_at = $3 WHERE merchant_id = $1 AND id = $2 AND accepted_at IS NULL
                 AND revoked_at IS NULL",
        )
        .bind(merchant)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // An event not sent yet must not deliver a dead link.
        sqlx::query(
            "UPDATE klaviyo_events SET state = 'failed', reason = 'The invite was revoked before it was sent.',
                 due_at = NULL, updated_at = $3
             WHERE merchant_id = $1 AND invite_id = $2 AND state IN ('queued', 'retrying')",
        )
        .bind(merchant)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    })
}
