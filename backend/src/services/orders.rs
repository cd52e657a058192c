//! Orders in, commissions out: the Shopify webhooks and the conversion API both end here. An order
//! is attributed to an affiliate by the touches its visitor carried (campaign model and cookie window
//! checked here), else by a coupon code; the commission follows the affiliate's rate override or the
//! campaign's rule, and waits out the campaign's hold period.
//!
//! Recording an order ([`record`]) and applying a refund ([`refund`]) are use cases: each opens one
//! transaction, calls the SQL in `store::earnings`, takes its rules from `shared::domain::commission`
//! (the starting state, how a refund splits a commission), queues the events and webhooks the
//! change announces, and commits.

use super::earnings::announce;
use crate::store::earnings::{self, NewClawback, NewConversion, OrderRefunds, StoredCommission};
use crate::store::{Db, DbError, DbResult, Tx};
use crate::tracking::{Code, Tracker};
use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;
use shared::domain::campaign::CommissionRule;
use shared::domain::commission::{self, CommissionState, HeldReason, RefundRoute};
use shared::domain::lifecycle::{Metric, Topic};
use shared::domain::tracking::{attribute, Touches};
use shared::domain::{AffiliateId, AffiliateState, Currency, MerchantId, Money};
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::store::earnings::NewRefund;

/// An order from any channel, checked.
#[derive(Debug, Clone)]
pub struct Order {
    pub merchant: MerchantId,
    pub order_id: String,
    pub order_name: Option<String>,
    pub channel: &'static str,
    pub subtotal: Money,
    pub touches: Touches,
    pub coupons: Vec<String>,
    /// Lower-cased, for the self-referral check.
    pub customer_email: Option<String>,
    pub ordered_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attributed {
    pub conversion_id: i64,
    pub affiliate_id: AffiliateId,
    pub referral_code: String,
    pub via: &'static str,
    pub commission_minor: i64,
    pub currency: String,
    pub state: CommissionState,
    /// The order was recorded before; nothing changed.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    Attributed(Attributed),
    NotAttributed,
}

/// A payload that can't be an order or a refund: the message says which field and why.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn invalid(message: impl Into<String>) -> OrderError {
    OrderError::Invalid(message.into())
}

fn check_amount(minor: i64) -> Result<(), OrderError> {
    if minor > Money::MAX_ORDER_MINOR {
        return Err(invalid(format!("The amount is more than Rekomi takes ({} minor units).", Money::MAX_ORDER_MINOR)));
    }
    Ok(())
}

