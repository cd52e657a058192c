//! Payout runs: gather what is owed, review it, export the file the merchant's payment service
//! takes (PayPal Payouts, Wise batch, or a plain CSV), then mark it paid with their reference.
//!
//! [`open_run`], [`pay_run`] and [`cancel_run`] are the use cases: each owns its transaction, asks
//! `shared::domain::commission` which balances are due, and queues what a payment announces. The
//! `&Services` functions above them are what the pages call (run ids as the browser sends them).

use super::earnings::{db, money_text};
use super::exports::decimal;
use super::Services;
use crate::outbox;
use crate::store::outbox::amount;
use crate::store::payouts::{self as store, PayoutRow, RunRow};
use crate::store::{now_ms, Db, DbResult};
use serde_json::json;
use shared::domain::clock::format_utc;
use shared::domain::commission::payout_due;
use shared::domain::lifecycle::{Metric, Topic};
use shared::domain::{MerchantId, PayoutRunId, PayoutState};
use shared::error::{AppError, ErrorKind};
use shared::views::{OutstandingView, PayoutView, PayoutsPage, RunView};
use std::collections::BTreeMap;

pub const MAX_REFERENCE: usize = 100;

pub async fn page(s: &Services, merchant: MerchantId) -> Result<PayoutsPage, AppError> {
    let outstanding = store::outstanding(&s.db, merchant)
        .await
        .map_err(db)?
        .into_iter()
        .map(|(currency, approved, pending)| OutstandingView {
            approved: money_text(approved, &currency),
            pending: money_text(pending, &currency),
            currency,
        })
        .collect();
    let mut runs = Vec::new();
    for row in store::runs(&s.db, merchant, 50).await.map_err(db)? {
        runs.push(run_view(s, merchant, row).await?);
    }
    Ok(PayoutsPage { outstanding, runs })
}

async fn run_view(s: &Services, merchant: MerchantId, row: RunRow) -> Result<RunView, AppError> {
    let payouts = store::of_run(&s.db, merchant, row.id).await.map_err(db)?;
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for p in &payouts {
        *totals.entry(p.currency.clone()).or_default() += p.amount_minor;
    }
    let credits = crate::store::store_credits::of_run(&s.db, row.id).await.map_err(db)?;
    let (queued, _, failed) = crate::store::store_credits::run_counts(&s.db, row.id).await.map_err(db)?;
    let shop = crate::store::shop::get(&s.db, merchant).await.map_err(db)?;
    let store_credit_shop = shop
        .filter(|c| c.state == "connected" && row.state == PayoutState::Open)
        .filter(|c| totals.keys().all(|currency| currency.eq_ignore_ascii_case(&c.currency)))
        .map(|c| c.shop_domain);
    let payouts = payouts
        .into_iter()
        .map(|p| {
            let credit = credits.iter().find(|(id, ..)| *id == p.id).cloned();
            let mut view = payout_view(p);
            if let Some((_, state, transaction, error)) = credit {
                view.credit_note = if state == "credited" { transaction } else { error };
                view.credit = Some(state);
            }
            view
        })
        .collect();
    Ok(RunView {
        id: row.id.get(),
        state: row.state,
        reference: row.reference,
        created_by: row.created_by,
        created_at: format_utc(row.created_at),
        decided_at: row.decided_at.map(format_utc),
        totals: totals.iter().map(|(c, m)| money_text(*m, c)).collect(),
        currencies: totals.into_keys().collect(),
        payouts,
        store_credit_shop,
        credits_queued: queued,
        credits_failed: failed,
    })
}

pub fn payout_view(p: PayoutRow) -> PayoutView {
    PayoutView {
        id: p.id,
        affiliate_id: p.affiliate_id,
        amount: money_text(p.amount_minor, &p.currency),
        affiliate_name: p.affiliate_name,
        payout_email: p.payout_email,
        lines: p.lines,
        state: p.state,
        paid_at: p.paid_at.map(format_utc),
        // A run paid as store credit: every one of its payouts was credited in the shop.
        credit: (p.reference.as_deref() == Some(crate::outbox::shopify_store_credit::REFERENCE))
            .then(|| "credited".to_owned()),
        credit_note: None,
    }
}

