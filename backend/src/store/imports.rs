//! Rewardful imports: the uploaded file and its dry-run report, and the statements that apply a
//! file in the caller's transaction (`services::imports` plans each row and decides what follows).

use super::engine::values_placeholders;
use super::{Db, DbResult, Tx};
use shared::domain::{AffiliateId, AffiliateState, CampaignId, ImportId, ImportState, MerchantId};
use std::collections::HashMap;

/// What the database holds about an affiliate, for planning an import.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExistingAffiliate {
    pub id: AffiliateId,
    pub campaign_id: CampaignId,
    pub email: String,
    pub state: AffiliateState,
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

/// [`Known`] as committed (the dry run).
pub async fn existing(db: &Db, merchant: MerchantId) -> DbResult<Known> {
    let rows = db.query_as(EXISTING).bind(merchant).fetch_all().await?;
    let invited = db.query_scalar(INVITED).bind(merchant).fetch_all().await?;
    let elsewhere = db.query_scalar(ELSEWHERE).bind(merchant).fetch_all().await?;
    Ok((rows, invited, elsewhere))
}

/// [`Known`] inside the caller's transaction (the apply, which plans against it).
pub async fn existing_in(tx: &mut Tx, merchant: MerchantId) -> DbResult<Known> {
    let rows = tx.query_as(EXISTING).bind(merchant).fetch_all().await?;
    let invited = tx.query_scalar(INVITED).bind(merchant).fetch_all().await?;
    let elsewhere = tx.query_scalar(ELSEWHERE).bind(merchant).fetch_all().await?;
    Ok((rows, invited, elsewhere))
}

/// The fields an imported row sets.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub state: AffiliateState,
}

/// A new affiliate an import writes.
#[derive(Debug, Clone)]
pub struct NewAffiliate {
    pub email: String,
    pub campaign: CampaignId,
    pub fields: Fields,
    /// When they joined (Rewardful's date); `None`: now.
    pub joined_at: Option<i64>,
    /// The terms version consent is recorded for, now; `None`: no consent on record.
    pub consent_terms_version: Option<i64>,
    /// The import decided their state now (`decided_at`, `decided_by`).
    pub decided: bool,
}

/// An import's change to an existing affiliate.
#[derive(Debug, Clone)]
pub struct AffiliateUpdate {
    pub id: AffiliateId,
    /// The state the change was planned from; the write is refused when it moved since.
    pub from_state: AffiliateState,
    pub fields: Fields,
    /// Consent is recorded now, for this terms version.
    pub consent_terms_version: Option<i64>,
    /// The import decided their state now.
    pub decided: bool,
}

#[derive(sqlx::FromRow)]
pub struct ImportRow {
    pub id: ImportId,
    pub merchant_id: MerchantId,
    pub campaign_id: CampaignId,
    pub filename: String,
    pub consent_mode: String,
    pub state: ImportState,
    pub content: Option<Vec<u8>>,
    pub report: String,
    pub created_at: i64,
    pub imported_at: Option<i64>,
}

pub struct NewImport<'a> {
    pub merchant: MerchantId,
    pub campaign: CampaignId,
    pub filename: &'a str,
    pub sha256: &'a str,
    pub consent_mode: &'a str,
    pub state: ImportState,
    pub content: Option<&'a [u8]>,
    pub report: &'a str,
    pub actor: &'a str,
    pub now: i64,
}

