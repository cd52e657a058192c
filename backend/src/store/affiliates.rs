//! Affiliates from application on, the approval queue, and their terms: SQL only. The use cases
//! (apply, accept an invite, decide, change terms) are in `services::affiliates` and
//! `services::invites`, which own the transaction and pass it to the functions here.

use super::{like_pattern, Db, DbResult, Tx};
use shared::domain::affiliate::Application;
use shared::domain::{AffiliateId, AffiliateState, CampaignId, MerchantId};
use shared::views::{QueueFilter, QUEUE_PAGE_SIZE};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AffiliateRow {
    pub id: AffiliateId,
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub email: String,
    pub full_name: String,
    pub first_name: String,
    pub last_name: Option<String>,
    pub website: Option<String>,
    pub message: Option<String>,
    pub state: AffiliateState,
    pub referral_code: Option<String>,
    pub source: String,
    pub applied_at: i64,
    pub consent_terms_version: Option<i64>,
    pub consent_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub erased_at: Option<i64>,
    /// When the applicant confirmed the address (or the merchant did); `None`: not yet.
    pub email_verified_at: Option<i64>,
}

const SELECT: &str = "SELECT a.id, a.campaign_id, c.name AS campaign_name, a.email, a.full_name, a.first_name,
        a.last_name, a.website, a.message, a.state, a.referral_code, a.source, a.applied_at,
        a.consent_terms_version, a.consent_at, a.decided_at, a.decided_by, a.erased_at,
        a.email_verified_at
    FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id";

/// Inserts a pending applicant with their consent; `None` when the merchant already has the email
/// (a concurrent insert is waited for, then reads as taken). `source` is how they came and how they
/// consented (`form`, `invite`); `verified_at` when the path itself proved the address (an invite).
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn insert_applicant(
    tx: &mut Tx,
    merchant: MerchantId,
    campaign: CampaignId,
    application: &Application,
    terms_version: i64,
    source: &str,
    verified_at: Option<i64>,
    now: i64,
) -> DbResult<Option<AffiliateId>> {
    tx.query_scalar(
        "INSERT INTO affiliates (merchant_id, campaign_id, email, full_name, first_name, last_name, website, message,
             state, source, consent_terms_version, consent_at, consent_source, applied_at, email_verified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $11, $9, $10, $11, $10, $12)
         ON CONFLICT (merchant_id, email) DO NOTHING RETURNING id",
    )
    .bind(merchant)
    .bind(campaign)
    .bind(application.email.as_str())
    .bind(application.name.full())
    .bind(application.name.first())
    .bind(application.name.last())
    .bind(application.website.as_deref())
    .bind(application.message.as_deref())
    .bind(terms_version)
    .bind(now)
    .bind(source)
    .bind(verified_at)
    .fetch_optional()
    .await
}

/// Keeps the address an application came from, so a ban can cover it.
pub async fn record_ip(tx: &mut Tx, id: AffiliateId, ip: &str) -> DbResult<()> {
    tx.query("UPDATE affiliates SET applied_ip = $2 WHERE id = $1").bind(id).bind(ip).execute().await.map(drop)
}

/// Whether the merchant banned this email, or (when given) this address. An erased affiliate's
/// ban holds only a hash of the email ([`ban_hash`]).
pub async fn is_banned(tx: &mut Tx, merchant: MerchantId, email: &str, ip: Option<&str>) -> DbResult<bool> {
    let email = email.to_lowercase();
    let found: i64 = tx
        .query_scalar(
            "SELECT COUNT(*) FROM affiliate_bans WHERE merchant_id = $1
               AND ((kind = 'email' AND value IN ($2, $3)) OR (kind = 'ip' AND value = $4))",
        )
        .bind(merchant)
        .bind(&email)
        .bind(ban_hash(&email))
        .bind(ip.unwrap_or(""))
        .fetch_one()
        .await?;
    Ok(found > 0)
}

/// What a ban keeps of an erased affiliate's email: enough to refuse it again, not to read it.
pub fn ban_hash(email: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(email.to_lowercase().as_bytes())))
}

