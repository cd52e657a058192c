//! A discount code per affiliate in the merchant's Shopify store: the campaign's terms (what the
//! customer gets, the code pattern), the bulk "make codes" action, and where each code stands.
//! Codes are made, taken out and read back by the outbox job `outbox::shopify_discount`; saving
//! terms or deciding on an affiliate only marks rows due, in the same transaction.

use crate::store::discounts::{self as store, NewTerms, TermsRow};
use crate::store::{now_ms, Db, DbError};
use anyhow::Context;
use serde_json::{json, Value};
use shared::domain::discount::{share_link, CodePattern, Combines, DiscountForm, DiscountTerms, DiscountValue};
use shared::domain::{AffiliateId, CampaignId, Currency, FieldErrors, MerchantId, Money, Rate};
use shared::error::{AppError, ErrorKind};
use shared::views::{AffiliateCodeView, DiscountProgress, DiscountSettings};

#[derive(Debug, thiserror::Error)]
pub enum DiscountError {
    #[error("invalid")]
    Invalid(FieldErrors),
    #[error("no such campaign")]
    NoCampaign,
    #[error("no shop")]
    NoShop,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for DiscountError {
    fn from(value: DbError) -> Self {
        Self::Internal(value.into())
    }
}

impl From<DiscountError> for AppError {
    fn from(value: DiscountError) -> Self {
        match value {
            DiscountError::Invalid(fields) => AppError::invalid(fields),
            DiscountError::NoCampaign => AppError::not_found("campaign"),
            DiscountError::NoShop => AppError::new(
                ErrorKind::Conflict,
                "Connect your Shopify store first (Settings → Shopify): the codes are made there.",
            ),
            DiscountError::Internal(e) => super::internal(&e),
        }
    }
}

/// The saved terms, read back into the domain type.
pub fn terms_of(row: &TermsRow) -> Option<DiscountTerms> {
    let currency = Currency::parse(&row.currency).ok()?;
    let value = match row.kind.as_str() {
        "percent" => DiscountValue::Percent(Rate::from_basis_points(u32::try_from(row.value).ok()?).ok()?),
        "amount" => DiscountValue::Amount(Money::new(row.value, currency)),
        _ => return None,
    };
    Some(DiscountTerms {
        value,
        once_per_customer: row.once_per_customer,
        min_subtotal: row.min_subtotal_minor.map(|m| Money::new(m, currency)),
        combines: Combines {
            order: row.combines_order,
            product: row.combines_product,
            shipping: row.combines_shipping,
        },
        ends_at: row.ends_at,
        pattern: CodePattern::parse(&row.pattern).ok()?,
    })
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Shopify's `DiscountCodeBasicInput` for a campaign's terms. `code` and `starts_at` only when
/// the discount is made (an update keeps its codes and start).
pub fn discount_input(terms: &DiscountTerms, title: &str, code: Option<&str>, starts_at: i64) -> Value {
    let value = match terms.value {
        // Shopify takes a fraction: 0.1 for 10 %.
        DiscountValue::Percent(rate) => json!({ "percentage": f64::from(rate.basis_points()) / 10_000.0 }),
        DiscountValue::Amount(money) => {
            json!({ "discountAmount": { "amount": money.decimal(), "appliesOnEachItem": false } })
        }
    };
    let mut input = json!({
        "title": title,
        "context": { "all": "ALL" },
        "customerGets": { "value": value, "items": { "all": true } },
        "appliesOncePerCustomer": terms.once_per_customer,
        "combinesWith": {
            "orderDiscounts": terms.combines.order,
            "productDiscounts": terms.combines.product,
            "shippingDiscounts": terms.combines.shipping,
        },
        "endsAt": terms.ends_at.map(iso),
        "minimumRequirement": terms.min_subtotal.map(|m| json!({ "subtotal": { "greaterThanOrEqualToSubtotal": m.decimal() } })),
    });
    if let Some(code) = code {
        input["code"] = json!(code);
        input["startsAt"] = json!(iso(starts_at));
    }
    input
}

/// The discount's title in the Shopify admin.
pub fn title(campaign_name: &str) -> String {
    format!("Rekomi · {campaign_name}")
}

/// The campaign's discount settings and where its codes stand.
pub async fn settings(db: &Db, merchant: MerchantId, campaign: CampaignId) -> Result<DiscountSettings, DiscountError> {
    let (_, currency) = campaign_of(db, merchant, campaign).await?;
    let row = store::terms(db, merchant, campaign).await?;
    let shop = crate::store::shop::get(db, merchant).await?;
    let progress = store::progress(db, merchant, campaign).await?;
    let approved_without = store::approved_without(db, merchant, campaign).await?;
    let terms = row.as_ref().and_then(terms_of);
    let form = match (&row, &terms) {
        (Some(row), Some(terms)) => DiscountForm::from_terms(terms, row.enabled),
        _ => DiscountForm { enabled: false, ..DiscountForm::suggested() },
    };
    let in_shopify = row.as_ref().is_some_and(|r| {
        r.shopify_id.is_some()
            && r.synced_version == r.version
            && shop.as_ref().is_some_and(|s| r.shop_domain.as_deref() == Some(s.shop_domain.as_str()))
    });
    Ok(DiscountSettings {
        saved: row.is_some(),
        enabled: row.as_ref().is_some_and(|r| r.enabled),
        summary: terms.as_ref().map(DiscountTerms::describe),
        form,
        currency,
        shop: shop.as_ref().map(|s| s.shop_domain.clone()),
        shop_currency: shop.as_ref().map(|s| s.currency.clone()),
        shop_ready: shop.as_ref().is_some_and(|s| s.state == "connected"),
        in_shopify,
        discount_problem: row.and_then(|r| r.last_error),
        progress: DiscountProgress {
            queued: progress.queued,
            active: progress.active,
            failed: progress.failed,
            approved_without,
            problem: progress.problem,
        },
        today: now_ms(),
    })
}

async fn campaign_of(db: &Db, merchant: MerchantId, campaign: CampaignId) -> Result<(String, String), DiscountError> {
    crate::store::campaigns::name_and_currency(db, merchant, campaign).await?.ok_or(DiscountError::NoCampaign)
}

/// Saves the campaign's terms; every affiliate's code is looked at again (new terms reach Shopify
/// as one update of the campaign's discount; codes are made for approved affiliates without one).
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, campaign.id = %campaign))]
pub async fn save(
    db: &Db,
    merchant: MerchantId,
    campaign: CampaignId,
    form: &DiscountForm,
) -> Result<DiscountSettings, DiscountError> {
    let (_, currency_code) = campaign_of(db, merchant, campaign).await?;
    let currency = Currency::parse(&currency_code).context("the campaign's currency")?;
    let shop = crate::store::shop::get(db, merchant).await?;
    if shop.is_none() {
        return Err(DiscountError::NoShop);
    }
    let now = now_ms();
    let terms = form.parse(currency, now).map_err(DiscountError::Invalid)?;
    if let (DiscountValue::Amount(_), Some(shop)) = (terms.value, &shop) {
        if !shop.currency.eq_ignore_ascii_case(currency.code()) {
            let mut fields = FieldErrors::new();
            fields.add(
                "value",
                format!(
                    "Your shop sells in {} and this campaign pays in {}: Shopify takes a fixed amount off in the shop's currency, so use a percentage here.",
                    shop.currency,
                    currency.code()
                ),
            );
            return Err(DiscountError::Invalid(fields));
        }
    }
    let (kind, value) = match terms.value {
        DiscountValue::Percent(rate) => ("percent", i64::from(rate.basis_points())),
        DiscountValue::Amount(money) => ("amount", money.minor()),
    };
    let new = NewTerms {
        enabled: form.enabled,
        kind,
        value,
        currency: currency.code(),
        once_per_customer: terms.once_per_customer,
        min_subtotal_minor: terms.min_subtotal.map(|m| m.minor()),
        combines: (terms.combines.order, terms.combines.product, terms.combines.shipping),
        ends_at: terms.ends_at,
        pattern: terms.pattern.as_str(),
    };
    let mut tx = db.begin().await?;
    store::save_terms(&mut tx, merchant, campaign, &new, now).await?;
    crate::outbox::discounts_for_campaign(&mut tx, merchant, campaign, now).await?;
    tx.commit().await?;
    settings(db, merchant, campaign).await
}

