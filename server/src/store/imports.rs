//! Rewardful imports: the uploaded file and its dry-run report, and the one transaction that
//! applies a file (every valid row or nothing).

use super::invites::{connected_in_tx, invite_in_tx, Issue, NewInvite};
use super::{db_err, on_engine, BeginWrite, Db, DbResult};
use app::domain::{AffiliateId, CampaignId, MerchantId};
use std::collections::HashMap;

/// What the database holds about an affiliate, for planning an import.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExistingAffiliate {
    pub id: AffiliateId,
    pub campaign_id: CampaignId,
    pub email: String,
    pub state: String,
    pub source: String,
    pub full_name: String,
    pub referral_code: Option<String>,
    pub paypal_email: Option<String>,
    pub wise_email: Option<String>,
    pub external_id: Option<String>,
    pub history_visitors: Option<i64>,
    pub history_leads: Option<i64>,
    pub history_conversions: Option<i64>,
    pub consent_at: Option<i64>,
}

const EXISTING: &str =
    "SELECT id, campaign_id, email, state, source, full_name, referral_code, paypal_email, wise_email,
        external_id, history_visitors, history_leads, history_conversions, consent_at
    FROM affiliates WHERE merchant_id = $1";
/// Codes other merchants' affiliates hold: codes are unique on the whole instance.
const ELSEWHERE: &str =
    "SELECT lower(referral_code) FROM affiliates WHERE merchant_id <> $1 AND referral_code IS NOT NULL";
const INVITED: &str =
    "SELECT DISTINCT affiliate_id FROM invites WHERE merchant_id = $1 AND affiliate_id IS NOT NULL AND revoked_at IS NULL";

/// What an import is planned against: the merchant's affiliates, those already sent an invite, and
/// the codes taken by other merchants' affiliates.
pub type Known = (Vec<ExistingAffiliate>, Vec<AffiliateId>, Vec<String>);

/// Every affiliate of the merchant, those already sent an invite, and codes taken elsewhere.
pub async fn existing(db: &Db, merchant: MerchantId) -> DbResult<Known> {
    on_engine!(db, |pool| {
        let rows = sqlx::query_as(EXISTING).bind(merchant).fetch_all(pool).await.map_err(db_err)?;
        let invited = sqlx::query_scalar(INVITED).bind(merchant).fetch_all(pool).await.map_err(db_err)?;
        let elsewhere = sqlx::query_scalar(ELSEWHERE).bind(merchant).fetch_all(pool).await.map_err(db_err)?;
        Ok((rows, invited, elsewhere))
    })
}

/// The fields an imported row sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields {
    pub full_name: String,
    pub first_name: String,
    pub last_name: Option<String>,
    pub referral_code: Option<String>,
    pub paypal_email: Option<String>,
    pub wise_email: Option<String>,
    pub external_id: Option<String>,
    pub history_visitors: Option<i64>,
    pub history_leads: Option<i64>,
    pub history_conversions: Option<i64>,
    pub state: String,
}

/// A write the import makes.
#[derive(Debug, Clone)]
pub enum Write {
    Create {
        email: String,
        campaign: CampaignId,
        terms_version: i64,
        fields: Fields,
        joined_at: Option<i64>,
        consent: bool,
        invite: bool,
    },
    Update {
        id: AffiliateId,
        /// The affiliate's campaign (an invite opens its page).
        campaign: CampaignId,
        email: String,
        from_state: String,
        fields: Fields,
        /// The consent is recorded now, for this terms version.
        consent: Option<i64>,
        /// Consent is on record after this write (before, or now).
        consented: bool,
        invite: bool,
    },
}

/// Rows planned inside the transaction, from what the database holds there.
pub trait PlanSource: Send {
    fn start(&mut self, known: Known);
    /// The next write; `Ok(None)` at the end of the file. Rows without a write are skipped.
    fn next(&mut self) -> Result<Option<Option<Write>>, String>;
    /// Rows planned so far (progress).
    fn done(&self) -> u64;
    /// A fresh referral code for an approved affiliate without one (free in the file and the database).
    fn new_code(&mut self, first_name: &str) -> String;
}

pub struct ImportRow {
    pub id: i64,
    pub merchant_id: MerchantId,
    pub campaign_id: CampaignId,
    pub filename: String,
    pub consent_mode: String,
    pub state: String,
    pub content: Option<Vec<u8>>,
    pub report: String,
    pub created_at: i64,
    pub imported_at: Option<i64>,
}