/// What erasing an affiliate needs to know first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Erasable {
    pub email: String,
    pub state: AffiliateState,
    pub erased_at: Option<i64>,
}

pub async fn erasable(tx: &mut Tx, merchant: MerchantId, id: AffiliateId) -> DbResult<Option<Erasable>> {
    tx.query_as("SELECT email, state, erased_at FROM affiliates WHERE merchant_id = $1 AND id = $2")
        .bind(merchant)
        .bind(id)
        .fetch_optional()
        .await
}

/// Removes an affiliate's personal data, keeping the row (and the money records on it) under a
/// pseudonym. An approved affiliate is taken out of the program (disabled) on the way. The lists
/// they were synced to are returned, for Klaviyo's part of the erasure.
pub async fn erase(tx: &mut Tx, merchant: MerchantId, id: AffiliateId, email: &str, now: i64) -> DbResult<Vec<String>> {
    let lists: Vec<String> = tx
        .query_scalar("SELECT DISTINCT list_id FROM klaviyo_syncs WHERE merchant_id = $1 AND affiliate_id = $2")
        .bind(merchant)
        .bind(id)
        .fetch_all()
        .await?;
    let email = email.to_lowercase();
    // Bans stay in force without the address.
    tx.query("UPDATE affiliate_bans SET value = $3 WHERE merchant_id = $1 AND kind = 'email' AND value = $2")
        .bind(merchant)
        .bind(&email)
        .bind(ban_hash(&email))
        .execute()
        .await?;
    for sql in [
        "DELETE FROM klaviyo_syncs WHERE merchant_id = $1 AND affiliate_id = $2",
        "DELETE FROM portal_links WHERE merchant_id = $1 AND affiliate_id = $2",
        "DELETE FROM email_verifications WHERE merchant_id = $1 AND affiliate_id = $2",
        "DELETE FROM portal_sessions WHERE merchant_id = $1 AND affiliate_id = $2",
        "UPDATE payouts SET payout_email = 'erased', wise_email = 'erased' WHERE merchant_id = $1 AND affiliate_id = $2",
    ] {
        tx.query(sql).bind(merchant).bind(id).execute().await?;
    }
    for sql in [
        "DELETE FROM klaviyo_events WHERE merchant_id = $1 AND lower(email) = $2",
        "DELETE FROM invites WHERE merchant_id = $1 AND lower(email) = $2",
    ] {
        tx.query(sql).bind(merchant).bind(&email).execute().await?;
    }
    // Webhook payloads name the affiliate by email.
    let contains = match tx.kind() {
        super::Engine::Sqlite => "instr(lower(payload), $2) > 0",
        super::Engine::Postgres => "strpos(lower(payload), $2) > 0",
    };
    tx.query(&format!("DELETE FROM webhook_deliveries WHERE merchant_id = $1 AND {contains}"))
        .bind(merchant)
        .bind(&email)
        .execute()
        .await?;
    tx.query(
        "UPDATE affiliates SET email = 'erased-' || CAST(id AS TEXT) || '@erased.invalid',
             full_name = 'Erased affiliate', first_name = 'Erased', last_name = NULL, website = NULL, message = NULL,
             referral_code = NULL, coupon_code = NULL, paypal_email = NULL, wise_email = NULL, external_id = NULL,
             consent_source = NULL, rate_reason = NULL, applied_ip = NULL,
             state = CASE WHEN state = 'approved' THEN 'disabled' ELSE state END, erased_at = $3
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant)
    .bind(id)
    .bind(now)
    .execute()
    .await?;
    Ok(lists)
}

