//! The merchant's side of tracking and earnings: shop connection settings, API tokens, reports with
//! the daily chart, an affiliate's earnings and terms (coupon, rate override), held commissions,
//! and sign-in links to the affiliate portal.
//!
//! The commission use cases that aren't an order or a refund live here too: the hold-period sweep
//! ([`approve_due`]) and the merchant's review of a held line ([`decide_held`]). Each owns its
//! transaction, takes the rule from `shared::domain::commission`, and queues what the change
//! announces ([`announce`], shared with `services::orders`).

use super::{internal, Services};
use crate::outbox;
use crate::store::affiliates::{NewRate, TermsEdit};
use crate::store::earnings::{self, CommissionRow, Grouping, Scope};
use crate::store::outbox::{amount, rfc3339};
use crate::store::{api_tokens, campaigns, now_ms, tracking, Db, DbError, DbResult, Tx};
use serde_json::json;
use shared::domain::clock::format_utc;
use shared::domain::commission::{CommissionState, HeldReason};
use shared::domain::lifecycle::{Metric, Topic};
use shared::domain::tracking::DAY_MS;
use shared::domain::{AffiliateId, Currency, FieldErrors, MerchantId, Money, Rate};
use shared::error::{AppError, ErrorKind};
use shared::views::{
    AffiliateEarnings, AffiliateTermsForm, ApiTokenView, DailyPoint, EarningsView, NewApiToken, ReportCommission,
    ReportFilter, ReportTotals, ReportView, TrackingSettings, REPORT_MAX_DAYS,
};
use std::collections::BTreeMap;

pub const MAX_TOKEN_NAME: usize = 80;

pub(crate) fn db(e: DbError) -> AppError {
    internal(&anyhow::Error::new(e))
}

