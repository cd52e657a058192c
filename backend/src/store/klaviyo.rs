//! The Klaviyo connection of each merchant and the lists chosen for sync.

use super::{Db, DbResult, Tx};
use shared::domain::{CampaignId, MerchantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionRow {
    pub key_sealed: Vec<u8>,
    pub key_hint: String,
    pub account_id: String,
    pub account_name: String,
    pub test_account: bool,
    pub scope_checks: String,
    pub verified_at: i64,
    pub default_list_id: Option<String>,
    pub default_list_name: Option<String>,
    pub default_list_opt_in: Option<String>,
    pub default_list_missing: bool,
    pub list_checked_at: Option<i64>,
}

const SELECT: &str = "SELECT key_sealed, key_hint, account_id, account_name, test_account, scope_checks, verified_at,
        default_list_id, default_list_name, default_list_opt_in, default_list_missing, list_checked_at
    FROM klaviyo_connections WHERE merchant_id = $1";

pub async fn get(db: &Db, merchant: MerchantId) -> DbResult<Option<ConnectionRow>> {
    db.query_as(SELECT).bind(merchant).fetch_optional().await
}

/// The account of the merchant's last connection, even after a disconnect.
pub async fn last_account(db: &Db, merchant: MerchantId) -> DbResult<Option<(String, String)>> {
    let sql = "SELECT klaviyo_account_id, klaviyo_account_name FROM merchants WHERE id = $1";
    let row: Option<(Option<String>, Option<String>)> = db.query_as(sql).bind(merchant).fetch_optional().await?;
    Ok(row.and_then(|(id, name)| Some((id?, name.unwrap_or_default()))))
}

pub struct NewConnection<'a> {
    pub key_sealed: &'a [u8],
    pub key_hint: &'a str,
    pub account_id: &'a str,
    pub account_name: &'a str,
    pub test_account: bool,
    pub scope_checks: &'a str,
}

/// Saves (or replaces) the connection.
pub async fn upsert(tx: &mut Tx, merchant: MerchantId, c: &NewConnection<'_>, now: i64) -> DbResult<()> {
    tx.query(
        "INSERT INTO klaviyo_connections (merchant_id, key_sealed, key_hint, account_id, account_name,
            test_account, scope_checks, verified_at, connected_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)
         ON CONFLICT (merchant_id) DO UPDATE SET key_sealed = excluded.key_sealed,
            key_hint = excluded.key_hint, account_id = excluded.account_id,
            account_name = excluded.account_name, test_account = excluded.test_account,
            scope_checks = excluded.scope_checks, verified_at = excluded.verified_at,
            updated_at = excluded.updated_at",
    )
    .bind(merchant)
    .bind(c.key_sealed)
    .bind(c.key_hint)
    .bind(c.account_id)
    .bind(c.account_name)
    .bind(c.test_account)
    .bind(c.scope_checks)
    .bind(now)
    .execute()
    .await?;
    Ok(())
}

/// Forgets every chosen list (the default and each campaign's).
pub async fn clear_lists(tx: &mut Tx, merchant: MerchantId) -> DbResult<()> {
    tx.query(
        "UPDATE klaviyo_connections SET default_list_id = NULL, default_list_name = NULL,
            default_list_opt_in = NULL, default_list_missing = FALSE, list_checked_at = NULL
         WHERE merchant_id = $1",
    )
    .bind(merchant)
    .execute()
    .await?;
    tx.query(
        "UPDATE campaigns SET klaviyo_list_id = NULL, klaviyo_list_name = NULL, klaviyo_list_opt_in = NULL,
            klaviyo_list_missing = FALSE WHERE merchant_id = $1",
    )
    .bind(merchant)
    .execute()
    .await?;
    Ok(())
}

/// Remembers the account on the merchant, where it outlives a disconnect ([`last_account`]).
pub async fn remember_account(tx: &mut Tx, merchant: MerchantId, account_id: &str, account_name: &str) -> DbResult<()> {
    tx.query("UPDATE merchants SET klaviyo_account_id = $2, klaviyo_account_name = $3 WHERE id = $1")
        .bind(merchant)
        .bind(account_id)
        .bind(account_name)
        .execute()
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, merchant: MerchantId) -> DbResult<bool> {
    let sql = "DELETE FROM klaviyo_connections WHERE merchant_id = $1";
    Ok(db.query(sql).bind(merchant).execute().await? > 0)
}

/// A list as stored with a choice: id, name and opt-in process at the time it was checked.
#[derive(Debug, Clone)]
pub struct ListChoice<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub opt_in: &'a str,
}