/// Bans the affiliate's email from applying again, and with `address` the address they applied from.
pub async fn ban(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    reason: &str,
    actor: &str,
    address: bool,
    now: i64,
) -> DbResult<()> {
    // (kind, the column it bans): the email always, the address the application came from on request.
    let kinds: &[(&str, &str)] =
        if address { &[("email", "lower(email)"), ("ip", "applied_ip")] } else { &[("email", "lower(email)")] };
    for (kind, column) in kinds {
        // Both names are literals above, so inlining them is safe.
        tx.query(&format!(
            "INSERT INTO affiliate_bans (merchant_id, affiliate_id, kind, value, reason, created_by, created_at)
             SELECT merchant_id, id, '{kind}', {column}, $3, $4, $5 FROM affiliates
             WHERE merchant_id = $1 AND id = $2 AND {column} IS NOT NULL
             ON CONFLICT (merchant_id, kind, value) DO NOTHING"
        ))
        .bind(merchant)
        .bind(id)
        .bind(reason)
        .bind(actor)
        .bind(now)
        .execute()
        .await?;
    }
    Ok(())
}

/// Lifts the bans made with this affiliate (they were enabled again).
pub async fn lift_bans(tx: &mut Tx, merchant: MerchantId, id: AffiliateId) -> DbResult<()> {
    tx.query("DELETE FROM affiliate_bans WHERE merchant_id = $1 AND affiliate_id = $2")
        .bind(merchant)
        .bind(id)
        .execute()
        .await
        .map(drop)
}

/// What the lifecycle events and webhooks about an affiliate say.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Announced {
    pub email: String,
    pub full_name: String,
    pub first_name: String,
    pub referral_code: Option<String>,
    pub campaign: String,
}

pub async fn announced(tx: &mut Tx, id: AffiliateId) -> DbResult<Announced> {
    tx.query_as(
        "SELECT a.email, a.full_name, a.first_name, a.referral_code, c.name AS campaign
         FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_one()
    .await
}

/// True when an affiliate has `code`. Codes are unique on the whole instance: `/r/{code}` names no
/// shop.
pub async fn code_taken(tx: &mut Tx, code: &str) -> DbResult<bool> {
    let taken: Option<i64> = tx
        .query_scalar("SELECT id FROM affiliates WHERE lower(referral_code) = lower($1)")
        .bind(code)
        .fetch_optional()
        .await?;
    Ok(taken.is_some())
}

/// Sets an affiliate in state `from` to approved, giving it `code` if it has none; false when its
/// state is no longer `from`. The guard matters under PostgreSQL's READ COMMITTED: a concurrent
/// decision may have changed the state since it was read, and then this one must not apply.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn approve(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    from: AffiliateState,
    code: Option<&str>,
    actor: &str,
    now: i64,
) -> DbResult<bool> {
    let done = tx
        .query(
            "UPDATE affiliates SET state = 'approved', referral_code = COALESCE(referral_code, $3), decided_at = $4, decided_by = $5
             WHERE merchant_id = $1 AND id = $2 AND state = $6",
        )
        .bind(merchant)
        .bind(id)
        .bind(code)
        .bind(now)
        .bind(actor)
        .bind(from)
        .execute()
        .await?;
    Ok(done == 1)
}

/// Moves an affiliate from `from` to `to` (a decision other than approval); false when its state is
/// no longer `from` (see [`approve`] for why the guard).
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn set_state(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    from: AffiliateState,
    to: AffiliateState,
    actor: &str,
    now: i64,
) -> DbResult<bool> {
    let done = tx
        .query(
            "UPDATE affiliates SET state = $3, decided_at = $4, decided_by = $5,
                 banned_from = CASE WHEN $3 = 'banned' THEN $6 END
             WHERE merchant_id = $1 AND id = $2 AND state = $6",
        )
        .bind(merchant)
        .bind(id)
        .bind(to)
        .bind(now)
        .bind(actor)
        .bind(from)
        .execute()
        .await?;
    Ok(done == 1)
}

/// The affiliate's state, locked on PostgreSQL until the transaction ends (a disable waits for an
/// order being recorded, and the other way round).
pub async fn state_for_update(tx: &mut Tx, merchant: MerchantId, id: AffiliateId) -> DbResult<Option<AffiliateState>> {
    let sql = format!("SELECT state FROM affiliates WHERE merchant_id = $1 AND id = $2{}", tx.kind().for_update());
    tx.query_scalar(&sql).bind(merchant).bind(id).fetch_optional().await
}