pub(crate) fn money_text(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// Sums per state and currency, formatted ("12.50 USD + 3.00 EUR"; "0" when nothing).
pub fn earnings_view(rows: &[(CommissionState, String, i64)]) -> EarningsView {
    let sum = |state: CommissionState| {
        let mut by_currency: BTreeMap<&str, i64> = BTreeMap::new();
        for (s, currency, amount) in rows {
            if *s == state {
                *by_currency.entry(currency.as_str()).or_default() += amount;
            }
        }
        let parts: Vec<String> =
            by_currency.into_iter().filter(|(_, v)| *v != 0).map(|(c, v)| money_text(v, c)).collect();
        if parts.is_empty() {
            "0".to_owned()
        } else {
            parts.join(" + ")
        }
    };
    EarningsView {
        pending: sum(CommissionState::Pending),
        approved: sum(CommissionState::Approved),
        paid: sum(CommissionState::Paid),
        held: sum(CommissionState::Held),
    }
}

pub fn commission_view(row: CommissionRow) -> ReportCommission {
    let state = row.state;
    let mut label = state.label().to_owned();
    if state == CommissionState::Pending {
        label = format!("Pending until {}", &format_utc(row.approve_at)[..10]);
    }
    if row.refunded_minor > 0 && !row.is_clawback {
        label.push_str(&format!(" · {} refunded", money_text(row.refunded_minor, &row.order_currency)));
    }
    ReportCommission {
        id: row.id,
        affiliate_id: row.affiliate_id,
        affiliate_name: row.affiliate_name,
        order: row.order_name.unwrap_or(row.order_id),
        date: format_utc(row.created_at)[..10].to_owned(),
        amount: money_text(row.amount_minor, &row.currency),
        rule: row.rule,
        state,
        state_label: label,
        held_reason: row.held_reason.map(|r| match HeldReason::parse(&r) {
            Some(reason) => reason.explain().to_owned(),
            None => r,
        }),
        clawback: row.is_clawback,
    }
}

fn totals_view(id: i64, name: String, t: &earnings::Totals) -> ReportTotals {
    ReportTotals { id, name, clicks: t.clicks, conversions: t.conversions, earnings: earnings_view(&t.earnings) }
}

/// The days a filter covers, as (first day, last day) in days since the epoch (UTC), both included.
pub fn report_days(filter: &ReportFilter, today: i64) -> Result<(i64, i64), AppError> {
    let range = match (filter.from.trim(), filter.to.trim(), filter.days) {
        ("", "", days) => {
            let days = i64::from(days.unwrap_or(30));
            if !(1..=REPORT_MAX_DAYS).contains(&days) {
                return Err(AppError::field("days", format!("Show between 1 and {REPORT_MAX_DAYS} days.")));
            }
            (today - days + 1, today)
        }
        (from, to, _) => {
            let to = if to.is_empty() { None } else { Some(to) };
            let (start, end) = super::exports::window(Some(from).filter(|f| !f.is_empty()), to.or(Some("")))?;
            let last = if end == i64::MAX { today } else { (end - 1).div_euclid(DAY_MS) };
            let first = if from.is_empty() { last - 29 } else { start.div_euclid(DAY_MS) };
            (first, last)
        }
    };
    if range.0 > range.1 {
        return Err(AppError::field("to", "The range ends before it starts."));
    }
    if range.1 - range.0 + 1 > REPORT_MAX_DAYS {
        return Err(AppError::field("from", format!("Choose at most {REPORT_MAX_DAYS} days.")));
    }
    Ok(range)
}

pub async fn report(s: &Services, merchant: MerchantId, filter: &ReportFilter) -> Result<ReportView, AppError> {
    let (first_day, last_day) = report_days(filter, now_ms().div_euclid(DAY_MS))?;
    let window = (first_day * DAY_MS, (last_day + 1) * DAY_MS);
    let campaign_rows = campaigns::list(&s.db, merchant).await.map_err(db)?;
    let selected = filter.campaign.filter(|c| campaign_rows.iter().any(|r| r.id == *c));
    let by_campaign_totals = earnings::totals(&s.db, merchant, Grouping::Campaign, None, window).await.map_err(db)?;
    let by_campaign = campaign_rows
        .iter()
        .filter(|c| selected.is_none_or(|id| id == c.id))
        .map(|c| totals_view(c.id.0, c.name.clone(), &by_campaign_totals.get(&c.id.0).cloned().unwrap_or_default()))
        .collect();
    let by_affiliate_totals = earnings::totals(&s.db, merchant, Grouping::Affiliate, None, window).await.map_err(db)?;
    let names =
        crate::store::affiliates::names(&s.db, merchant, &by_affiliate_totals.keys().copied().collect::<Vec<_>>())
            .await
            .map_err(db)?;
    let mut by_affiliate: Vec<ReportTotals> = by_affiliate_totals
        .iter()
        .filter(|(id, _)| selected.is_none_or(|c| names.get(id).is_some_and(|(_, campaign)| *campaign == c)))
        .map(|(id, t)| totals_view(*id, names.get(id).map(|(n, _)| n.clone()).unwrap_or_default(), t))
        .collect();
    by_affiliate.sort_by(|a, b| b.conversions.cmp(&a.conversions).then(b.clicks.cmp(&a.clicks)));
    by_affiliate.truncate(100);
    let daily = earnings::daily(&s.db, merchant, Scope { campaign: selected, affiliate: None }, window.0, window.1)
        .await
        .map_err(db)?;
    let (days, chart_currency) = chart(&daily, first_day, last_day);
    let chart_exponent = chart_currency.as_deref().and_then(|c| Currency::parse(c).ok()).map_or(2, |c| c.exponent());
    let mut per_currency: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, currency, sum) in &daily.commission {
        *per_currency.entry(currency.as_str()).or_default() += sum;
    }
    let commission_totals = per_currency.into_iter().map(|(c, v)| money_text(v, c)).collect();
    let held = earnings::held(&s.db, merchant).await.map_err(db)?.into_iter().map(commission_view).collect();
    Ok(ReportView {
        campaigns: campaign_rows.iter().map(|c| (c.id, c.name.clone())).collect(),
        selected,
        from: format_utc(first_day * DAY_MS)[..10].to_owned(),
        to: format_utc(last_day * DAY_MS)[..10].to_owned(),
        commission_totals,
        clicks: days.iter().map(|d| d.clicks).sum(),
        conversions: days.iter().map(|d| d.conversions).sum(),
        by_campaign,
        by_affiliate,
        days,
        chart_currency,
        chart_exponent,
        held,
    })
}

/// One point per day of the window, zeros included, and the currency charted.
fn chart(daily: &earnings::Daily, first_day: i64, last_day: i64) -> (Vec<DailyPoint>, Option<String>) {
    let mut per_currency: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, currency, sum) in &daily.commission {
        *per_currency.entry(currency.as_str()).or_default() += sum;
    }
    let currency = per_currency.into_iter().max_by_key(|(_, v)| *v).map(|(c, _)| c.to_owned());
    let days = (first_day..=last_day)
        .map(|day| DailyPoint {
            day: format_utc(day * DAY_MS)[..10].to_owned(),
            clicks: daily.clicks.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n),
            conversions: daily.conversions.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n),
            commission_minor: daily
                .commission
                .iter()
                .filter(|(d, c, _)| *d == day && Some(c) == currency.as_ref())
                .map(|(_, _, v)| *v)
                .sum(),
        })
        .collect();
    (days, currency)
}