async fn load(s: &Services, merchant: MerchantId, id: PayoutRunId) -> Result<RunRow, AppError> {
    store::run(&s.db, merchant, id).await.map_err(db)?.ok_or_else(|| AppError::not_found("payout run"))
}

/// A new run of every approved balance due. Commissions whose hold ended since the last
/// housekeeping tick are approved first, so a run never misses what is due now.
pub async fn create_run(s: &Services, merchant: MerchantId, actor: &str, now: i64) -> Result<RunView, AppError> {
    super::earnings::approve_due(&s.db, now).await.map_err(db)?;
    match open_run(&s.db, merchant, actor, now).await.map_err(db)? {
        Created::Run(id) => {
            tracing::info!(merchant.id = %merchant, run = id.get(), "payout run created");
            run_view(s, merchant, load(s, merchant, id).await?).await
        }
        Created::NothingDue => Err(AppError::new(
            ErrorKind::Conflict,
            "Nothing is due: no affiliate has approved commissions at or above their campaign's minimum payout.",
        )),
    }
}

pub async fn mark_paid(
    s: &Services,
    merchant: MerchantId,
    id: i64,
    reference: &str,
    now: i64,
) -> Result<RunView, AppError> {
    let id = PayoutRunId(id);
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > MAX_REFERENCE {
        return Err(AppError::field(
            "reference",
            format!("Give the payment's reference (your PayPal or Wise batch id), up to {MAX_REFERENCE} characters."),
        ));
    }
    let run = load(s, merchant, id).await?;
    if !pay_run(&s.db, merchant, id, reference, now).await.map_err(db)? {
        return Err(AppError::new(ErrorKind::Conflict, format!("This run is {} already.", run.state.as_str())));
    }
    tracing::info!(merchant.id = %merchant, run = id.get(), "payout run marked paid");
    run_view(s, merchant, load(s, merchant, id).await?).await
}

/// Pays an open run as store credit in the connected shop: each payout is credited to the
/// affiliate's customer account by the outbox (`outbox::shopify_store_credit`), and the run is
/// marked paid once every one is. Payouts Shopify refused can be sent again the same way.
pub async fn pay_with_store_credit(s: &Services, merchant: MerchantId, id: i64) -> Result<RunView, AppError> {
    let id = PayoutRunId(id);
    let run = load(s, merchant, id).await?;
    if run.state != PayoutState::Open {
        return Err(AppError::new(ErrorKind::Conflict, format!("This run is {} already.", run.state.as_str())));
    }
    let view = run_view(s, merchant, run).await?;
    let Some(_) = view.store_credit_shop else {
        let shop = crate::store::shop::get(&s.db, merchant).await.map_err(db)?;
        let message = match shop {
            None => "Connect your Shopify store first (Settings → Shopify).".to_owned(),
            Some(c) if c.state != "connected" => {
                "The Rekomi app was uninstalled from your store: reconnect it first.".to_owned()
            }
            Some(c) => format!(
                "Store credit is paid in your shop's currency ({}); this run holds {}. Pay it another way.",
                c.currency,
                view.currencies.join(", ")
            ),
        };
        return Err(AppError::new(ErrorKind::Conflict, message));
    };
    let now = now_ms();
    let mut tx = s.db.begin().await.map_err(db)?;
    crate::store::store_credits::enqueue_run(&mut tx, merchant, id, now).await.map_err(db)?;
    tx.wake_on_commit(&crate::outbox::STORE_CREDITS);
    tx.commit().await.map_err(db)?;
    tracing::info!(merchant.id = %merchant, run = id.get(), "payout run sent as store credit");
    run_view(s, merchant, load(s, merchant, id).await?).await
}

pub async fn cancel(s: &Services, merchant: MerchantId, id: i64) -> Result<RunView, AppError> {
    let id = PayoutRunId(id);
    let run = load(s, merchant, id).await?;
    if crate::store::store_credits::holds_run(&s.db, id).await.map_err(db)? {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "Some payouts of this run were credited in Shopify (or are being): it can't be cancelled. Send the refused ones again, or mark the run paid.",
        ));
    }
    if !cancel_run(&s.db, merchant, id, now_ms()).await.map_err(db)? {
        return Err(AppError::new(ErrorKind::Conflict, format!("This run is {} already.", run.state.as_str())));
    }
    run_view(s, merchant, load(s, merchant, id).await?).await
}