/// What a decision on one affiliate is made from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Decidable {
    pub state: AffiliateState,
    pub first_name: String,
    pub referral_code: Option<String>,
    /// For a banned affiliate, the state the ban was made from.
    pub banned_from: Option<AffiliateState>,
    pub email_verified_at: Option<i64>,
}

pub async fn decidable(tx: &mut Tx, merchant: MerchantId, id: AffiliateId) -> DbResult<Option<Decidable>> {
    // An erased affiliate is only a pseudonym for money records: nothing more is decided about it.
    tx.query_as(
        "SELECT state, first_name, referral_code, banned_from, email_verified_at FROM affiliates
         WHERE merchant_id = $1 AND id = $2 AND erased_at IS NULL",
    )
    .bind(merchant)
    .bind(id)
    .fetch_optional()
    .await
}

/// An affiliate the merchant already had when their invite was accepted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Existing {
    pub id: AffiliateId,
    pub state: AffiliateState,
    pub referral_code: Option<String>,
    pub consent_at: Option<i64>,
    pub campaign_id: CampaignId,
}

/// The merchant's affiliate with this (normalised) email, read in the caller's transaction.
pub async fn existing(tx: &mut Tx, merchant: MerchantId, email: &str) -> DbResult<Existing> {
    tx.query_as(
        "SELECT id, state, referral_code, consent_at, campaign_id FROM affiliates WHERE merchant_id = $1 AND email = $2",
    )
    .bind(merchant)
    .bind(email)
    .fetch_one()
    .await
}

/// Records the consent an affiliate gave by accepting an invite to `terms_version`.
pub async fn record_invite_consent(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    terms_version: i64,
    now: i64,
) -> DbResult<()> {
    tx.query(
        "UPDATE affiliates SET consent_terms_version = $3, consent_at = $4, consent_source = 'invite'
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant)
    .bind(id)
    .bind(terms_version)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}

pub async fn by_ids(db: &Db, merchant: MerchantId, ids: &[AffiliateId]) -> DbResult<Vec<AffiliateRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are integers from our own type, so inlining them is safe and keeps one query for both engines.
    let list = ids.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(",");
    let sql = format!("{SELECT} WHERE a.merchant_id = $1 AND a.id IN ({list}) ORDER BY a.applied_at DESC, a.id DESC");
    db.query_as(&sql).bind(merchant).fetch_all().await
}

/// One page of the queue and the number of rows matching the filter.
pub async fn queue(db: &Db, merchant: MerchantId, filter: &QueueFilter) -> DbResult<(Vec<AffiliateRow>, i64)> {
    // Optional filters as `CAST($n AS …) IS NULL OR …`, so one static statement serves both engines
    // (PostgreSQL needs the cast to type a NULL parameter).
    const WHERE: &str = "WHERE a.merchant_id = $1
        AND (CAST($2 AS TEXT) IS NULL OR a.state = $2)
        AND (CAST($3 AS BIGINT) IS NULL OR a.campaign_id = $3)
        AND ($4 = '' OR a.email LIKE $4 ESCAPE '\\' OR lower(a.full_name) LIKE $4 ESCAPE '\\')
        AND ($5 = 0 OR EXISTS (SELECT 1 FROM klaviyo_syncs s WHERE s.affiliate_id = a.id AND s.drift IS NOT NULL))";
    let search = filter.search.trim();
    let pattern = if search.is_empty() { String::new() } else { like_pattern(search) };
    let offset = i64::from(filter.page) * i64::from(QUEUE_PAGE_SIZE);
    let rows_sql = format!("{SELECT} {WHERE} ORDER BY a.applied_at DESC, a.id DESC LIMIT $6 OFFSET $7");
    let count_sql = format!("SELECT COUNT(*) FROM affiliates a {WHERE}");
    let rows = db
        .query_as(&rows_sql)
        .bind(merchant)
        .bind(filter.state)
        .bind(filter.campaign)
        .bind(pattern.as_str())
        .bind(i64::from(filter.drift))
        .bind(i64::from(QUEUE_PAGE_SIZE))
        .bind(offset)
        .fetch_all()
        .await?;
    let total = db
        .query_scalar(&count_sql)
        .bind(merchant)
        .bind(filter.state)
        .bind(filter.campaign)
        .bind(pattern.as_str())
        .bind(i64::from(filter.drift))
        .fetch_one()
        .await?;
    Ok((rows, total))
}