pub async fn insert(db: &Db, new: &NewImport<'_>) -> DbResult<ImportId> {
    db.query_scalar(
        "INSERT INTO imports (merchant_id, campaign_id, filename, sha256, size_bytes, consent_mode, state, content,
             report, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
    .fetch_one()
    .await
}

pub async fn set_report(db: &Db, merchant: MerchantId, id: ImportId, report: &str) -> DbResult<()> {
    db.query("UPDATE imports SET report = $3 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant)
        .bind(id)
        .bind(report)
        .execute()
        .await?;
    Ok(())
}

/// One import of the merchant; `with_content` also loads the file.
pub async fn get(db: &Db, merchant: MerchantId, id: ImportId, with_content: bool) -> DbResult<Option<ImportRow>> {
    let content = if with_content { "content" } else { "NULL AS content" };
    let sql = format!(
        "SELECT id, merchant_id, campaign_id, filename, consent_mode, state, {content}, report, created_at, imported_at
         FROM imports WHERE merchant_id = $1 AND id = $2"
    );
    db.query_as(&sql).bind(merchant).bind(id).fetch_optional().await
}

/// The merchant's imports, newest first, without their files.
pub async fn list(db: &Db, merchant: MerchantId, limit: i64) -> DbResult<Vec<ImportRow>> {
    db.query_as(
        "SELECT id, merchant_id, campaign_id, filename, consent_mode, state, NULL AS content, report, created_at,
             imported_at
         FROM imports WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(merchant)
    .bind(limit)
    .fetch_all()
    .await
}

/// Claims a ready import for applying (`ready` → `imported`), so a second confirm, on any
/// instance, finds nothing to do. False when it is not ready.
pub async fn claim(tx: &mut Tx, merchant: MerchantId, id: ImportId, now: i64) -> DbResult<bool> {
    let claimed = tx
        .query("UPDATE imports SET state = $4, imported_at = $3 WHERE merchant_id = $1 AND id = $2 AND state = $5")
        .bind(merchant)
        .bind(id)
        .bind(now)
        .bind(ImportState::Imported)
        .bind(ImportState::Ready)
        .execute()
        .await?;
    Ok(claimed == 1)
}

/// Stores the final report of an applied import and drops its file.
pub async fn finish(tx: &mut Tx, merchant: MerchantId, id: ImportId, report: &str) -> DbResult<()> {
    tx.query("UPDATE imports SET report = $3, content = NULL WHERE merchant_id = $1 AND id = $2")
        .bind(merchant)
        .bind(id)
        .bind(report)
        .execute()
        .await?;
    Ok(())
}

/// Bind parameters a statement holds at most: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BINDS: usize = 30_000;
const AFFILIATE_COLUMNS: usize = 22;
const AUDIT_COLUMNS: usize = 7;

/// Inserts new affiliates in multi-row statements (a statement a row would hold the write lock many
/// times longer); their ids by email.
pub async fn insert_affiliates(
    tx: &mut Tx,
    merchant: MerchantId,
    rows: &[NewAffiliate],
    now: i64,
) -> DbResult<HashMap<String, AffiliateId>> {
    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(MAX_BINDS / AFFILIATE_COLUMNS) {
        let sql = format!(
            "INSERT INTO affiliates (merchant_id, campaign_id, email, full_name, first_name, last_name, state,
                 referral_code, source, consent_terms_version, consent_at, consent_source, applied_at,
                 decided_at, decided_by, paypal_email, wise_email, external_id, history_visitors,
                 history_leads, history_conversions, email_verified_at)
             VALUES {} RETURNING id, email",
            values_placeholders(tx.kind(), chunk.len(), AFFILIATE_COLUMNS)
        );
        let mut insert = tx.query_as::<(AffiliateId, String)>(&sql);
        for a in chunk {
            let consented = a.consent_terms_version.is_some();
            let decided = a.decided.then_some(now);
            insert = insert
                .bind(merchant)
                .bind(a.campaign)
                .bind(a.email.as_str())
                .bind(a.fields.full_name.as_str())
                .bind(a.fields.first_name.as_str())
                .bind(a.fields.last_name.as_deref())
                .bind(a.fields.state)
                .bind(a.fields.referral_code.as_deref())
                .bind("import")
                .bind(a.consent_terms_version)
                .bind(consented.then_some(now))
                .bind(consented.then_some("import"))
                .bind(a.joined_at.unwrap_or(now))
                .bind(decided)
                .bind(decided.map(|_| "import"))
                .bind(a.fields.paypal_email.as_deref())
                .bind(a.fields.wise_email.as_deref())
                .bind(a.fields.external_id.as_deref())
                .bind(a.fields.history_visitors)
                .bind(a.fields.history_leads)
                .bind(a.fields.history_conversions)
                // The program they come from had their address: an import is verified by its path.
                .bind(now);
        }
        // Emails are unique per merchant, so ids are matched by email, not by order.
        ids.extend(insert.fetch_all().await?.into_iter().map(|(id, email)| (email, id)));
    }
    Ok(ids)
}

/// One audit entry per affiliate the import created (`imported`, into `state`), in multi-row
/// statements like [`insert_affiliates`].
pub async fn audit_created(
    tx: &mut Tx,
    merchant: MerchantId,
    actor: &str,
    created: &[(AffiliateId, AffiliateState)],
    now: i64,
) -> DbResult<()> {
    for chunk in created.chunks(MAX_BINDS / AUDIT_COLUMNS) {
        let sql = format!(
            "INSERT INTO audit_log (merchant_id, actor, action, affiliate_id, from_state, to_state, at) VALUES {}",
            values_placeholders(tx.kind(), chunk.len(), AUDIT_COLUMNS)
        );
        let mut insert = tx.query(&sql);
        for (affiliate, state) in chunk {
            insert = insert
                .bind(merchant)
                .bind(actor)
                .bind("imported")
                .bind(*affiliate)
                .bind(None::<AffiliateState>)
                .bind(*state)
                .bind(now);
        }
        insert.execute().await?;
    }
    Ok(())
}

/// Writes an import's change to an affiliate. Guarded by the state planned from: on PostgreSQL a
/// merchant's decision may have committed since the plan was read, and must not be overwritten.
/// False when the affiliate changed meanwhile.
pub async fn update_affiliate(tx: &mut Tx, merchant: MerchantId, update: &AffiliateUpdate, now: i64) -> DbResult<bool> {
    let fields = &update.fields;
    let done = tx
        .query(
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
        .bind(update.id)
        .bind(fields.full_name.as_str())
        .bind(fields.first_name.as_str())
        .bind(fields.last_name.as_deref())
        .bind(fields.referral_code.as_deref())
        .bind(fields.paypal_email.as_deref())
        .bind(fields.wise_email.as_deref())
        .bind(fields.external_id.as_deref())
        .bind(fields.history_visitors)
        .bind(fields.history_leads)
        .bind(fields.history_conversions)
        .bind(fields.state)
        .bind(update.consent_terms_version)
        .bind(now)
        .bind(update.decided)
        .bind(update.from_state)
        .execute()
        .await?;
    Ok(done == 1)
}

/// Deletes dry runs never confirmed that were made before `before`, with their files.
pub async fn delete_stale(db: &Db, before: i64) -> DbResult<u64> {
    db.query("DELETE FROM imports WHERE state = 'ready' AND created_at < $1").bind(before).execute().await
}

/// Keeps the merchant's `keep` newest unconfirmed dry runs and deletes the older ones with their
/// files; the number deleted.
pub async fn keep_newest_ready(db: &Db, merchant: MerchantId, keep: i64) -> DbResult<u64> {
    db.query(
        "DELETE FROM imports WHERE merchant_id = $1 AND state = 'ready' AND id NOT IN (
             SELECT id FROM imports WHERE merchant_id = $1 AND state = 'ready' ORDER BY created_at DESC, id DESC LIMIT $2)",
    )
    .bind(merchant)
    .bind(keep)
    .execute()
    .await
}