/// What a new run holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Run(PayoutRunId),
    /// No affiliate has an approved balance at or above their campaign's minimum.
    NothingDue,
}

/// Gathers every approved line not in a run yet into a new run, one payout per (affiliate,
/// currency) whose net balance is due ([`payout_due`]: the campaign's minimum payout in the
/// campaign's currency; other currencies have no minimum). Set-based, so a run of 100,000 lines is
/// a handful of statements; lines stay `approved` while the run is open.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant))]
pub async fn open_run(db: &Db, merchant: MerchantId, actor: &str, now: i64) -> DbResult<Created> {
    let mut tx = db.begin().await?;
    let run = store::insert_run(&mut tx, merchant, actor, now).await?;
    store::gather(&mut tx, merchant, run, now).await?;
    let balances = store::balances(&mut tx, run).await?;
    let (due, short): (Vec<_>, Vec<_>) = balances
        .into_iter()
        .partition(|b| payout_due(b.amount_minor, &b.currency, b.min_payout_minor, &b.campaign_currency));
    if due.is_empty() {
        // Nothing written survives: the run and its empty payouts roll back with the transaction.
        return Ok(Created::NothingDue);
    }
    for b in &short {
        store::drop_payout(&mut tx, b.id).await?;
    }
    store::total_payouts(&mut tx, run).await?;
    tx.commit().await?;
    Ok(Created::Run(run))
}

/// Marks an open run paid under the merchant's reference: its payouts and lines become paid for
/// good, and each payout sends `Rekomi Payout Sent` and `payout.paid`. False when the run isn't
/// the merchant's or isn't open.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, run.id = run.get()))]
pub async fn pay_run(db: &Db, merchant: MerchantId, run: PayoutRunId, reference: &str, now: i64) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    if !store::close_paid(&mut tx, merchant, run, reference, now).await? {
        return Ok(false);
    }
    store::pay(&mut tx, run, reference, now).await?;
    for p in store::paid(&mut tx, run).await? {
        let properties = json!({
            "first_name": p.first_name,
            "amount": amount(p.amount_minor, &p.currency),
            "currency": p.currency,
            "reference": reference,
            "commissions": p.lines,
            "payout_email": p.payout_email,
            "value": amount(p.amount_minor, &p.currency),
        });
        let unique = format!("payout:{}", p.id);
        outbox::lifecycle(&mut tx, merchant, Metric::PayoutSent, &p.email, &unique, &properties, now).await?;
        let data = json!({
            "id": p.id,
            "run_id": run,
            "affiliate": { "id": p.affiliate_id, "email": p.email },
            "payout_email": p.payout_email,
            "amount": amount(p.amount_minor, &p.currency),
            "amount_minor": p.amount_minor,
            "currency": p.currency,
            "commissions": p.lines,
            "reference": reference,
        });
        let event_id = format!("evt_payout_paid_{}", p.id);
        outbox::webhook(&mut tx, merchant, Topic::PayoutPaid, &event_id, data, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Cancels an open run: its lines are free for the next run. False when it isn't open.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant, run.id = run.get()))]
pub async fn cancel_run(db: &Db, merchant: MerchantId, run: PayoutRunId, now: i64) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    if !store::close_cancelled(&mut tx, merchant, run, now).await? {
        return Ok(false);
    }
    store::release(&mut tx, run).await?;
    tx.commit().await?;
    Ok(true)
}

/// Which file a run is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// PayPal Payouts web upload: no header; recipient, amount, currency, customer id, note, wallet.
    /// One currency per file.
    PayPal,
    /// Wise batch transfer, "send by email" template.
    Wise,
    /// Every column Rekomi has, for any other service or the books.
    Csv,
}

impl FileKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "paypal" => Some(Self::PayPal),
            "wise" => Some(Self::Wise),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// A run's payouts as the file `kind`: (file name, CSV text). `currency` picks one currency (PayPal
