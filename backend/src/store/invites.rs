//! Invites: SQL only. Created in bulk (or by an import asking for consent), opened, accepted,
//! resent with a new nonce, or revoked; the use cases, and the Klaviyo event that delivers each
//! invite, are in `services::invites`.

use super::{Db, DbResult, Engine, Tx};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, EventState, ImportId, InviteId, MerchantId};
use std::collections::HashMap;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: InviteId,
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
    /// The state of the newest Klaviyo event that delivers it; `None` when none was queued.
    pub delivery: Option<EventState>,
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

/// Inserts one invite to `campaign`, sent once at `issue.now`, with `nonce` in its link.
pub async fn insert(
    tx: &mut Tx,
    issue: &Issue<'_>,
    campaign: CampaignId,
    invite: &NewInvite,
    source: &str,
    import: Option<ImportId>,
    nonce: &str,
) -> DbResult<InviteId> {
    tx.query_scalar(
        "INSERT INTO invites (merchant_id, campaign_id, email, full_name, affiliate_id, import_id, source, nonce,
             sends, expires_at, created_at, sent_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10, $11) RETURNING id",
    )
    .bind(issue.merchant)
    .bind(campaign)
    .bind(invite.email.as_str())
    .bind(invite.full_name.as_deref())
    .bind(invite.affiliate_id)
    .bind(import)
    .bind(source)
    .bind(nonce)
    .bind(issue.expires_at)
    .bind(issue.now)
    .bind(issue.actor)
    .fetch_one()
    .await
}

/// True when the merchant has a Klaviyo connection.
pub async fn klaviyo_connected(tx: &mut Tx, merchant: MerchantId) -> DbResult<bool> {
    let found: Option<i64> = tx
        .query_scalar("SELECT merchant_id FROM klaviyo_connections WHERE merchant_id = $1")
        .bind(merchant)
        .fetch_optional()
        .await?;
    Ok(found.is_some())
}

/// Makes the merchant's concurrent sends (a double click, two instances) wait for this
/// transaction, so two of them can't both find an email free: on PostgreSQL they queue on the
/// merchant's row; SQLite's write transaction already serialises them.
pub async fn lock_merchant(tx: &mut Tx, merchant: MerchantId) -> DbResult<()> {
    if tx.kind() == Engine::Postgres {
        tx.query("SELECT id FROM merchants WHERE id = $1 FOR UPDATE").bind(merchant).execute().await?;
    }
    Ok(())
}

/// Who already has an email: the state of the merchant's affiliate with it, and the newest of the
/// merchant's invites to it still usable at `now`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Taken {
    pub affiliate: Option<AffiliateState>,
    pub live_invite: Option<i64>,
}

pub async fn taken(tx: &mut Tx, merchant: MerchantId, email: &str, now: i64) -> DbResult<Taken> {
    tx.query_as(
        "SELECT
            (SELECT state FROM affiliates WHERE merchant_id = $1 AND email = $2) AS affiliate,
            (SELECT MAX(id) FROM invites WHERE merchant_id = $1 AND email = $2 AND accepted_at IS NULL
                 AND revoked_at IS NULL AND expires_at > $3) AS live_invite",
    )
    .bind(merchant)
    .bind(email)
    .bind(now)
    .fetch_one()
    .await
}

/// Which of `emails` already belong to an affiliate (with their state) or to an invite still
/// usable at `now` (with when it was sent).
pub async fn known(
    db: &Db,
    merchant: MerchantId,
    emails: &[String],
    now: i64,
) -> DbResult<(HashMap<String, AffiliateState>, HashMap<String, i64>)> {
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
        let mut q = db.query_as::<(String, AffiliateState)>(&affiliate_sql).bind(merchant);
        for e in chunk {
            q = q.bind(e.as_str());
        }
        affiliates.extend(q.fetch_all().await?);
        let mut q = db.query_as::<(String, i64)>(&invite_sql).bind(merchant).bind(now);
        for e in chunk {
            q = q.bind(e.as_str());
        }
        invites.extend(q.fetch_all().await?);
    }
    Ok((affiliates, invites))
}

