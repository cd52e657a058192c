//! Affiliates from application on, the approval queue, and the audit trail of their states.

use super::outbox::{lifecycle_in_tx, webhook_in_tx};
use super::{db_err, like_pattern, on_engine, BeginWrite, Db, DbResult};
use app::api::views::{QueueFilter, QUEUE_PAGE_SIZE};
use app::domain::affiliate::Application;
use app::domain::lifecycle::{Metric, Topic};
use app::domain::{AffiliateId, AffiliateState, CampaignId, MerchantId};
use serde_json::json;

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
    pub state: String,
    pub referral_code: Option<String>,
    pub source: String,
    pub applied_at: i64,
    pub consent_terms_version: Option<i64>,
    pub consent_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
}

const SELECT: &str = "SELECT a.id, a.campaign_id, c.name AS campaign_name, a.email, a.full_name, a.first_name,
        a.last_name, a.website, a.message, a.state, a.referral_code, a.source, a.applied_at,
        a.consent_terms_version, a.consent_at, a.decided_at, a.decided_by
    FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id";

/// Who a decision is recorded against.
pub const ACTOR_APPLICANT: &str = "applicant";
pub const ACTOR_AUTO_APPROVE: &str = "auto-approve";

/// A new application from the public form, with the terms version the applicant accepted.
pub struct NewApplication<'a> {
    pub merchant: MerchantId,
    pub campaign: CampaignId,
    pub application: &'a Application,
    pub terms_version: i64,
    pub auto_approve: bool,
    pub now: i64,
}

pub enum Applied {
    /// Stored; approved at once when the campaign auto-approves.
    Created { id: AffiliateId, state: AffiliateState, referral_code: Option<String> },
    /// The merchant already has this email.
    Exists,
}

/// Produces a candidate referral code for a first name; called again on a clash.
pub type CodeSource<'a> = &'a mut (dyn FnMut(&str) -> String + Send);