/// needs it when the run has several).
pub async fn file(
    s: &Services,
    merchant: MerchantId,
    run: i64,
    kind: FileKind,
    currency: Option<&str>,
) -> Result<(String, String), AppError> {
    let run = PayoutRunId(run);
    let row = load(s, merchant, run).await?;
    if row.state == PayoutState::Cancelled {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "This run was cancelled: its commissions wait for the next run. Export that one instead.",
        ));
    }
    let mut payouts = store::of_run(&s.db, merchant, run).await.map_err(db)?;
    let currencies: std::collections::BTreeSet<String> = payouts.iter().map(|p| p.currency.clone()).collect();
    let currency = match (currency.map(str::to_uppercase), kind) {
        (Some(c), _) if !currencies.contains(&c) => {
            return Err(AppError::new(ErrorKind::NotFound, format!("This run has no payouts in {c}.")))
        }
        (Some(c), _) => Some(c),
        (None, FileKind::PayPal) if currencies.len() > 1 => {
            return Err(AppError::new(
                ErrorKind::Invalid,
                "PayPal takes one currency per file: download one file per currency.",
            ))
        }
        (None, _) => None,
    };
    if let Some(c) = &currency {
        payouts.retain(|p| &p.currency == c);
    }
    let suffix = currency.as_deref().map(|c| format!("-{}", c.to_lowercase())).unwrap_or_default();
    let (name, text) = match kind {
        FileKind::PayPal => (format!("rekomi-payout-{run}{suffix}-paypal.csv"), paypal(&payouts, run)),
        FileKind::Wise => (format!("rekomi-payout-{run}{suffix}-wise.csv"), wise(&payouts, run)),
        FileKind::Csv => (format!("rekomi-payout-{run}{suffix}.csv"), generic(&payouts)),
    };
    Ok((name, text.map_err(|e| super::internal(&e))?))
}

fn paypal(payouts: &[PayoutRow], run: PayoutRunId) -> anyhow::Result<String> {
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for p in payouts {
        // Customer id: at most 30 characters, no spaces; PayPal warns on a repeat within 30 days.
        let id = format!("RK{run}-{}", p.id);
        let note = format!("Affiliate commission: payout {} ({} commissions)", p.id, p.lines);
        // The address can fall back to the sign-up email, which may begin with a formula sign.
        out.write_record([
            super::exports::cell(&p.payout_email).as_str(),
            &decimal(p.amount_minor, &p.currency),
            &p.currency,
            &id,
            &note,
            "PAYPAL",
        ])?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}

fn wise(payouts: &[PayoutRow], run: PayoutRunId) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "name",
        "recipientEmail",
        "paymentReference",
        "receiverType",
        "amountCurrency",
        "amount",
        "sourceCurrency",
        "targetCurrency",
    ])?;
    for p in payouts {
        // The affiliate receives exactly the amount owed ("target"), in the payout's currency.
        let reference = format!("Commission RK{run}-{}", p.id);
        let amount = decimal(p.amount_minor, &p.currency);
        // An upload file keeps values exact, so a name a spreadsheet would run as a formula loses
        // its leading sign instead of gaining an apostrophe.
        let name = p.affiliate_name.trim_start_matches(['=', '+', '-', '@', '\t', '\r']);
        let email = super::exports::cell(&p.wise_email);
        out.write_record([name, &email, &reference, "PERSON", "target", &amount, &p.currency, &p.currency])?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}

fn generic(payouts: &[PayoutRow]) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    super::exports::write_payouts(&mut out, payouts)?;
    Ok(String::from_utf8(out.into_inner()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::{AffiliateId, PayoutState};

    fn row(email: &str, name: &str) -> PayoutRow {
        PayoutRow {
            id: 7,
            run_id: PayoutRunId(3),
            affiliate_id: AffiliateId(1),
            affiliate_name: name.to_owned(),
            affiliate_email: email.to_owned(),
            payout_email: email.to_owned(),
            wise_email: email.to_owned(),
            currency: "USD".to_owned(),
            amount_minor: 1234,
            lines: 2,
            state: PayoutState::Open,
            reference: None,
            created_at: 0,
            paid_at: None,
        }
    }

    #[test]
    fn payout_files_never_carry_a_formula() {
        let rows = [row("=cmd|'/c calc'!a0@evil.example", "-Ana"), row("+1@example.com", "@Bo")];
        for file in [paypal(&rows, PayoutRunId(3)).unwrap(), wise(&rows, PayoutRunId(3)).unwrap()] {
            for line in file.lines() {
                for cell in line.split(',') {
                    let cell = cell.trim_start_matches('"');
                    assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell:?} in {file}");
                }
            }
        }
    }
}