pub async fn state_counts(db: &Db, merchant: MerchantId) -> DbResult<Vec<(AffiliateState, i64)>> {
    db.query_as("SELECT state, COUNT(*) FROM affiliates WHERE merchant_id = $1 GROUP BY state")
        .bind(merchant)
        .fetch_all()
        .await
}

/// The audit trail of one affiliate, oldest first: (actor, action, from, to, at).
pub async fn audit_trail(
    db: &Db,
    merchant: MerchantId,
    id: AffiliateId,
) -> DbResult<Vec<(String, String, Option<String>, Option<String>, Option<String>, i64)>> {
    db.query_as(
        "SELECT actor, action, from_state, to_state, note, at FROM audit_log WHERE merchant_id = $1 AND affiliate_id = $2 ORDER BY id",
    )
    .bind(merchant)
    .bind(id)
    .fetch_all()
    .await
}

/// Names and campaigns of the merchant's affiliates among `ids`.
pub async fn names(
    db: &Db,
    merchant: MerchantId,
    ids: &[i64],
) -> DbResult<std::collections::HashMap<i64, (String, CampaignId)>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT id, full_name, campaign_id FROM affiliates WHERE merchant_id = $1 AND id IN ({})",
            placeholders.join(", ")
        );
        let mut query = db.query_as::<(i64, String, CampaignId)>(&sql).bind(merchant);
        for id in chunk {
            query = query.bind(*id);
        }
        out.extend(query.fetch_all().await?.into_iter().map(|(id, name, campaign)| (id, (name, campaign))));
    }
    Ok(out)
}

/// An affiliate's tracking terms with their campaign's rule.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TermsRow {
    pub referral_code: Option<String>,
    pub coupon_code: Option<String>,
    pub rate_bps: Option<i64>,
    pub rate_minor: Option<i64>,
    pub commission_kind: String,
    pub commission_bps: Option<i64>,
    pub commission_minor: Option<i64>,
    pub currency: String,
}

pub async fn terms(db: &Db, merchant: MerchantId, id: AffiliateId) -> DbResult<Option<TermsRow>> {
    const SQL: &str = "SELECT a.referral_code, a.coupon_code, a.rate_bps, a.rate_minor, c.commission_kind,
            c.commission_bps, c.commission_minor, c.currency
        FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.merchant_id = $1 AND a.id = $2";
    db.query_as(SQL).bind(merchant).bind(id).fetch_optional().await
}

/// A rate override to set: at most one of `bps` and `minor` (neither: back to the campaign's rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRate {
    pub bps: Option<i64>,
    pub minor: Option<i64>,
    pub expires_at: Option<i64>,
    pub reason: Option<String>,
    pub actor: String,
}

/// The rate as it stood before and after a change (bps, minor, expires_at).
pub type RateTriple = (Option<i64>, Option<i64>, Option<i64>);

/// What to change of an affiliate's terms; `None` leaves a part as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct TermsEdit<'a> {
    /// The coupon code (`Some(None)` removes it).
    pub coupon: Option<Option<&'a str>>,
    pub rate: Option<&'a NewRate>,
}