/// Writes an audit entry inside an open transaction.
macro_rules! audit {
    ($tx:expr, $merchant:expr, $actor:expr, $action:expr, $id:expr, $from:expr, $to:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO audit_log (merchant_id, actor, action, affiliate_id, from_state, to_state, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($merchant)
        .bind($actor)
        .bind($action)
        .bind($id)
        .bind($from)
        .bind($to)
        .bind($now)
        .execute(&mut *$tx)
        .await
        .map_err(db_err)?
    };
}
pub(crate) use audit;

/// Queues `Rekomi Affiliate Applied` for a new applicant inside an open transaction.
macro_rules! announce_application {
    ($tx:expr, $merchant:expr, $id:expr, $source:expr, $now:expr) => {{
        let (email, first_name, campaign): (String, String, String) = sqlx::query_as(
            "SELECT a.email, a.first_name, c.name FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.id = $1",
        )
        .bind($id)
        .fetch_one(&mut *$tx)
        .await
        .map_err(db_err)?;
        let properties = json!({ "campaign": campaign, "source": $source, "first_name": first_name });
        lifecycle_in_tx!($tx, $merchant, Metric::Applied, &email, format!("applied:{}", $id), properties, $now);
    }};
}

/// Queues `Rekomi Affiliate Approved` and the `affiliate.approved` webhook inside an open
/// transaction. The event's `link` is added when it is sent, from this instance's public address.
macro_rules! announce_approval {
    ($tx:expr, $merchant:expr, $id:expr, $now:expr) => {{
        type Approved = (String, String, String, Option<String>, String);
        let (email, full_name, first_name, code, campaign): Approved = sqlx::query_as(
            "SELECT a.email, a.full_name, a.first_name, a.referral_code, c.name
             FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.id = $1",
        )
        .bind($id)
        .fetch_one(&mut *$tx)
        .await
        .map_err(db_err)?;
        let properties = json!({ "campaign": campaign, "referral_code": code, "first_name": first_name });
        let unique = format!("approved:{}:{}", $id, $now);
        lifecycle_in_tx!($tx, $merchant, Metric::Approved, &email, unique, properties, $now);
        let data = json!({ "id": $id, "email": email, "name": full_name, "campaign": campaign, "referral_code": code });
        webhook_in_tx!($tx, $merchant, Topic::AffiliateApproved, format!("evt_affiliate_approved_{}_{}", $id, $now), data, $now);
    }};
}

/// Sets a pending or rejected affiliate to approved inside an open transaction, giving it a
/// referral code if it has none, and writes the audit entry. Expands per engine.
macro_rules! approve_in_tx {
    ($tx:expr, $merchant:expr, $id:expr, $first_name:expr, $has_code:expr, $from:expr, $actor:expr, $now:expr, $codes:expr) => {{
        let mut code: Option<String> = None;
        if !$has_code {
            for _ in 0..20 {
                let candidate = ($codes)($first_name);
                let taken: Option<i64> =
                    // Codes are unique on the whole instance: `/r/{code}` names no shop.
                    sqlx::query_scalar("SELECT id FROM affiliates WHERE lower(referral_code) = lower($1)")
                        .bind(&candidate)
                        .fetch_optional(&mut *$tx)
                        .await
                        .map_err(db_err)?;
                if taken.is_none() {
                    code = Some(candidate);
                    break;
                }
            }
            if code.is_none() {
                return Err(super::DbError::Conflict { constraint: "affiliates_referral_code_key".into() });
            }
        }
        // Guarded by the state read earlier: under PostgreSQL's READ COMMITTED a concurrent decision
        // may have changed it since, and then this one must not apply.
        let done = sqlx::query(
            "UPDATE affiliates SET state = 'approved', referral_code = COALESCE(referral_code, $3), decided_at = $4, decided_by = $5
             WHERE merchant_id = $1 AND id = $2 AND state = $6",
        )
        .bind($merchant)
        .bind($id)
        .bind(&code)
        .bind($now)
        .bind($actor)
        .bind($from)
        .execute(&mut *$tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 1 {
            audit!($tx, $merchant, $actor, "approved", $id, Some($from), Some("approved"), $now);
            // The outbox: the Klaviyo sync commits with the approval, or neither does.
            super::sync::enqueue_in_tx!($tx, $merchant, $id, $now);
            announce_approval!($tx, $merchant, $id, $now);
            Some(code)
        } else {
            None
        }
    }};
}

/// Inserts a pending applicant with their consent inside an open transaction; `None` when the
/// merchant already has the email (a concurrent insert is waited for, then reads as taken).
/// `$source` is how they came and how they consented (`form`, `invite`).
macro_rules! insert_applicant {
    ($tx:expr, $merchant:expr, $campaign:expr, $app:expr, $terms_version:expr, $now:expr, $source:literal) => {{
        let id: Option<AffiliateId> = sqlx::query_scalar(concat!(
            "INSERT INTO affiliates (merchant_id, campaign_id, email, full_name, first_name, last_name, website, message,
                 state, source, consent_terms_version, consent_at, consent_source, applied_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', '",
            $source,
            "', $9, $10, '",
            $source,
            "', $10)
             ON CONFLICT (merchant_id, email) DO NOTHING RETURNING id"
        ))
        .bind($merchant)
        .bind($campaign)
        .bind($app.email.as_str())
        .bind($app.name.full())
        .bind($app.name.first())
        .bind($app.name.last())
        .bind(&$app.website)
        .bind(&$app.message)
        .bind($terms_version)
        .bind($now)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(db_err)?;
        id
    }};
}

/// Stores an application, idempotently on (merchant, email), approving it at once when asked.
pub async fn apply(db: &Db, new: NewApplication<'_>, codes: CodeSource<'_>) -> DbResult<Applied> {
    let app = new.application;
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let id = insert_applicant!(tx, new.merchant, new.campaign, app, new.terms_version, new.now, "form");
        let Some(id) = id else {
            return Ok(Applied::Exists);
        };
        audit!(tx, new.merchant, ACTOR_APPLICANT, "applied", id, None::<&str>, Some("pending"), new.now);
        announce_application!(tx, new.merchant, id, "form", new.now);
        let (state, referral_code) = if new.auto_approve {
            let code = approve_in_tx!(
                tx,
                new.merchant,
                id,
                app.name.first(),
                false,
                "pending",
                ACTOR_AUTO_APPROVE,
                new.now,
                codes
            );
            (AffiliateState::Approved, code.flatten())
        } else {
            (AffiliateState::Pending, None)
        };
        tx.commit().await.map_err(db_err)?;
        Ok(Applied::Created { id, state, referral_code })
    })
}