/// "Make codes now": every approved affiliate of the campaign without a code gets one (and codes
/// that stopped are tried again).
pub async fn make_codes(
    db: &Db,
    merchant: MerchantId,
    campaign: CampaignId,
) -> Result<DiscountSettings, DiscountError> {
    campaign_of(db, merchant, campaign).await?;
    if crate::store::shop::get(db, merchant).await?.is_none() {
        return Err(DiscountError::NoShop);
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    crate::outbox::discounts_for_campaign(&mut tx, merchant, campaign, now).await?;
    tx.commit().await?;
    settings(db, merchant, campaign).await
}

/// An affiliate's code in Shopify, with the link that applies it (for the merchant and the portal).
pub async fn code_view(
    db: &Db,
    merchant: MerchantId,
    affiliate: AffiliateId,
    referral_code: Option<&str>,
) -> anyhow::Result<Option<AffiliateCodeView>> {
    let Some(row) = store::of_affiliate(db, merchant, affiliate).await? else { return Ok(None) };
    let shop = crate::store::shop::get(db, merchant).await?;
    let link = match (&row.code, &shop, referral_code, row.state.as_str()) {
        (Some(code), Some(shop), Some(referral), "active" | "typed") => {
            Some(share_link(&shop.shop_domain, code, referral))
        }
        _ => None,
    };
    Ok(Some(AffiliateCodeView {
        code: row.code.filter(|_| matches!(row.state.as_str(), "active" | "typed")),
        state: if row.due { "queued".into() } else { row.state },
        note: row.note,
        problem: row.last_error,
        link,
    }))
}