/// Sets (or with `None` removes) an affiliate's coupon code. `Conflict` on `affiliates_coupon_key`
/// when another affiliate of the merchant has it.
pub async fn set_coupon(tx: &mut Tx, merchant: MerchantId, id: AffiliateId, coupon: Option<&str>) -> DbResult<()> {
    tx.query("UPDATE affiliates SET coupon_code = $3 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant)
        .bind(id)
        .bind(coupon)
        .execute()
        .await?;
    Ok(())
}

/// An affiliate's rate override as it stands, with what `Rekomi Rate Changed` says about it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrentRate {
    pub email: String,
    pub first_name: String,
    pub rate_bps: Option<i64>,
    pub rate_minor: Option<i64>,
    pub rate_expires_at: Option<i64>,
    pub campaign: String,
    pub currency: String,
}

impl CurrentRate {
    pub fn triple(&self) -> RateTriple {
        (self.rate_bps, self.rate_minor, self.rate_expires_at)
    }
}

pub async fn current_rate(tx: &mut Tx, merchant: MerchantId, id: AffiliateId) -> DbResult<Option<CurrentRate>> {
    tx.query_as(
        "SELECT a.email, a.first_name, a.rate_bps, a.rate_minor, a.rate_expires_at, c.name AS campaign, c.currency
         FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.merchant_id = $1 AND a.id = $2",
    )
    .bind(merchant)
    .bind(id)
    .fetch_optional()
    .await
}

/// Sets an affiliate's rate override (bps, minor, expires_at) and its reason.
pub async fn set_rate(
    tx: &mut Tx,
    merchant: MerchantId,
    id: AffiliateId,
    rate: RateTriple,
    reason: Option<&str>,
) -> DbResult<()> {
    tx.query(
        "UPDATE affiliates SET rate_bps = $3, rate_minor = $4, rate_expires_at = $5, rate_reason = $6
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant)
    .bind(id)
    .bind(rate.0)
    .bind(rate.1)
    .bind(rate.2)
    .bind(reason)
    .execute()
    .await?;
    Ok(())
}

/// An affiliate as the REST API and the exports show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedAffiliate {
    pub id: AffiliateId,
    pub email: String,
    pub full_name: String,
    pub first_name: String,
    pub last_name: Option<String>,
    pub state: AffiliateState,
    pub source: String,
    pub referral_code: Option<String>,
    pub coupon_code: Option<String>,
    pub paypal_email: Option<String>,
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub campaign_slug: String,
    pub commission_kind: String,
    pub commission_bps: Option<i64>,
    pub commission_minor: Option<i64>,
    pub currency: String,
    pub rate_bps: Option<i64>,
    pub rate_minor: Option<i64>,
    pub rate_expires_at: Option<i64>,
    pub rate_reason: Option<String>,
    pub applied_at: i64,
    pub decided_at: Option<i64>,
}

const LISTED: &str = "SELECT a.id, a.email, a.full_name, a.first_name, a.last_name, a.state, a.source, a.referral_code,
        a.coupon_code, a.paypal_email, a.campaign_id, c.name AS campaign_name, c.slug AS campaign_slug,
        c.commission_kind, c.commission_bps, c.commission_minor, c.currency, a.rate_bps, a.rate_minor,
        a.rate_expires_at, a.rate_reason, a.applied_at, a.decided_at
    FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id";

/// The merchant's affiliate with this (normalised) email.
pub async fn by_email(db: &Db, merchant: MerchantId, email: &str) -> DbResult<Option<ListedAffiliate>> {
    let sql = format!("{LISTED} WHERE a.merchant_id = $1 AND a.email = $2");
    db.query_as(&sql).bind(merchant).bind(email).fetch_optional().await
}

/// A page of the merchant's affiliates, newest first, before the cursor (an id) if any,
/// optionally in one state and applied within `window` (unix ms, end exclusive).
pub async fn page(
    db: &Db,
    merchant: MerchantId,
    before: Option<i64>,
    state: Option<AffiliateState>,
    window: (i64, i64),
    limit: i64,
) -> DbResult<Vec<ListedAffiliate>> {
    let sql = format!(
        "{LISTED} WHERE a.merchant_id = $1 AND a.id < $2 AND ($3 = '' OR a.state = $3)
             AND a.applied_at >= $4 AND a.applied_at < $5
         ORDER BY a.id DESC LIMIT $6"
    );
    db.query_as(&sql)
        .bind(merchant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(state.map(|s| s.as_str()).unwrap_or_default())
        .bind(window.0)
        .bind(window.1)
        .bind(limit)
        .fetch_all()
        .await
}

/// One directory row's figures, all time; amounts in minor units of the campaign's currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DirectoryFigures {
    pub id: AffiliateId,
    pub clicks: i64,
    pub orders: i64,
    pub revenue: i64,
    pub earned: i64,
    pub currency: String,
}