pub async fn set_default_list(db: &Db, merchant: MerchantId, list: &ListChoice<'_>, now: i64) -> DbResult<bool> {
    let sql = "UPDATE klaviyo_connections SET default_list_id = $2, default_list_name = $3, default_list_opt_in = $4,
            default_list_missing = FALSE, list_checked_at = $5, updated_at = $5 WHERE merchant_id = $1";
    let done = db.query(sql).bind(merchant).bind(list.id).bind(list.name).bind(list.opt_in).bind(now).execute().await?;
    Ok(done > 0)
}

/// Records what a re-check found: the list is gone (`None`), or it is there with this name and
/// opt-in process. Only touches the row while it still points at `list_id`.
pub async fn record_default_list_check(
    db: &Db,
    merchant: MerchantId,
    list_id: &str,
    found: Option<(&str, &str)>,
    now: i64,
) -> DbResult<()> {
    let sql = "UPDATE klaviyo_connections SET default_list_missing = $3,
            default_list_name = COALESCE($4, default_list_name), default_list_opt_in = COALESCE($5, default_list_opt_in),
            list_checked_at = $6
        WHERE merchant_id = $1 AND default_list_id = $2";
    db.query(sql)
        .bind(merchant)
        .bind(list_id)
        .bind(found.is_none())
        .bind(found.map(|f| f.0))
        .bind(found.map(|f| f.1))
        .bind(now)
        .execute()
        .await?;
    Ok(())
}

/// Sets or clears a campaign's own list; false when the campaign is not the merchant's.
pub async fn set_campaign_list(
    db: &Db,
    merchant: MerchantId,
    campaign: CampaignId,
    list: Option<&ListChoice<'_>>,
) -> DbResult<bool> {
    let sql = "UPDATE campaigns SET klaviyo_list_id = $3, klaviyo_list_name = $4, klaviyo_list_opt_in = $5,
            klaviyo_list_missing = FALSE WHERE merchant_id = $1 AND id = $2";
    let done = db
        .query(sql)
        .bind(merchant)
        .bind(campaign)
        .bind(list.map(|l| l.id))
        .bind(list.map(|l| l.name))
        .bind(list.map(|l| l.opt_in))
        .execute()
        .await?;
    Ok(done > 0)
}

/// A list as Klaviyo listed it: id, name, opt-in process.
pub struct ListedList<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub opt_in: &'a str,
}

/// After reading every list: marks each chosen list (default and per campaign) present, with its
/// current name and opt-in process, or missing.
pub async fn record_lists_present(db: &Db, merchant: MerchantId, listed: &[ListedList<'_>], now: i64) -> DbResult<()> {
    let find = |id: &str| listed.iter().find(|l| l.id == id).map(|l| (l.name, l.opt_in));
    let overrides: Vec<(CampaignId, String)> = db
        .query_as("SELECT id, klaviyo_list_id FROM campaigns WHERE merchant_id = $1 AND klaviyo_list_id IS NOT NULL")
        .bind(merchant)
        .fetch_all()
        .await?;
    for (campaign, list_id) in overrides {
        let found = find(&list_id);
        db.query(
            "UPDATE campaigns SET klaviyo_list_missing = $4, klaviyo_list_name = COALESCE($5, klaviyo_list_name),
                klaviyo_list_opt_in = COALESCE($6, klaviyo_list_opt_in)
             WHERE merchant_id = $1 AND id = $2 AND klaviyo_list_id = $3",
        )
        .bind(merchant)
        .bind(campaign)
        .bind(&list_id)
        .bind(found.is_none())
        .bind(found.map(|f| f.0))
        .bind(found.map(|f| f.1))
        .execute()
        .await?;
    }
    if let Some(list_id) = get(db, merchant).await?.and_then(|row| row.default_list_id) {
        record_default_list_check(db, merchant, &list_id, find(&list_id), now).await?;
    }
    Ok(())
}

/// Records how far each key permission is proven (after a sync's writes).
/// The connection's recorded permission checks, locked for the rest of the transaction on
/// PostgreSQL (SQLite's write transaction already excludes other writers).
pub async fn scope_checks_for_update(tx: &mut Tx, merchant: MerchantId) -> DbResult<Option<String>> {
    let sql = format!("SELECT scope_checks FROM klaviyo_connections WHERE merchant_id = $1{}", tx.kind().for_update());
    tx.query_scalar(&sql).bind(merchant).fetch_optional().await
}

pub async fn set_scope_checks(tx: &mut Tx, merchant: MerchantId, checks: &str) -> DbResult<()> {
    tx.query("UPDATE klaviyo_connections SET scope_checks = $2 WHERE merchant_id = $1")
        .bind(merchant)
        .bind(checks)
        .execute()
        .await?;
    Ok(())
}