type ImportTuple = (i64, MerchantId, CampaignId, String, String, String, Option<Vec<u8>>, String, i64, Option<i64>);

fn import_row(t: ImportTuple) -> ImportRow {
    let (id, merchant_id, campaign_id, filename, consent_mode, state, content, report, created_at, imported_at) = t;
    ImportRow { id, merchant_id, campaign_id, filename, consent_mode, state, content, report, created_at, imported_at }
}

pub struct NewImport<'a> {
    pub merchant: MerchantId,
    pub campaign: CampaignId,
    pub filename: &'a str,
    pub sha256: &'a str,
    pub consent_mode: &'a str,
    pub state: &'a str,
    pub content: Option<&'a [u8]>,
    pub report: &'a str,
    pub actor: &'a str,
    pub now: i64,
}

pub async fn insert(db: &Db, new: &NewImport<'_>) -> DbResult<i64> {
    on_engine!(db, |pool| sqlx::query_scalar(
        "INSERT INTO imports (merchant_id, campaign_id, filename, sha256, size_bytes, consent_mode, state, content,
             report, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
    )
    .bind(new.merchant)
    .bind(new.campaign)
    .bind(new.filename)
    .bind(new.sha256)
    .bind(i64::try_from(new.content.map_or(0, <[u8]>::len)).unwrap_or(i64::MAX))
    .bind(new.consent_mode)
    .bind(new.state)
    .bind(new.content)
    .bind(new.report)
    .bind(new.actor)
    .bind(new.now)
    .fetch_one(pool)
    .await
    .map_err(db_err))
}

pub async fn set_report(db: &Db, merchant: MerchantId, id: i64, report: &str) -> DbResult<()> {
    on_engine!(db, |pool| {
        sqlx::query("UPDATE imports SET report = $3 WHERE merchant_id = $1 AND id = $2")
            .bind(merchant)
            .bind(id)
            .bind(report)
            .execute(pool)
            .await
            .map_err(db_err)?;
        Ok(())
    })
}

/// One import of the merchant; `with_content` also loads the file.
pub async fn get(db: &Db, merchant: MerchantId, id: i64, with_content: bool) -> DbResult<Option<ImportRow>> {
    let content = if with_content { "content" } else { "NULL" };
    let sql = format!(
        "SELECT id, merchant_id, campaign_id, filename, consent_mode, state, {content}, report, created_at, imported_at
         FROM imports WHERE merchant_id = $1 AND id = $2"
    );
    let row: Option<ImportTuple> = on_engine!(db, |pool| sqlx::query_as(&sql)
        .bind(merchant)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?);
    Ok(row.map(import_row))
}

/// The merchant's imports, newest first, without their files.
pub async fn list(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<ImportRow>> {
    let rows: Vec<ImportTuple> = on_engine!(db, |pool| sqlx::query_as(
        "SELECT id, merchant_id, campaign_id, filename, consent_mode, state, NULL, report, created_at, imported_at
         FROM imports WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2"
    )
    .bind(merchant)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db_err)?);
    Ok(rows.into_iter().map(import_row).collect())
}

/// Why an apply stopped; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the import is not ready (already imported, or rejected)")]
    NotReady,
    /// An affiliate changed, or a new one with an email or code of the file appeared, while the
    /// import ran (another instance, a public application): nothing was written.
    #[error("affiliates changed during the import")]
    Changed,
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Db(#[from] super::DbError),
}

/// What an apply wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub created: u64,
    pub updated: u64,
    pub invites: u64,
    pub syncs: u64,
}

/// Rows written per multi-row statement: 21 parameters a row stays under both engines' limits.
const BATCH: usize = 500;

/// A new affiliate waiting for its batch.
struct Creation {
    email: String,
    campaign: CampaignId,
    terms_version: i64,
    fields: Fields,
    joined_at: Option<i64>,
    consent: bool,
    invite: bool,
}