/// A page of the merchant's affiliates with their figures, filtered and sorted, and how many match.
pub async fn directory(
    db: &Db,
    merchant: MerchantId,
    filter: &shared::views::DirectoryFilter,
) -> DbResult<(Vec<DirectoryFigures>, i64)> {
    use shared::views::{DirectorySort, DIRECTORY_PAGE_SIZE};
    const WHERE: &str = "WHERE a.merchant_id = $1
        AND (CAST($2 AS TEXT) IS NULL OR a.state = $2)
        AND (CAST($3 AS BIGINT) IS NULL OR a.campaign_id = $3)
        AND ($4 = '' OR a.email LIKE $4 ESCAPE '\\' OR lower(a.full_name) LIKE $4 ESCAPE '\\'
             OR lower(COALESCE(a.referral_code, '')) LIKE $4 ESCAPE '\\')";
    // Each figure is grouped once over the merchant's rows (their indexes lead with merchant_id),
    // so sorting by any of them costs the same as showing them.
    const FROM: &str = "FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id
        LEFT JOIN (SELECT affiliate_id, COUNT(*) AS n FROM
                       (SELECT DISTINCT affiliate_id, visitor, hour FROM clicks WHERE merchant_id = $1) d
                   GROUP BY affiliate_id) k ON k.affiliate_id = a.id
        LEFT JOIN (SELECT affiliate_id, COUNT(*) AS n, SUM(subtotal_minor - refunded_minor) AS total
                   FROM conversions WHERE merchant_id = $1 GROUP BY affiliate_id) v ON v.affiliate_id = a.id
        LEFT JOIN (SELECT affiliate_id, SUM(amount_minor) AS total FROM commissions
                   WHERE merchant_id = $1 AND state <> 'voided' GROUP BY affiliate_id) m ON m.affiliate_id = a.id";
    let order = match filter.sort {
        DirectorySort::Newest => "a.applied_at DESC",
        DirectorySort::Name => "lower(a.full_name) ASC",
        DirectorySort::Clicks => "clicks DESC",
        DirectorySort::Orders => "orders DESC",
        DirectorySort::Revenue => "revenue DESC",
        DirectorySort::Earned => "earned DESC",
    };
    let rows_sql = format!(
        "SELECT a.id, CAST(COALESCE(k.n, 0) AS BIGINT) AS clicks, CAST(COALESCE(v.n, 0) AS BIGINT) AS orders,
                CAST(COALESCE(v.total, 0) AS BIGINT) AS revenue, CAST(COALESCE(m.total, 0) AS BIGINT) AS earned,
                c.currency
         {FROM} {WHERE} ORDER BY {order}, a.id DESC LIMIT $5 OFFSET $6"
    );
    let search = filter.search.trim();
    let pattern = if search.is_empty() { String::new() } else { like_pattern(search) };
    let offset = i64::from(filter.page) * i64::from(DIRECTORY_PAGE_SIZE);
    let rows = db
        .query_as(&rows_sql)
        .bind(merchant)
        .bind(filter.state)
        .bind(filter.campaign)
        .bind(pattern.as_str())
        .bind(i64::from(DIRECTORY_PAGE_SIZE))
        .bind(offset)
        .fetch_all()
        .await?;
    let total = db
        .query_scalar(&format!("SELECT COUNT(*) FROM affiliates a {WHERE}"))
        .bind(merchant)
        .bind(filter.state)
        .bind(filter.campaign)
        .bind(pattern.as_str())
        .fetch_one()
        .await?;
    Ok((rows, total))
}