/// Attributes and records an order. Replays are answered from what was recorded.
pub async fn record(db: &Db, tracker: &Tracker, order: Order, now: i64) -> Result<OrderOutcome, OrderError> {
    check_amount(order.subtotal.minor())?;
    let Some((code, via)) = find_affiliate(db, tracker, &order).await? else { return Ok(OrderOutcome::NotAttributed) };
    let rule = code.rule_at(order.ordered_at).context("the affiliate's campaign has no valid commission rule")?;
    let earned = rule.earn(order.subtotal);
    let self_referral = order.customer_email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&code.email));
    let (state, held_reason) = CommissionState::new_sale(self_referral);
    let describe = match rule {
        CommissionRule::Percent(rate) => format!("{}% of {}", rate.percent(), order.subtotal),
        CommissionRule::Flat(money) => format!("{money} per order"),
    };
    let conversion = NewConversion {
        merchant_id: order.merchant,
        campaign_id: code.campaign,
        affiliate_id: code.affiliate,
        order_id: order.order_id.clone(),
        order_name: order.order_name.clone(),
        channel: order.channel,
        via,
        subtotal_minor: order.subtotal.minor(),
        currency: order.subtotal.currency().code().to_owned(),
        ordered_at: order.ordered_at,
        self_referral,
        commission_minor: earned.minor(),
        commission_currency: earned.currency().code().to_owned(),
        rule: describe,
        state,
        held_reason,
        approve_at: commission::approve_at(now, code.hold_days),
    };
    let recorded = record_conversion(db, &conversion, now).await.context("recording an order")?;
    let fresh = Attributed {
        conversion_id: 0,
        affiliate_id: code.affiliate,
        referral_code: code.code.clone(),
        via,
        commission_minor: earned.minor(),
        currency: earned.currency().code().to_owned(),
        state,
        duplicate: false,
    };
    Ok(OrderOutcome::Attributed(match recorded {
        Recorded::Created { conversion_id } => Attributed { conversion_id, ..fresh },
        // A replay answers with what was recorded the first time, not with today's terms.
        Recorded::Duplicate { conversion_id, stored: Some(s) } => Attributed {
            conversion_id,
            affiliate_id: s.affiliate_id,
            commission_minor: s.amount_minor,
            currency: s.currency,
            state: s.state,
            duplicate: true,
            ..fresh
        },
        Recorded::Duplicate { conversion_id, stored: None } => Attributed { conversion_id, duplicate: true, ..fresh },
    }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Recorded {
    Created {
        conversion_id: i64,
    },
    /// The order was recorded before (a replay or a second delivery): what was stored then.
    Duplicate {
        conversion_id: i64,
        stored: Option<StoredCommission>,
    },
}

/// Records the order and its commission in one transaction, announcing the commission. Refunds of
/// this order that arrived before it are applied at once.
#[tracing::instrument(skip_all, fields(merchant.id = %c.merchant_id, order.id = %c.order_id))]
async fn record_conversion(db: &Db, c: &NewConversion, now: i64) -> DbResult<Recorded> {
    let mut tx = db.begin().await?;
    let Some(conversion_id) = earnings::insert_conversion(&mut tx, c, now).await? else {
        // Nothing was written: the transaction rolls back as it is dropped.
        let conversion_id =
            earnings::conversion_id(&mut tx, c.merchant_id, &c.order_id).await?.ok_or(DbError::NotFound)?;
        let stored = earnings::sale_of(&mut tx, conversion_id).await?;
        return Ok(Recorded::Duplicate { conversion_id, stored });
    };
    // Attribution read the affiliate from a cache that may be up to a minute old on this or another
    // instance: a line earned by an affiliate disabled meanwhile waits for review like the others.
    let state = crate::store::affiliates::state_for_update(&mut tx, c.merchant_id, c.affiliate_id).await?;
    let held;
    let c = if state.is_some_and(AffiliateState::is_out) && c.state == CommissionState::Pending {
        held = NewConversion {
            state: CommissionState::Held,
            held_reason: Some(HeldReason::AffiliateDisabled),
            ..c.clone()
        };
        &held
    } else {
        c
    };
    let commission_id = earnings::insert_sale(&mut tx, c, conversion_id, now).await?;
    announce(&mut tx, commission_id, Some(Metric::CommissionEarned), Some(Topic::CommissionCreated), now).await?;
    let kept = earnings::kept_refunds(&mut tx, c.merchant_id, &c.order_id).await?;
    if kept > 0 {
        earnings::attach_kept_refunds(&mut tx, c.merchant_id, &c.order_id, conversion_id).await?;
        let refunded_minor = kept.min(c.subtotal_minor);
        earnings::set_refunded(&mut tx, conversion_id, refunded_minor).await?;
        let order = OrderRefunds { conversion_id, subtotal_minor: c.subtotal_minor, refunded_minor };
        let label = format!("Refund of order {}", c.order_id);
        settle(&mut tx, c.merchant_id, order, None, &label, now).await?;
    }
    tx.commit().await?;
    Ok(Recorded::Created { conversion_id })
}

/// The affiliate an order belongs to: a touch inside its window (by the campaign's model), else a
/// coupon code. Only approved affiliates of this merchant earn.
async fn find_affiliate(
    db: &Db,
    tracker: &Tracker,
    order: &Order,
) -> Result<Option<(Arc<Code>, &'static str)>, OrderError> {
    let mut known: HashMap<String, Arc<Code>> = HashMap::new();
    for touch in [&order.touches.first, &order.touches.last].into_iter().flatten() {
        let found = tracker.code(&touch.code).await.context("looking up a referral code")?;
        if let Some(code) = found.filter(|c| c.approved && c.merchant == order.merchant) {
            known.insert(touch.code.to_ascii_lowercase(), code);
        }
    }
    let won =
        attribute(&order.touches, order.ordered_at, |c| known.get(&c.to_ascii_lowercase()).map(|code| code.terms));
    if let Some(code) = won.and_then(|t| known.get(&t.code.to_ascii_lowercase())) {
        return Ok(Some((code.clone(), "link")));
    }
    for coupon in &order.coupons {
        let row = crate::store::tracking::by_coupon(db, order.merchant, coupon).await.context("looking up a coupon")?;
        if let Some(row) = row {
            return Ok(Some((Arc::new(Code::from_row(row)), "coupon")));
        }
    }
    Ok(None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    /// No order with that id is recorded (yet): the refund is kept and applied if it arrives.
    Kept,
    Duplicate,
    /// The unpaid commission now stands at `commission_minor` (0: voided).
    Reduced {
        commission_minor: i64,
    },
    /// The commission was paid: a negative line of `clawback_minor` goes into the next payout.
    ClawedBack {
        clawback_minor: i64,
    },
}

/// A refund from any channel, in minor units of the order's currency.
pub async fn refund(db: &Db, refund: NewRefund, now: i64) -> Result<RefundOutcome, OrderError> {
    check_amount(refund.amount_minor)?;
    Ok(apply_refund(db, &refund, now).await.context("recording a refund")?)
}

/// Applies a refund once per refund id, in one transaction: the order's refunded total grows
/// (capped at its subtotal, in one statement, so concurrent refunds add up) and its commission
/// follows ([`settle`]).
#[tracing::instrument(skip_all, fields(merchant.id = %r.merchant_id, order.id = %r.order_id))]
async fn apply_refund(db: &Db, r: &NewRefund, now: i64) -> DbResult<RefundOutcome> {
    let mut tx = db.begin().await?;
    let conversion = earnings::conversion_id(&mut tx, r.merchant_id, &r.order_id).await?;
    let Some(refund_row) = earnings::insert_refund(&mut tx, r, conversion, now).await? else {
        return Ok(RefundOutcome::Duplicate);
    };
    let Some(conversion_id) = conversion else {
        tx.commit().await?;
        return Ok(RefundOutcome::Kept);
    };
    let order = earnings::add_refunded(&mut tx, conversion_id, r.amount_minor).await?;
    let label = format!("Refund {} of order {}", r.refund_id, r.order_id);
    let outcome = settle(&mut tx, r.merchant_id, order, Some(refund_row), &label, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Brings an order's sale line in line with its refunded total, as
/// [`CommissionState::refund_route`] says: an unpaid line is cut to its proportional remainder
/// (voided at zero, which `commission.voided` announces); a line already in a payout run gets a
/// negative line for the difference, labelled `label`. The sale line is locked first on
/// PostgreSQL, so a payout marking it paid waits for this (and a refund waits for a payout).
async fn settle(
    tx: &mut Tx,
    merchant: MerchantId,
    order: OrderRefunds,
    refund: Option<i64>,
    label: &str,
    now: i64,
) -> DbResult<RefundOutcome> {
    let OrderRefunds { conversion_id, subtotal_minor, refunded_minor } = order;
    let Some(sale) = earnings::lock_sale(tx, conversion_id).await? else {
        return Ok(RefundOutcome::Reduced { commission_minor: 0 });
    };
    match sale.state.refund_route(sale.payout_id.is_some()) {
        RefundRoute::ClawBack => {
            let clawed = earnings::clawed_back(tx, conversion_id).await?;
            let clawback_minor =
                commission::clawback(sale.original_minor, subtotal_minor, refunded_minor, sale.amount_minor, clawed);
            if clawback_minor < 0 {
                let line = NewClawback {
                    merchant_id: merchant,
                    sale: &sale,
                    conversion_id,
                    refund,
                    amount_minor: clawback_minor,
                    label,
                    // Approved at once: the next payout run nets it against what is owed.
                    state: CommissionState::Approved,
                    at: now,
                };
                earnings::insert_clawback(tx, &line).await?;
            }
            Ok(RefundOutcome::ClawedBack { clawback_minor })
        }
        RefundRoute::Nothing => Ok(RefundOutcome::Reduced { commission_minor: 0 }),
        RefundRoute::Reduce => {
            let cut = commission::reduce(sale.original_minor, subtotal_minor, refunded_minor);
            if cut.voids {
                earnings::void(tx, sale.id, now).await?;
                announce(tx, sale.id, None, Some(Topic::CommissionVoided), now).await?;
            } else {
                earnings::set_amount(tx, sale.id, cut.amount_minor).await?;
            }
            Ok(RefundOutcome::Reduced { commission_minor: cut.amount_minor })
        }
    }
}

/// A Shopify refund: its amounts are read in the recorded order's currency (a refund naming another
/// currency is refused), or, for an order not recorded yet, in the currency it names.
pub async fn shopify_refund_record(
    db: &Db,
    merchant: MerchantId,
    body: &[u8],
    now: i64,
) -> Result<RefundOutcome, OrderError> {
    let raw = shopify_refund(body)?;
    let order_currency = earnings::order_currency(db, merchant, &raw.order_id).await.context("reading the order")?;
    let currency = match (order_currency.as_deref(), raw.currency.as_deref()) {
        (Some(order), Some(named)) if !order.eq_ignore_ascii_case(named) => {
            return Err(invalid(format!("The refund is in {named} but the order was in {order}.")))
        }
        (Some(code), _) | (None, Some(code)) => Currency::parse(code).map_err(|e| invalid(format!("currency: {e}")))?,
        (None, None) => Currency::parse("USD").map_err(|e| invalid(e.to_string()))?,
    };
    let mut total: i64 = 0;
    for (value, field) in &raw.amounts {
        total = total.saturating_add(amount(Some(value), currency, field)?.minor());
    }
    let refund =
        NewRefund { merchant_id: merchant, order_id: raw.order_id, refund_id: raw.refund_id, amount_minor: total };
    self::refund(db, refund, now).await
}

// ---- Shopify payloads ----------------------------------------------------------------------

#[derive(Deserialize)]
struct ShopifyOrder {
    id: Option<Value>,
    name: Option<String>,
    email: Option<String>,
    contact_email: Option<String>,
    customer: Option<ShopifyCustomer>,
    currency: Option<String>,
    subtotal_price: Option<Value>,
    landing_site: Option<String>,
    #[serde(default)]
    note_attributes: Vec<NoteAttribute>,
    #[serde(default)]
    discount_codes: Vec<DiscountCode>,
    processed_at: Option<String>,
    created_at: Option<String>,
    checkout_token: Option<String>,
}

#[derive(Deserialize)]
struct ShopifyCustomer {
    email: Option<String>,
}

#[derive(Deserialize)]
struct NoteAttribute {
    name: String,
    value: Option<Value>,
}

#[derive(Deserialize)]
struct DiscountCode {
    code: Option<String>,
}

/// Reads an `orders/paid` payload.
pub fn shopify_order(merchant: MerchantId, body: &[u8], now: i64) -> Result<Order, OrderError> {
    let paid = shopify_paid(merchant, body, now)?;
    Ok(Order { touches: paid.snippet.or(paid.order.touches.clone()), ..paid.order })
}

/// An `orders/paid` payload with what the custom pixel's report is matched on.
struct ShopifyPaid {
    /// The order; its touches are the landing address's `ref` only.
    order: Order,
    /// What the theme snippet passed in the order's note attributes.
    snippet: Touches,
    checkout_token: Option<String>,
}

fn shopify_paid(merchant: MerchantId, body: &[u8], now: i64) -> Result<ShopifyPaid, OrderError> {
    let order: ShopifyOrder =
        serde_json::from_slice(body).map_err(|e| invalid(format!("The order is not valid JSON: {e}.")))?;
    let order_id = id_text(order.id.as_ref()).ok_or_else(|| invalid("The order has no id."))?;
    let currency_code = order.currency.as_deref().ok_or_else(|| invalid("The order has no currency."))?;
    let currency = Currency::parse(currency_code).map_err(|e| invalid(format!("currency: {e}")))?;
    let subtotal = amount(order.subtotal_price.as_ref(), currency, "subtotal_price")?;
    let mut touches = Touches::default();
    let mut bare = Touches::default();
    for attribute in &order.note_attributes {
        let value = attribute.value.as_ref().and_then(Value::as_str).unwrap_or_default();
        match attribute.name.as_str() {
            "rekomi_ref" => touches = Touches::parse(value),
            "ref" | "via" => bare = bare.or(Touches::code(value)),
            _ => {}
        }
    }
    if let Some(site) = order.landing_site.as_deref() {
        bare = bare.or(landing_ref(site));
    }
    let customer_email = order.customer.as_ref().and_then(|c| c.email.clone());
    let email = order.email.or(order.contact_email).or(customer_email);
    Ok(ShopifyPaid {
        order: Order {
            merchant,
            order_id,
            order_name: order.name,
            channel: "shopify",
            subtotal,
            touches: bare,
            coupons: order.discount_codes.into_iter().filter_map(|d| d.code).filter(|c| !c.trim().is_empty()).collect(),
            customer_email: email.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()),
            ordered_at: order.processed_at.or(order.created_at).as_deref().and_then(parse_time).unwrap_or(now),
        },
        snippet: touches,
        checkout_token: order.checkout_token.filter(|t| !t.trim().is_empty()),
    })
}

/// A Shopify `orders/paid`: the referral comes from the theme snippet's note attribute, else from
/// the custom pixel's report for this checkout, else from the landing address, else a code. An
/// order nobody is credited with is kept a day, so a pixel report that arrives after it still counts.
pub async fn record_shopify(
    db: &Db,
    tracker: &Tracker,
    merchant: MerchantId,
    body: &[u8],
    now: i64,
) -> Result<OrderOutcome, OrderError> {
    let paid = shopify_paid(merchant, body, now)?;
    let mut order = paid.order;
    let reported = match (&paid.checkout_token, paid.snippet.is_empty()) {
        (Some(token), true) => crate::store::pixel::touches_for(db, merchant, &order.order_id, token)
            .await
            .context("reading the pixel's report")?
            .map(|t| Touches::parse(&t))
            .unwrap_or_default(),
        _ => Touches::default(),
    };
    order.touches = paid.snippet.or(reported).or(order.touches);
    let order_id = order.order_id.clone();
    let outcome = record(db, tracker, order, now).await?;
    if outcome == OrderOutcome::NotAttributed && paid.checkout_token.is_some() {
        crate::store::pixel::keep_unattributed(db, merchant, &order_id, body, now)
            .await
            .context("keeping an unattributed order")?;
    }
    Ok(outcome)
}

/// What the custom pixel reports of a completed checkout.
#[derive(Debug, Clone, Deserialize)]
pub struct PixelReport {
    /// The order's id: a number, or Shopify's `gid://shopify/Order/…`.
    pub order_id: Value,
    pub checkout_token: String,
    /// First and last touches as the pixel kept them (`code.ms|code.ms`).
    pub touches: String,
    #[serde(default)]
    pub customer_id: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PixelOutcome {
    /// Kept; the order (when it arrives, or it arrived already) is credited by it.
    Kept,
    /// The order had arrived without a referral and is credited now.
    Attributed(Attributed),
    /// A report for this order was kept before; this one changes nothing.
    Duplicate,
}

/// The last path segment of a Shopify id, digits only.
fn numeric_id(value: &Value) -> Option<String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.rsplit('/').next().unwrap_or_default().to_owned(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= 30 && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// Takes a pixel report: checked, kept (the first per order), and applied at once to an order that
/// arrived before it without a referral.
pub async fn pixel_report(
    db: &Db,
    tracker: &Tracker,
    merchant: MerchantId,
    report: &PixelReport,
    now: i64,
) -> Result<PixelOutcome, OrderError> {
    let order_id = numeric_id(&report.order_id).ok_or_else(|| invalid("order_id must be a Shopify order id."))?;
    let token = report.checkout_token.trim();
    let token_ok = !token.is_empty()
        && token.len() <= 100
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !token_ok {
        return Err(invalid("checkout_token must be the checkout's token."));
    }
    let touches = Touches::parse(&report.touches);
    if touches.is_empty() {
        return Err(invalid("touches must hold a referral code (code.ms|code.ms)."));
    }
    let customer = report.customer_id.as_ref().and_then(numeric_id);
    let kept = crate::store::pixel::keep_report(
        db,
        merchant,
        &order_id,
        token,
        report.touches.trim(),
        customer.as_deref(),
        now,
    )
    .await
    .context("keeping the pixel's report")?;
    if !kept {
        return Ok(PixelOutcome::Duplicate);
    }
    let Some(payload) =
        crate::store::pixel::take_unattributed(db, merchant, &order_id).await.context("reading a kept order")?
    else {
        return Ok(PixelOutcome::Kept);
    };
    match record_shopify(db, tracker, merchant, payload.as_bytes(), now).await? {
        OrderOutcome::Attributed(a) => Ok(PixelOutcome::Attributed(a)),
        OrderOutcome::NotAttributed => Ok(PixelOutcome::Kept),
    }
}

/// `ref` or `via` in a landing address like `/products/tee?ref=ana`.
fn landing_ref(site: &str) -> Touches {
    let query = site.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let query = query.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "ref" || k == "via")
        .map(|(_, v)| Touches::code(&v))
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct ShopifyRefund {
    id: Option<Value>,
    order_id: Option<Value>,
    #[serde(default)]
    refund_line_items: Vec<RefundLine>,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

#[derive(Deserialize)]
struct RefundLine {
    subtotal: Option<Value>,
    subtotal_set: Option<MoneySet>,
}

#[derive(Deserialize)]
struct MoneySet {
    shop_money: Option<ShopMoney>,
}

#[derive(Deserialize)]
struct ShopMoney {
    currency_code: Option<String>,
}

#[derive(Deserialize)]
struct Transaction {
    kind: Option<String>,
    status: Option<String>,
    amount: Option<Value>,
    currency: Option<String>,
}

/// A `refunds/create` payload, read but not yet priced.
#[derive(Debug)]
pub struct RawRefund {
    pub order_id: String,
    pub refund_id: String,
    /// The currency the payload names, if any.
    pub currency: Option<String>,
    /// (amount, field) pairs that add up to the refunded merchandise.
    pub amounts: Vec<(Value, &'static str)>,
}

/// Reads a `refunds/create` payload: the refunded merchandise (line subtotals), or for a refund
/// without lines, the successful refund transactions.
pub fn shopify_refund(body: &[u8]) -> Result<RawRefund, OrderError> {
    let refund: ShopifyRefund =
        serde_json::from_slice(body).map_err(|e| invalid(format!("The refund is not valid JSON: {e}.")))?;
    let refund_id = id_text(refund.id.as_ref()).ok_or_else(|| invalid("The refund has no id."))?;
    let order_id = id_text(refund.order_id.as_ref()).ok_or_else(|| invalid("The refund has no order_id."))?;
    let currency = refund
        .refund_line_items
        .iter()
        .find_map(|l| l.subtotal_set.as_ref()?.shop_money.as_ref()?.currency_code.clone())
        .or_else(|| refund.transactions.iter().find_map(|t| t.currency.clone()));
    let missing = |field: &str| invalid(format!("The payload has no {field}."));
    let mut amounts = Vec::new();
    if refund.refund_line_items.is_empty() {
        for t in refund.transactions {
            let counts = t.kind.as_deref() == Some("refund") && t.status.as_deref().is_none_or(|s| s == "success");
            if counts {
                amounts.push((t.amount.ok_or_else(|| missing("transactions.amount"))?, "transactions.amount"));
            }
        }
    } else {
        for line in refund.refund_line_items {
            let value = line.subtotal.ok_or_else(|| missing("refund_line_items.subtotal"))?;
            amounts.push((value, "refund_line_items.subtotal"));
        }
    }
    Ok(RawRefund { order_id, refund_id, currency, amounts })
}

/// Shopify ids are numbers; other stores may send strings.
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() && s.len() <= 255 => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// A price as Shopify sends it: a decimal string ("12.50") or, in refunds, a JSON number.
fn amount(value: Option<&Value>, currency: Currency, field: &str) -> Result<Money, OrderError> {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(invalid(format!("The payload has no {field}."))),
    };
    Money::parse_amount(&text, currency).map_err(|e| invalid(format!("{field} \"{text}\": {e}")))
}

pub fn parse_time(raw: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_shopify_order() {
        let body = br##"{"id": 820982911946154508, "name": "#1001", "email": "Buyer@Example.com", "currency": "USD",
            "subtotal_price": "120.50", "landing_site": "/products/tee?utm_source=x&ref=ana-1",
            "note_attributes": [{"name": "rekomi_ref", "value": "bob-2.1000|cat-3.2000"}],
            "discount_codes": [{"code": "SAVE10", "amount": "10.00", "type": "fixed_amount"}],
            "processed_at": "2026-11-24T10:00:00-05:00"}"##;
        let order = shopify_order(MerchantId(1), body, 0).expect("valid");
        assert_eq!(order.order_id, "820982911946154508");
        assert_eq!(order.subtotal.minor(), 12_050);
        assert_eq!(order.touches.first.map(|t| t.code), Some("bob-2".to_owned()));
        assert_eq!(order.touches.last.map(|t| t.code), Some("cat-3".to_owned()));
        assert_eq!(order.coupons, vec!["SAVE10".to_owned()]);
        assert_eq!(order.customer_email.as_deref(), Some("buyer@example.com"));
        assert_eq!(order.ordered_at, 1_795_532_400_000);
    }

    #[test]
    fn a_landing_ref_is_used_when_no_cookie_came() {
        let body = br#"{"id": 1, "currency": "EUR", "subtotal_price": "10.00", "landing_site": "/?via=ana#top"}"#;
        let order = shopify_order(MerchantId(1), body, 5).expect("valid");
        assert_eq!(order.touches.last.map(|t| t.code), Some("ana".to_owned()));
        assert_eq!(order.ordered_at, 5);
    }

    #[test]
    fn bad_orders_name_the_problem() {
        let err = |body: &[u8]| shopify_order(MerchantId(1), body, 0).expect_err("invalid").to_string();
        assert!(err(b"{").contains("not valid JSON"));
        assert!(err(br#"{"currency": "USD", "subtotal_price": "1"}"#).contains("no id"));
        assert!(err(br#"{"id": 1, "currency": "XXX", "subtotal_price": "1"}"#).contains("XXX"));
        assert!(err(br#"{"id": 1, "currency": "USD", "subtotal_price": "1,5"}"#).contains("subtotal_price"));
        assert!(err(br#"{"id": 1, "currency": "USD", "subtotal_price": "-3"}"#).contains("subtotal_price"));
    }

    #[test]
    fn reads_a_shopify_refund() {
        let body = br#"{"id": 509562969, "order_id": 450789469, "refund_line_items": [
            {"subtotal": 195.67, "subtotal_set": {"shop_money": {"amount": "195.67", "currency_code": "USD"}}},
            {"subtotal": "4.33"}], "transactions": [{"kind": "refund", "status": "success", "amount": "250.00"}]}"#;
        let refund = shopify_refund(body).expect("valid");
        assert_eq!((refund.order_id.as_str(), refund.refund_id.as_str()), ("450789469", "509562969"));
        assert_eq!(refund.currency.as_deref(), Some("USD"));
        let usd = Currency::parse("USD").expect("listed");
        let total: i64 = refund.amounts.iter().map(|(v, f)| amount(Some(v), usd, f).expect("amount").minor()).sum();
        assert_eq!(total, 20_000);
        let body = br#"{"id": 2, "order_id": 1, "transactions": [{"kind": "refund", "status": "success",
            "amount": "5.00", "currency": "USD"}, {"kind": "refund", "status": "failure", "amount": "9.00"}]}"#;
        assert_eq!(shopify_refund(body).expect("valid").amounts.len(), 1);
    }
}