/// An invite being accepted: the signed link's invite and nonce, and the application its form made.
pub struct AcceptInvite<'a> {
    pub invite_id: i64,
    pub nonce: &'a str,
    pub merchant: MerchantId,
    pub campaign: CampaignId,
    pub application: &'a Application,
    pub terms_version: i64,
    pub auto_approve: bool,
    pub now: i64,
}

pub enum Accepted {
    /// A new affiliate, approved at once when the campaign auto-approves.
    Created { state: AffiliateState, referral_code: Option<String> },
    /// An affiliate the merchant already had (imported, or applied meanwhile): the consent is
    /// recorded if it was missing, and an approved one is queued for Klaviyo.
    Existing { state: AffiliateState, referral_code: Option<String> },
    /// The invite was used, revoked, resent or expired in the meantime.
    Gone,
    /// The email already belongs to an affiliate of another of the merchant's programs: the invite
    /// is used up, and no consent to this program's terms is recorded for them.
    OtherProgram,
}

/// Accepts an invite in one transaction: the invite is marked accepted (once), and the affiliate
/// created, or the existing one given the consent it lacked.
pub async fn accept_invite(db: &Db, accept: AcceptInvite<'_>, codes: CodeSource<'_>) -> DbResult<Accepted> {
    let app = accept.application;
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let taken: Option<i64> = sqlx::query_scalar(
            "UPDATE invites SET accepted_at = $4, opened_at = COALESCE(opened_at, $4)
             WHERE merchant_id = $1 AND id = $2 AND nonce = $3 AND accepted_at IS NULL AND revoked_at IS NULL
                 AND expires_at > $4
             RETURNING id",
        )
        .bind(accept.merchant)
        .bind(accept.invite_id)
        .bind(accept.nonce)
        .bind(accept.now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if taken.is_none() {
            return Ok(Accepted::Gone);
        }
        let inserted =
            insert_applicant!(tx, accept.merchant, accept.campaign, app, accept.terms_version, accept.now, "invite");
        let Some(id) = inserted else {
            // The merchant already has this email (imported, or applied, maybe a moment ago).
            // (id, state, referral code, consent at, campaign)
            type Found = (AffiliateId, String, Option<String>, Option<i64>, CampaignId);
            let (id, state, referral_code, consent_at, campaign): Found = sqlx::query_as(
                "SELECT id, state, referral_code, consent_at, campaign_id FROM affiliates WHERE merchant_id = $1 AND email = $2",
            )
            .bind(accept.merchant)
            .bind(app.email.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            let state = AffiliateState::parse(&state).unwrap_or(AffiliateState::Pending);
            if campaign != accept.campaign {
                tx.commit().await.map_err(db_err)?;
                return Ok(Accepted::OtherProgram);
            }
            let decided_against = matches!(state, AffiliateState::Rejected | AffiliateState::Disabled);
            if consent_at.is_none() && !decided_against {
                sqlx::query(
                    "UPDATE affiliates SET consent_terms_version = $3, consent_at = $4, consent_source = 'invite'
                     WHERE merchant_id = $1 AND id = $2",
                )
                .bind(accept.merchant)
                .bind(id)
                .bind(accept.terms_version)
                .bind(accept.now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                audit!(
                    tx,
                    accept.merchant,
                    ACTOR_APPLICANT,
                    "accepted terms",
                    id,
                    None::<&str>,
                    None::<&str>,
                    accept.now
                );
                if state == AffiliateState::Approved {
                    super::sync::enqueue_in_tx!(tx, accept.merchant, id, accept.now);
                }
            }
            tx.commit().await.map_err(db_err)?;
            return Ok(Accepted::Existing { state, referral_code });
        };
        sqlx::query("UPDATE invites SET affiliate_id = $2 WHERE id = $1")
            .bind(accept.invite_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit!(tx, accept.merchant, ACTOR_APPLICANT, "accepted invite", id, None::<&str>, Some("pending"), accept.now);
        announce_application!(tx, accept.merchant, id, "invite", accept.now);
        let outcome = if accept.auto_approve {
            let code = approve_in_tx!(
                tx,
                accept.merchant,
                id,
                app.name.first(),
                false,
                "pending",
                ACTOR_AUTO_APPROVE,
                accept.now,
                codes
            );
            Accepted::Created { state: AffiliateState::Approved, referral_code: code.flatten() }
        } else {
            Accepted::Created { state: AffiliateState::Pending, referral_code: None }
        };
        tx.commit().await.map_err(db_err)?;
        Ok(outcome)
    })
}

/// Why an id in a decision was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NotFound,
    AlreadyInState(AffiliateState),
    NotAllowed {
        from: AffiliateState,
        to: AffiliateState,
    },
    /// Another decision on the same affiliate committed first.
    ChangedMeanwhile,
}

/// Applies a decision to many affiliates in one transaction: each id is changed, or skipped with why.
pub async fn decide(
    db: &Db,
    merchant: MerchantId,
    ids: &[AffiliateId],
    target: AffiliateState,
    actor: &str,
    now: i64,
    codes: CodeSource<'_>,
) -> DbResult<Vec<(AffiliateId, Result<(), Skip>)>> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let mut results = Vec::with_capacity(ids.len());
        for &id in ids {
            let current: Option<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT state, first_name, referral_code FROM affiliates WHERE merchant_id = $1 AND id = $2",
            )
            .bind(merchant)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let Some((state, first_name, code)) = current else {
                results.push((id, Err(Skip::NotFound)));
                continue;
            };
            let from = AffiliateState::parse(&state).unwrap_or(AffiliateState::Pending);
            let allowed = match target {
                AffiliateState::Approved => matches!(from, AffiliateState::Pending | AffiliateState::Rejected),
                AffiliateState::Rejected => from == AffiliateState::Pending,
                AffiliateState::Pending | AffiliateState::Disabled => false,
            };
            if from == target {
                results.push((id, Err(Skip::AlreadyInState(from))));
                continue;
            }
            if !allowed {
                results.push((id, Err(Skip::NotAllowed { from, to: target })));
                continue;
            }
            let applied = if target == AffiliateState::Approved {
                approve_in_tx!(tx, merchant, id, &first_name, code.is_some(), from.as_str(), actor, now, codes)
                    .is_some()
            } else {
                let done = sqlx::query(
                    "UPDATE affiliates SET state = $3, decided_at = $4, decided_by = $5
                     WHERE merchant_id = $1 AND id = $2 AND state = $6",
                )
                .bind(merchant)
                .bind(id)
                .bind(target.as_str())
                .bind(now)
                .bind(actor)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 1 {
                    audit!(tx, merchant, actor, target.as_str(), id, Some(from.as_str()), Some(target.as_str()), now);
                }
                done.rows_affected() == 1
            };
            results.push((id, if applied { Ok(()) } else { Err(Skip::ChangedMeanwhile) }));
        }
        tx.commit().await.map_err(db_err)?;
        Ok(results)
    })
}