pub async fn affiliate_earnings(
    s: &Services,
    merchant: MerchantId,
    affiliate: AffiliateId,
) -> Result<AffiliateEarnings, AppError> {
    let terms = crate::store::affiliates::terms(&s.db, merchant, affiliate)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::not_found("affiliate"))?;
    let totals = earnings::totals(&s.db, merchant, Grouping::Affiliate, Some(affiliate), earnings::ALL_TIME)
        .await
        .map_err(db)?;
    let t = totals.get(&affiliate.0).cloned().unwrap_or_default();
    let commissions = earnings::commissions_of(&s.db, merchant, affiliate, 200)
        .await
        .map_err(db)?
        .into_iter()
        .map(commission_view)
        .collect();
    let currency = Currency::parse(&terms.currency).ok();
    let percent = terms.commission_kind == "percent";
    let campaign_rule = match (percent, terms.commission_bps, terms.commission_minor, currency) {
        (true, Some(bps), _, _) => format!("{}% of each order", bps_text(bps)),
        (false, _, Some(minor), Some(c)) => format!("{} per order", Money::new(minor, c)),
        _ => String::new(),
    };
    let rate_override = match (terms.rate_bps, terms.rate_minor, currency) {
        (Some(bps), _, _) => bps_text(bps),
        (None, Some(minor), Some(c)) => Money::new(minor, c).decimal(),
        _ => String::new(),
    };
    Ok(AffiliateEarnings {
        link: terms.referral_code.as_ref().map(|code| format!("{}/r/{code}", s.public_base)),
        coupon_code: terms.coupon_code.unwrap_or_default(),
        rate_override,
        campaign_rule,
        percent_campaign: percent,
        clicks: t.clicks,
        conversions: t.conversions,
        earnings: earnings_view(&t.earnings),
        commissions,
    })
}

fn bps_text(bps: i64) -> String {
    u32::try_from(bps).ok().and_then(|b| Rate::from_basis_points(b).ok()).map(|r| r.percent()).unwrap_or_default()
}

/// Sets an affiliate's coupon code and rate override (blank clears either). A percentage on a
/// percent campaign, an amount in the campaign's currency on a flat one.
pub async fn set_terms(
    s: &Services,
    merchant: MerchantId,
    affiliate: AffiliateId,
    form: &AffiliateTermsForm,
    actor: &str,
) -> Result<AffiliateEarnings, AppError> {
    let terms = crate::store::affiliates::terms(&s.db, merchant, affiliate)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::not_found("affiliate"))?;
    let mut errors = FieldErrors::new();
    let coupon = form.coupon_code.trim();
    let coupon = if coupon.is_empty() {
        None
    } else if coupon.len() > 64 || !coupon.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        errors.add("coupon_code", "A coupon code has up to 64 letters, digits, hyphens or underscores.");
        None
    } else {
        Some(coupon.to_owned())
    };
    let raw = form.rate_override.trim();
    let (mut bps, mut minor) = (None, None);
    if !raw.is_empty() {
        if terms.commission_kind == "percent" {
            bps = errors.check("rate_override", Rate::parse_percent(raw)).map(|r| i64::from(r.basis_points()));
        } else {
            let currency = Currency::parse(&terms.currency).map_err(|_| AppError::internal())?;
            minor = errors.check("rate_override", Money::parse_positive(raw, currency)).map(|m| m.minor());
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(errors));
    }
    // Saving the form with the rate unchanged keeps an override's expiry and reason (set through the
    // API). Coupon and rate commit together.
    let rate = ((bps, minor) != (terms.rate_bps, terms.rate_minor)).then(|| NewRate {
        bps,
        minor,
        expires_at: None,
        reason: None,
        actor: actor.to_owned(),
    });
    let edit = TermsEdit { coupon: Some(coupon.as_deref()), rate: rate.as_ref() };
    match super::affiliates::set_terms(&s.db, merchant, affiliate, edit, now_ms()).await {
        Ok(_) => {}
        Err(e) if e.is_conflict_on("affiliates_coupon_key", "coupon_code") => {
            return Err(AppError::field("coupon_code", "Another affiliate already has this coupon code."))
        }
        Err(e) => return Err(db(e)),
    }
    s.tracker.forget(super::affiliates::code_of(&s.db, merchant, affiliate).await);
    affiliate_earnings(s, merchant, affiliate).await
}