/// The merchant's invites, newest first.
pub async fn list(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<InviteRow>> {
    let sql = format!("{SELECT} WHERE i.merchant_id = $1 ORDER BY i.id DESC LIMIT $2");
    db.query_as(&sql).bind(merchant).bind(limit).fetch_all().await
}

/// The merchant's newest invite to `email`.
pub async fn latest_for(db: &Db, merchant: MerchantId, email: &str) -> DbResult<Option<InviteRow>> {
    let sql = format!("{SELECT} WHERE i.merchant_id = $1 AND i.email = $2 ORDER BY i.id DESC LIMIT 1");
    db.query_as(&sql).bind(merchant).bind(email).fetch_optional().await
}

/// One invite by id, of any merchant (the public page has only the link).
pub async fn get(db: &Db, id: InviteId) -> DbResult<Option<InviteRow>> {
    let sql = format!("{SELECT} WHERE i.id = $1");
    db.query_as(&sql).bind(id).fetch_optional().await
}

pub async fn mark_opened(db: &Db, id: InviteId, now: i64) -> DbResult<()> {
    db.query("UPDATE invites SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL")
        .bind(id)
        .bind(now)
        .execute()
        .await?;
    Ok(())
}

/// Marks an invite accepted (and opened, if it wasn't) when it is still usable with `nonce` at
/// `now`; false when it was used, revoked, resent or expired in the meantime.
pub async fn accept(tx: &mut Tx, merchant: MerchantId, id: InviteId, nonce: &str, now: i64) -> DbResult<bool> {
    let taken: Option<InviteId> = tx
        .query_scalar(
            "UPDATE invites SET accepted_at = $4, opened_at = COALESCE(opened_at, $4)
             WHERE merchant_id = $1 AND id = $2 AND nonce = $3 AND accepted_at IS NULL AND revoked_at IS NULL
                 AND expires_at > $4
             RETURNING id",
        )
        .bind(merchant)
        .bind(id)
        .bind(nonce)
        .bind(now)
        .fetch_optional()
        .await?;
    Ok(taken.is_some())
}

/// Ties an accepted invite to the affiliate it created.
pub async fn set_affiliate(tx: &mut Tx, id: InviteId, affiliate: AffiliateId) -> DbResult<()> {
    tx.query("UPDATE invites SET affiliate_id = $2 WHERE id = $1").bind(id).bind(affiliate).execute().await?;
    Ok(())
}

/// A live invite as renewed by [`renew`]: how often it has been sent now, and to whom.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Renewed {
    pub sends: i64,
    pub email: String,
    pub full_name: Option<String>,
    pub affiliate_id: Option<AffiliateId>,
}

/// Gives a live invite a new nonce and expiry and counts a send. `None` when the invite is not the
/// merchant's, or was accepted or revoked.
pub async fn renew(
    tx: &mut Tx,
    merchant: MerchantId,
    id: InviteId,
    nonce: &str,
    expires_at: i64,
    now: i64,
) -> DbResult<Option<Renewed>> {
    tx.query_as(
        "UPDATE invites SET nonce = $3, expires_at = $4, sends = sends + 1, sent_at = $5, opened_at = NULL
         WHERE merchant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
         RETURNING sends, email, full_name, affiliate_id",
    )
    .bind(merchant)
    .bind(id)
    .bind(nonce)
    .bind(expires_at)
    .bind(now)
    .fetch_optional()
    .await
}

/// Revokes a live invite; false when there was nothing to revoke.
pub async fn revoke(tx: &mut Tx, merchant: MerchantId, id: InviteId, now: i64) -> DbResult<bool> {
    let done = tx
        .query(
            "UPDATE invites SET revoked_at = $3 WHERE merchant_id = $1 AND id = $2 AND accepted_at IS NULL
                 AND revoked_at IS NULL",
        )
        .bind(merchant)
        .bind(id)
        .bind(now)
        .execute()
        .await?;
    Ok(done == 1)
}

/// Fails the invite's Klaviyo events not sent yet, so none delivers a dead link.
pub async fn fail_unsent_events(tx: &mut Tx, merchant: MerchantId, id: InviteId, now: i64) -> DbResult<()> {
    tx.query(
        "UPDATE klaviyo_events SET state = 'failed', reason = 'The invite was revoked before it was sent.',
             due_at = NULL, updated_at = $3
         WHERE merchant_id = $1 AND invite_id = $2 AND state IN ('queued', 'retrying')",
    )
    .bind(merchant)
    .bind(id)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}