pub async fn by_ids(db: &Db, merchant: MerchantId, ids: &[AffiliateId]) -> DbResult<Vec<AffiliateRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Ids are integers from our own type, so inlining them is safe and keeps one query for both engines.
    let list = ids.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(",");
    let sql = format!("{SELECT} WHERE a.merchant_id = $1 AND a.id IN ({list}) ORDER BY a.applied_at DESC, a.id DESC");
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).fetch_all(pool).await.map_err(db_err))
}

/// One page of the queue and the number of rows matching the filter.
pub async fn queue(db: &Db, merchant: MerchantId, filter: &QueueFilter) -> DbResult<(Vec<AffiliateRow>, i64)> {
    // Optional filters as `CAST($n AS …) IS NULL OR …`, so one static statement serves both engines
    // (PostgreSQL needs the cast to type a NULL parameter).
    const WHERE: &str = "WHERE a.merchant_id = $1
        AND (CAST($2 AS TEXT) IS NULL OR a.state = $2)
        AND (CAST($3 AS BIGINT) IS NULL OR a.campaign_id = $3)
        AND ($4 = '' OR a.email LIKE $4 ESCAPE '\\' OR lower(a.full_name) LIKE $4 ESCAPE '\\')";
    let search = filter.search.trim();
    let pattern = if search.is_empty() { String::new() } else { like_pattern(search) };
    let state = filter.state.map(|s| s.as_str());
    let campaign = filter.campaign.map(CampaignId::get);
    let offset = i64::from(filter.page) * i64::from(QUEUE_PAGE_SIZE);
    let rows_sql = format!("{SELECT} {WHERE} ORDER BY a.applied_at DESC, a.id DESC LIMIT $5 OFFSET $6");
    let count_sql = format!("SELECT COUNT(*) FROM affiliates a {WHERE}");
    on_engine!(db, |pool| {
        let rows = sqlx::query_as(&rows_sql)
            .bind(merchant)
            .bind(state)
            .bind(campaign)
            .bind(&pattern)
            .bind(i64::from(QUEUE_PAGE_SIZE))
            .bind(offset)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
        let total: i64 = sqlx::query_scalar(&count_sql)
            .bind(merchant)
            .bind(state)
            .bind(campaign)
            .bind(&pattern)
            .fetch_one(pool)
            .await
            .map_err(db_err)?;
        Ok((rows, total))
    })
}