/// The merchant's verdict on a held commission: released, it is approved if its hold period is
/// over and pending otherwise; rejected, it is voided (and `commission.voided` is delivered).
pub async fn decide_held(s: &Services, merchant: MerchantId, id: i64, release: bool) -> Result<(), AppError> {
    if review_held(&s.db, merchant, id, release, now_ms()).await.map_err(db)? {
        Ok(())
    } else {
        Err(AppError::new(ErrorKind::Conflict, "This commission is no longer held; reload to see where it stands."))
    }
}

/// [`decide_held`] in one transaction; false when the line isn't this merchant's or isn't held
/// any more.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, commission.id = id))]
async fn review_held(db: &Db, merchant: MerchantId, id: i64, release: bool, now: i64) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    let Some(line) = earnings::lock_line(&mut tx, merchant, id).await? else { return Ok(false) };
    let Some(to) = line.state.reviewed(release, line.approve_at, now) else { return Ok(false) };
    if !earnings::decide_held(&mut tx, merchant, id, to, now).await? {
        return Ok(false);
    }
    match to {
        CommissionState::Voided => announce(&mut tx, id, None, Some(Topic::CommissionVoided), now).await?,
        // Released after its hold period: approved now, as the sweep would have.
        CommissionState::Approved => announce(&mut tx, id, Some(Metric::CommissionApproved), None, now).await?,
        _ => {}
    }
    tx.commit().await?;
    Ok(true)
}

/// Moves commissions whose hold period is over from pending to approved, with their
/// `Rekomi Commission Approved` events, a batch per transaction. Each batch takes only rows still
/// pending, so any number of instances may run it.
#[tracing::instrument(skip_all)]
pub async fn approve_due(db: &Db, now: i64) -> DbResult<u64> {
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let ids = earnings::approve_batch(&mut tx, now).await?;
        for &id in &ids {
            announce(&mut tx, id, Some(Metric::CommissionApproved), None, now).await?;
        }
        tx.commit().await?;
        total += ids.len() as u64;
        if ids.len() < earnings::APPROVE_BATCH {
            return Ok(total);
        }
    }
}

/// Queues what a change of commission line `id` tells the outside world, in the caller's
/// transaction: the lifecycle event `metric` (if any) to the affiliate and the webhook `topic` (if
/// any).
pub(crate) async fn announce(
    tx: &mut Tx,
    id: i64,
    metric: Option<Metric>,
    topic: Option<Topic>,
    now: i64,
) -> DbResult<()> {
    let row = earnings::announced(tx, id).await?;
    let order = row.order_name.clone().unwrap_or_else(|| row.order_id.clone());
    if let Some(metric) = metric {
        let unique = match metric {
            Metric::CommissionApproved => format!("commission-approved:{id}"),
            _ => format!("commission-earned:{id}"),
        };
        let properties = json!({
            "campaign": row.campaign,
            "first_name": row.first_name,
            "order": order,
            "amount": amount(row.amount_minor, &row.currency),
            "currency": row.currency,
            "state": row.state.as_str(),
            "approves_at": rfc3339(row.approve_at),
            "value": amount(row.amount_minor, &row.currency),
        });
        outbox::lifecycle(tx, row.merchant_id, metric, &row.email, &unique, &properties, now).await?;
    }
    if let Some(topic) = topic {
        let data = json!({
            "id": id,
            "affiliate": { "id": row.affiliate_id, "email": row.email },
            "campaign": row.campaign,
            "order_id": row.order_id,
            "order_name": row.order_name,
            "amount": amount(row.amount_minor, &row.currency),
            "amount_minor": row.amount_minor,
            "currency": row.currency,
            "state": row.state.as_str(),
        });
        let event_id = format!("evt_{}_{id}", topic.name().replace('.', "_"));
        outbox::webhook(tx, row.merchant_id, topic, &event_id, data, now).await?;
    }
    Ok(())
}

fn token_view(row: api_tokens::TokenRow) -> ApiTokenView {
    ApiTokenView {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        created_by: row.created_by,
        created_at: format_utc(row.created_at),
        last_used: row.last_used_at.map(format_utc),
        revoked: row.revoked_at.is_some(),
    }
}