/// Applies an import in one transaction: claims it (`ready` → `imported`, so a second confirm,
/// on any instance, finds nothing to do), plans every row against what the database holds inside
/// the transaction, and writes: new affiliates in multi-row statements (a statement a row would
/// hold the write lock many times longer), updates one by one. `report` is what the stored report
/// becomes.
pub async fn apply(
    db: &Db,
    merchant: MerchantId,
    import_id: i64,
    source: &mut dyn PlanSource,
    issue: &Issue<'_>,
    progress: &(dyn Fn(u64) + Send + Sync),
    report: &(dyn Fn(&Applied) -> String + Send + Sync),
) -> Result<Applied, ApplyError> {
    let now = issue.now;
    macro_rules! apply_on {
        ($pool:expr, $engine:ty) => {{
            let mut tx = $pool.begin_write().await?;
            let claimed = sqlx::query(
                "UPDATE imports SET state = 'imported', imported_at = $3 WHERE merchant_id = $1 AND id = $2 AND state = 'ready'",
            )
            .bind(merchant)
            .bind(import_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if claimed.rows_affected() != 1 {
                return Err(ApplyError::NotReady);
            }
            let existing = sqlx::query_as(EXISTING).bind(merchant).fetch_all(&mut *tx).await.map_err(db_err)?;
            let invited = sqlx::query_scalar(INVITED).bind(merchant).fetch_all(&mut *tx).await.map_err(db_err)?;
            let elsewhere = sqlx::query_scalar(ELSEWHERE).bind(merchant).fetch_all(&mut *tx).await.map_err(db_err)?;
            source.start((existing, invited, elsewhere));
            let connected = connected_in_tx!(tx, merchant);
            let mut applied = Applied::default();
            let mut last_report = 0;
            let mut creations: Vec<Creation> = Vec::with_capacity(BATCH);
            loop {
                let next = source.next().map_err(ApplyError::File)?;
                let end = next.is_none();
                match next.flatten() {
                    Some(Write::Create { email, campaign, terms_version, mut fields, joined_at, consent, invite }) => {
                        if fields.state == "approved" && fields.referral_code.is_none() {
                            fields.referral_code = Some(source.new_code(&fields.first_name));
                        }
                        creations.push(Creation { email, campaign, terms_version, fields, joined_at, consent, invite });
                    }
                    Some(Write::Update { id, campaign, email, from_state, mut fields, consent, consented, invite }) => {
                        let state_changed = fields.state != from_state;
                        if fields.state == "approved" && fields.referral_code.is_none() {
                            fields.referral_code = Some(source.new_code(&fields.first_name));
                        }
                        // Guarded by the state planned from: on PostgreSQL a merchant's decision may
                        // have committed since the plan was read, and must not be overwritten.
                        let done = sqlx::query(
                            "UPDATE affiliates SET full_name = $3, first_name = $4, last_name = $5, referral_code = $6,
                                 paypal_email = $7, wise_email = $8, external_id = $9, history_visitors = $10,
                                 history_leads = $11, history_conversions = $12, state = $13,
                                 consent_terms_version = COALESCE($14, consent_terms_version),
                                 consent_at = CASE WHEN $14 IS NULL THEN consent_at ELSE $15 END,
                                 consent_source = CASE WHEN $14 IS NULL THEN consent_source ELSE 'import' END,
                                 decided_at = CASE WHEN $16 THEN $15 ELSE decided_at END,
                                 decided_by = CASE WHEN $16 THEN 'import' ELSE decided_by END
                             WHERE merchant_id = $1 AND id = $2 AND state = $17",
                        )
                        .bind(merchant)
                        .bind(id)
                        .bind(&fields.full_name)
                        .bind(&fields.first_name)
                        .bind(&fields.last_name)
                        .bind(&fields.referral_code)
                        .bind(&fields.paypal_email)
                        .bind(&fields.wise_email)
                        .bind(&fields.external_id)
                        .bind(fields.history_visitors)
                        .bind(fields.history_leads)
                        .bind(fields.history_conversions)
                        .bind(&fields.state)
                        .bind(consent)
                        .bind(now)
                        .bind(state_changed)
                        .bind(&from_state)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        if done.rows_affected() != 1 {
                            return Err(ApplyError::Changed);
                        }
                        super::affiliates::audit!(
                            tx,
                            merchant,
                            issue.actor,
                            "import updated",
                            id,
                            Some(from_state.as_str()),
                            Some(fields.state.as_str()),
                            now
                        );
                        applied.updated += 1;
                        if fields.state == "approved" && consented && (state_changed || consent.is_some()) {
                            super::sync::enqueue_in_tx!(tx, merchant, id, now);
                            applied.syncs += 1;
                        }
                        if invite {
                            let full_name = Some(fields.full_name).filter(|n| !n.is_empty());
                            let new = NewInvite { email, full_name, affiliate_id: Some(id), campaign: Some(campaign) };
                            invite_in_tx!(tx, issue, &new, "import", Some(import_id), connected);
                            applied.invites += 1;
                        }
                    }
                    None => {}
                }
                if creations.len() >= BATCH || (end && !creations.is_empty()) {
                    let mut insert = sqlx::QueryBuilder::<$engine>::new(
                        "INSERT INTO affiliates (merchant_id, campaign_id, email, full_name, first_name, last_name, state,
                             referral_code, source, consent_terms_version, consent_at, consent_source, applied_at,
                             decided_at, decided_by, paypal_email, wise_email, external_id, history_visitors,
                             history_leads, history_conversions) ",
                    );
                    insert.push_values(&creations, |mut b, c| {
                        let decided = (c.fields.state != "pending").then_some(now);
                        b.push_bind(merchant)
                            .push_bind(c.campaign)
                            .push_bind(c.email.clone())
                            .push_bind(c.fields.full_name.clone())
                            .push_bind(c.fields.first_name.clone())
                            .push_bind(c.fields.last_name.clone())
                            .push_bind(c.fields.state.clone())
                            .push_bind(c.fields.referral_code.clone())
                            .push_bind("import")
                            .push_bind(c.consent.then_some(c.terms_version))
                            .push_bind(c.consent.then_some(now))
                            .push_bind(c.consent.then_some("import"))
                            .push_bind(c.joined_at.unwrap_or(now))
                            .push_bind(decided)
                            .push_bind(decided.map(|_| "import"))
                            .push_bind(c.fields.paypal_email.clone())
                            .push_bind(c.fields.wise_email.clone())
                            .push_bind(c.fields.external_id.clone())
                            .push_bind(c.fields.history_visitors)
                            .push_bind(c.fields.history_leads)
                            .push_bind(c.fields.history_conversions);
                    });
                    insert.push(" RETURNING id, email");
                    // Emails are unique per merchant, so ids are matched by email, not by order.
                    let ids: HashMap<String, AffiliateId> = insert
                        .build_query_as::<(AffiliateId, String)>()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .into_iter()
                        .map(|(id, email)| (email, id))
                        .collect();
                    let mut audit = sqlx::QueryBuilder::<$engine>::new(
                        "INSERT INTO audit_log (merchant_id, actor, action, affiliate_id, from_state, to_state, at) ",
                    );
                    audit.push_values(&creations, |mut b, c| {
                        b.push_bind(merchant)
                            .push_bind(issue.actor)
                            .push_bind("imported")
                            .push_bind(ids.get(&c.email).copied())
                            .push_bind(None::<&str>)
                            .push_bind(c.fields.state.clone())
                            .push_bind(now);
                    });
                    audit.build().execute(&mut *tx).await.map_err(db_err)?;
                    let to_sync: Vec<AffiliateId> = creations
                        .iter()
                        .filter(|c| c.consent && c.fields.state == "approved")
                        .filter_map(|c| ids.get(&c.email).copied())
                        .collect();
                    applied.syncs += super::sync::enqueue_many_in_tx!(tx, merchant, &to_sync, now);
                    applied.created += creations.len() as u64;
                    for c in creations.drain(..) {
                        let (Some(id), true) = (ids.get(&c.email).copied(), c.invite) else { continue };
                        let full_name = Some(c.fields.full_name).filter(|n| !n.is_empty());
                        let new =
                            NewInvite { email: c.email, full_name, affiliate_id: Some(id), campaign: Some(c.campaign) };
                        invite_in_tx!(tx, issue, &new, "import", Some(import_id), connected);
                        applied.invites += 1;
                    }
                }
                if source.done() - last_report >= 1_000 {
                    last_report = source.done();
                    progress(last_report);
                }
                if end {
                    break;
                }
            }
            sqlx::query("UPDATE imports SET report = $3, content = NULL WHERE merchant_id = $1 AND id = $2")
                .bind(merchant)
                .bind(import_id)
                .bind(report(&applied))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            progress(source.done());
            Ok(applied)
        }};
    }
    match db {
        Db::Sqlite(pool) => apply_on!(pool, sqlx::Sqlite),
        Db::Postgres(pool) => apply_on!(pool, sqlx::Postgres),
    }
}