pub async fn state_counts(db: &Db, merchant: MerchantId) -> DbResult<Vec<(String, i64)>> {
    on_engine!(db, |pool| sqlx::query_as(
        "SELECT state, COUNT(*) FROM affiliates WHERE merchant_id = $1 GROUP BY state"
    )
    .bind(merchant)
    .fetch_all(pool)
    .await
    .map_err(db_err))
}

/// The audit trail of one affiliate, oldest first: (actor, action, from, to, at).
pub async fn audit_trail(
    db: &Db,
    merchant: MerchantId,
    id: AffiliateId,
) -> DbResult<Vec<(String, String, Option<String>, Option<String>, i64)>> {
    on_engine!(db, |pool| {
        sqlx::query_as(
        "SELECT actor, action, from_state, to_state, at FROM audit_log WHERE merchant_id = $1 AND affiliate_id = $2 ORDER BY id"
    )
    .bind(merchant)
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(db_err)
    })
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
        let rows: Vec<(i64, String, CampaignId)> = on_engine!(db, |pool| {
            let mut query = sqlx::query_as(&sql).bind(merchant);
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(pool).await.map_err(db_err)?
        });
        out.extend(rows.into_iter().map(|(id, name, campaign)| (id, (name, campaign))));
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
    on_engine!(db, |pool| sqlx::query_as(SQL).bind(merchant).bind(id).fetch_optional(pool).await.map_err(db_err))
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

/// Sets an affiliate's coupon and rate override in one transaction, with the audit entry and, when
/// the rate changed, `Rekomi Rate Changed`. `None` when the affiliate isn't the merchant's;
/// otherwise the rate before. `Conflict` on `affiliates_coupon_key` when another affiliate of the
/// merchant has the coupon (nothing is changed then).
pub async fn set_terms(
    db: &Db,
    merchant: MerchantId,
    id: AffiliateId,
    edit: TermsEdit<'_>,
    now: i64,
) -> DbResult<Option<RateTriple>> {
    on_engine!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        if let Some(coupon) = edit.coupon {
            sqlx::query("UPDATE affiliates SET coupon_code = $3 WHERE merchant_id = $1 AND id = $2")
                .bind(merchant)
                .bind(id)
                .bind(coupon)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        type Current = (String, String, Option<i64>, Option<i64>, Option<i64>, String, String);
        let current: Option<Current> = sqlx::query_as(
            "SELECT a.email, a.first_name, a.rate_bps, a.rate_minor, a.rate_expires_at, c.name, c.currency
             FROM affiliates a JOIN campaigns c ON c.id = a.campaign_id WHERE a.merchant_id = $1 AND a.id = $2",
        )
        .bind(merchant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((email, first_name, bps, minor, expires, campaign, currency)) = current else { return Ok(None) };
        let before = (bps, minor, expires);
        let Some(rate) = edit.rate else {
            tx.commit().await.map_err(db_err)?;
            return Ok(Some(before));
        };
        let after = (rate.bps, rate.minor, rate.expires_at.filter(|_| rate.bps.is_some() || rate.minor.is_some()));
        if before == after {
            tx.commit().await.map_err(db_err)?;
            return Ok(Some(before));
        }
        let reason = rate.reason.as_deref().filter(|_| after.0.is_some() || after.1.is_some());
        sqlx::query(
            "UPDATE affiliates SET rate_bps = $3, rate_minor = $4, rate_expires_at = $5, rate_reason = $6
             WHERE merchant_id = $1 AND id = $2",
        )
        .bind(merchant)
        .bind(id)
        .bind(after.0)
        .bind(after.1)
        .bind(after.2)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit!(tx, merchant, &rate.actor, "rate changed", id, None::<&str>, None::<&str>, now);
        let describe = |bps: Option<i64>, minor: Option<i64>| match (bps, minor) {
            (Some(b), _) => format!("{} %", app::domain::commission::bps_percent(b)),
            (None, Some(m)) => format!("{} {currency} per order", super::outbox::amount(m, &currency)),
            (None, None) => "campaign rate".to_owned(),
        };
        let properties = json!({
            "campaign": campaign,
            "first_name": first_name,
            "rate": describe(after.0, after.1),
            "previous_rate": describe(before.0, before.1),
            "percent": after.0.map(|b| b as f64 / 100.0),
            "flat_amount": after.1.map(|m| super::outbox::amount(m, &currency)),
            "currency": currency,
            "expires_at": after.2.map(super::outbox::rfc3339),
            "reason": reason,
        });
        lifecycle_in_tx!(tx, merchant, Metric::RateChanged, &email, format!("rate:{id}:{now}"), properties, now);
        tx.commit().await.map_err(db_err)?;
        Ok(Some(before))
    })
}

/// An affiliate as the REST API and the exports show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedAffiliate {
    pub id: AffiliateId,
    pub email: String,
    pub full_name: String,
    pub first_name: String,
    pub last_name: Option<String>,
    pub state: String,
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
    on_engine!(db, |pool| sqlx::query_as(&sql).bind(merchant).bind(email).fetch_optional(pool).await.map_err(db_err))
}

/// A page of the merchant's affiliates, newest first, before the cursor (an id) if any,
/// optionally in one state and applied within `window` (unix ms, end exclusive).
pub async fn page(
    db: &Db,
    merchant: MerchantId,
    before: Option<i64>,
    state: Option<&str>,
    window: (i64, i64),
    limit: i64,
) -> DbResult<Vec<ListedAffiliate>> {
    let sql = format!(
        "{LISTED} WHERE a.merchant_id = $1 AND a.id < $2 AND ($3 = '' OR a.state = $3)
             AND a.applied_at >= $4 AND a.applied_at < $5
         ORDER BY a.id DESC LIMIT $6"
    );
    on_engine!(db, |pool| sqlx::query_as(&sql)
        .bind(merchant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(state.unwrap_or_default())
        .bind(window.0)
        .bind(window.1)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(db_err))
}