pub async fn settings(s: &Services, merchant: MerchantId) -> Result<TrackingSettings, AppError> {
    let (slug, secret_set) = tracking::shopify_status(&s.db, merchant).await.map_err(db)?;
    let base = &s.public_base;
    let max_days =
        campaigns::list(&s.db, merchant).await.map_err(db)?.iter().map(|c| c.cookie_days).max().unwrap_or(30);
    Ok(TrackingSettings {
        snippet_tag: format!("<script src=\"{base}/t/snippet.js\" data-days=\"{max_days}\" async></script>"),
        pixel_code: pixel_code(&format!("{base}/pixel/{slug}"), max_days),
        webhook_url: format!("{base}/webhooks/shopify/{slug}"),
        shopify_secret_set: secret_set,
        conversions_url: format!("{base}/api/v1/conversions"),
        link_base: format!("{base}/r/"),
        portal_url: format!("{base}/portal/{slug}"),
        tokens: api_tokens::list(&s.db, merchant).await.map_err(db)?.into_iter().map(token_view).collect(),
    })
}

/// Shopify's custom pixel (Settings → Customer events → Add custom pixel): it keeps `?ref=` /
/// `?via=` from the landing address in the pixel's storage as first and last touch, and on
/// `checkout_completed` reports the order id, checkout token and touches to Rekomi. No theme edit.
pub fn pixel_code(report_url: &str, days: impl std::fmt::Display) -> String {
    format!(
        r#"// Rekomi: credits an order to the affiliate whose link the visitor came by.
const REKOMI_URL = "{report_url}";
const DAYS = {days};
const KEY = "rekomi_ref";
const VALID = /^[A-Za-z0-9_-]{{2,64}}$/;
const fresh = (touch) => {{
  const at = Number(String(touch || "").split(".").pop());
  return at > 0 && Date.now() - at < DAYS * 86400000;
}};
analytics.subscribe("page_viewed", async (event) => {{
  const url = new URL(event.context.document.location.href);
  const code = url.searchParams.get("ref") || url.searchParams.get("via");
  if (!code || !VALID.test(code)) return;
  const kept = (await browser.localStorage.getItem(KEY)) || "";
  const first = kept.split("|")[0];
  const touch = code + "." + Date.now();
  await browser.localStorage.setItem(KEY, fresh(first) ? first + "|" + touch : touch);
}});
analytics.subscribe("checkout_completed", async (event) => {{
  const kept = (await browser.localStorage.getItem(KEY)) || "";
  const checkout = event.data.checkout;
  if (!kept || !checkout || !checkout.order || !fresh(kept.split("|").pop())) return;
  fetch(REKOMI_URL, {{
    method: "POST",
    keepalive: true,
    headers: {{ "Content-Type": "text/plain" }},
    body: JSON.stringify({{
      order_id: checkout.order.id,
      checkout_token: checkout.token,
      touches: kept,
      customer_id: checkout.order.customer ? checkout.order.customer.id : null,
    }}),
  }});
}});
"#
    )
}

/// Saves the Shopify app's webhook signing secret (blank removes it).
pub async fn set_shopify_secret(
    s: &Services,
    merchant: MerchantId,
    secret: &str,
) -> Result<TrackingSettings, AppError> {
    let secret = secret.trim();
    if secret.len() > 200 || secret.chars().any(char::is_whitespace) {
        return Err(AppError::field("shopify_secret", "Paste the signing secret exactly as Shopify shows it."));
    }
    let (slug, _) = tracking::shopify_status(&s.db, merchant).await.map_err(db)?;
    let secret = (!secret.is_empty()).then_some(secret);
    s.shopify.set(merchant, &slug, secret).await.map_err(|e| internal(&e))?;
    settings(s, merchant).await
}

pub async fn create_token(
    s: &Services,
    merchant: MerchantId,
    name: &str,
    actor: &str,
) -> Result<NewApiToken, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME {
        return Err(AppError::field("name", "Name the token (up to 80 characters), e.g. the system that uses it."));
    }
    let token = format!("rk_{}", super::accounts::new_token());
    let prefix: String = token.chars().take(10).collect();
    let hash = super::accounts::token_hash(&token);
    let now = now_ms();
    let id = api_tokens::insert(&s.db, merchant, name, &prefix, &hash, actor, now).await.map_err(db)?;
    let view = ApiTokenView {
        id,
        name: name.to_owned(),
        prefix,
        created_by: actor.to_owned(),
        created_at: format_utc(now),
        last_used: None,
        revoked: false,
    };
    Ok(NewApiToken { token, view })
}

pub async fn revoke_token(s: &Services, merchant: MerchantId, id: i64) -> Result<TrackingSettings, AppError> {
    if !api_tokens::revoke(&s.db, merchant, id, now_ms()).await.map_err(db)? {
        return Err(AppError::not_found("token"));
    }
    settings(s, merchant).await
}
