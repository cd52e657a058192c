//! CSV exports for the merchant's books: affiliates, commissions and payouts over a date range.

use super::earnings::db;
use super::Services;
use crate::store::outbox::rfc3339;
use crate::store::{affiliates, earnings, payouts};
use shared::domain::{Currency, MerchantId, Money};
use shared::error::{AppError, ErrorKind};

/// Rows an export holds at most; a wider range is refused with the count to narrow it.
pub const MAX_ROWS: i64 = 100_000;
const DAY_MS: i64 = 86_400_000;

/// A value a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR at the start) gets a
/// leading apostrophe, so an affiliate's name can't execute in the merchant's Excel.
pub fn cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

/// `from` and `to` as `YYYY-MM-DD` (both days included, UTC): the window in unix ms, end exclusive.
pub fn window(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), AppError> {
    let day = |raw: &str, field: &str| -> Result<i64, AppError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(raw.trim(), &format)
            .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
            .map_err(|_| AppError::field(field, format!("{field} is a date like 2026-11-01.")))
    };
    let start = from.filter(|f| !f.trim().is_empty()).map(|f| day(f, "from")).transpose()?.unwrap_or(0);
    let end = match to.filter(|t| !t.trim().is_empty()) {
        Some(t) => day(t, "to")? + DAY_MS,
        None => i64::MAX,
    };
    if start >= end {
        return Err(AppError::field("to", "The range ends before it starts."));
    }
    Ok((start, end))
}

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Affiliates,
    Commissions,
    Payouts,
}

impl Export {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim_end_matches(".csv") {
            "affiliates" => Some(Self::Affiliates),
            "commissions" => Some(Self::Commissions),
            "payouts" => Some(Self::Payouts),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Affiliates => "affiliates",
            Self::Commissions => "commissions",
            Self::Payouts => "payouts",
        }
    }
}

/// An amount as plain decimal text in its currency ("12.50"), as payout files and exports want it.
pub(crate) fn decimal(minor: i64, currency: &str) -> String {
    Currency::parse(currency).map(|c| Money::new(minor, c).decimal()).unwrap_or_else(|_| minor.to_string())
}

fn too_many() -> AppError {
    AppError::new(ErrorKind::Invalid, format!("More than {MAX_ROWS} rows: choose a shorter date range."))
}

/// (file name, CSV) of one export over `window`.
pub async fn export(
    s: &Services,
    merchant: MerchantId,
    what: Export,
    window: (i64, i64),
) -> Result<(String, String), AppError> {
    let csv = build(s, merchant, what, window).await?.map_err(|e| super::internal(&e))?;
    Ok((format!("rekomi-{}.csv", what.name()), csv))
}

async fn build(
    s: &Services,
    merchant: MerchantId,
    what: Export,
    window: (i64, i64),
) -> Result<anyhow::Result<String>, AppError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let written: anyhow::Result<()> = match what {
        Export::Affiliates => {
            let rows = affiliates::page(&s.db, merchant, None, None, window, MAX_ROWS + 1).await.map_err(db)?;
            if rows.len() as i64 > MAX_ROWS {
                return Err(too_many());
            }
            // Answers to the campaigns' own questions, one cell: "Question: answer; …".
            let mut answers: std::collections::HashMap<shared::domain::AffiliateId, Vec<String>> =
                std::collections::HashMap::new();
            for (id, question, answer) in crate::store::questions::all_answers(&s.db, merchant).await.map_err(db)? {
                answers.entry(id).or_default().push(format!("{question}: {answer}"));
            }
            (|| {
                out.write_record([
                    "id",
                    "email",
                    "full_name",
                    "first_name",
                    "last_name",
                    "state",
                    "source",
                    "campaign",
                    "referral_code",
                    "coupon_code",
                    "payout_email",
                    "rate_override",
                    "applied_at",
                    "decided_at",
                    "answers",
                ])?;
                for a in rows {
                    let rate = match (a.rate_bps, a.rate_minor) {
                        (Some(b), _) => format!("{} %", shared::domain::commission::bps_percent(b)),
                        (None, Some(m)) => format!("{} {}", decimal(m, &a.currency), a.currency),
                        _ => String::new(),
                    };
                    out.write_record([
                        a.id.0.to_string(),
                        cell(&a.email),
                        cell(&a.full_name),
                        cell(&a.first_name),
                        cell(a.last_name.as_deref().unwrap_or_default()),
                        a.state.as_str().to_owned(),
                        a.source,
                        cell(&a.campaign_name),
                        a.referral_code.unwrap_or_default(),
                        cell(a.coupon_code.as_deref().unwrap_or_default()),
                        cell(a.paypal_email.as_deref().unwrap_or_default()),
                        rate,
                        rfc3339(a.applied_at),
                        a.decided_at.map(rfc3339).unwrap_or_default(),
                        cell(&answers.remove(&a.id).map(|list| list.join("; ")).unwrap_or_default()),
                    ])?;
                }
                Ok(())
            })()
        }
        Export::Commissions => {
            let rows = earnings::page(&s.db, merchant, None, None, None, window, MAX_ROWS + 1).await.map_err(db)?;
            if rows.len() as i64 > MAX_ROWS {
                return Err(too_many());
            }
            (|| {
                out.write_record([
                    "id",
                    "affiliate_id",
                    "affiliate_name",
                    "order_id",
                    "order_name",
                    "channel",
                    "via",
                    "order_subtotal",
                    "order_currency",
                    "refunded",
                    "amount",
                    "currency",
                    "state",
                    "rule",
                    "clawback",
                    "approves_at",
                    "created_at",
                ])?;
                for k in rows {
                    out.write_record([
                        k.id.to_string(),
                        k.affiliate_id.0.to_string(),
                        cell(&k.affiliate_name),
                        cell(&k.order_id),
                        cell(k.order_name.as_deref().unwrap_or_default()),
                        k.channel,
                        k.via,
                        decimal(k.subtotal_minor, &k.order_currency),
                        k.order_currency.clone(),
                        decimal(k.refunded_minor, &k.order_currency),
                        decimal(k.amount_minor, &k.currency),
                        k.currency,
                        k.state.as_str().to_owned(),
                        cell(&k.rule),
                        k.is_clawback.to_string(),
                        rfc3339(k.approve_at),
                        rfc3339(k.created_at),
                    ])?;
                }
                Ok(())
            })()
        }
        Export::Payouts => {
            let rows = payouts::page(&s.db, merchant, None, None, None, window, MAX_ROWS + 1).await.map_err(db)?;
            if rows.len() as i64 > MAX_ROWS {
                return Err(too_many());
            }
            write_payouts(&mut out, &rows)
        }
    };
    Ok(written.and_then(|()| Ok(String::from_utf8(out.into_inner()?)?)))
}

/// Payouts as CSV rows with a header: the payouts export and a run's plain CSV file.
pub(crate) fn write_payouts<W: std::io::Write>(
    out: &mut csv::Writer<W>,
    rows: &[payouts::PayoutRow],
) -> anyhow::Result<()> {
    out.write_record([
        "id",
        "run_id",
        "affiliate_id",
        "affiliate_name",
        "affiliate_email",
        "payout_email",
        "amount",
        "currency",
        "commissions",
        "state",
        "reference",
        "created_at",
        "paid_at",
    ])?;
    for p in rows {
        out.write_record([
            p.id.to_string(),
            p.run_id.to_string(),
            p.affiliate_id.0.to_string(),
            cell(&p.affiliate_name),
            cell(&p.affiliate_email),
            cell(&p.payout_email),
            decimal(p.amount_minor, &p.currency),
            p.currency.clone(),
            p.lines.to_string(),
            p.state.as_str().to_owned(),
            cell(p.reference.as_deref().unwrap_or_default()),
            rfc3339(p.created_at),
            p.paid_at.map(rfc3339).unwrap_or_default(),
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Ana Berg"), "Ana Berg");
    }

    #[test]
    fn date_ranges_include_both_days() {
        let (start, end) = window(Some("2026-11-01"), Some("2026-11-01")).expect("one day");
        assert_eq!(end - start, DAY_MS);
        assert_eq!(window(None, None).expect("all"), (0, i64::MAX));
        assert!(window(Some("2026-13-01"), None).is_err());
        assert!(window(Some("2026-11-02"), Some("2026-11-01")).is_err());
    }
}

/// Which table of the results page a CSV holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    Campaign,
    Affiliate,
    Day,
}

impl Breakdown {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "campaign" => Some(Self::Campaign),
            "affiliate" => Some(Self::Affiliate),
            "day" => Some(Self::Day),
            _ => None,
        }
    }
}

/// (file name, CSV) of what the results page shows for `filter`: the same rows as its table.
pub async fn results(
    s: &Services,
    merchant: MerchantId,
    filter: &shared::views::ReportFilter,
    breakdown: Breakdown,
) -> Result<(String, String), AppError> {
    let report = super::earnings::report(s, merchant, filter).await?;
    let name = match breakdown {
        Breakdown::Campaign => "campaigns",
        Breakdown::Affiliate => "affiliates",
        Breakdown::Day => "days",
    };
    let file = format!("rekomi-results-{name}-{}-to-{}.csv", report.from, report.to);
    let mut out = csv::Writer::from_writer(Vec::new());
    let written: csv::Result<()> = (|| {
        match breakdown {
            Breakdown::Campaign | Breakdown::Affiliate => {
                out.write_record(["id", "name", "clicks", "conversions", "pending", "approved", "paid", "held"])?;
                let rows = if breakdown == Breakdown::Campaign { &report.by_campaign } else { &report.by_affiliate };
                for t in rows {
                    out.write_record([
                        t.id.to_string(),
                        cell(&t.name),
                        t.clicks.to_string(),
                        t.conversions.to_string(),
                        t.earnings.pending.clone(),
                        t.earnings.approved.clone(),
                        t.earnings.paid.clone(),
                        t.earnings.held.clone(),
                    ])?;
                }
            }
            Breakdown::Day => {
                let currency = report.chart_currency.clone().unwrap_or_default();
                let commission = format!("commission_{}", currency.to_lowercase());
                let header = if currency.is_empty() { "commission" } else { commission.as_str() };
                out.write_record(["day", "clicks", "conversions", header])?;
                for d in &report.days {
                    out.write_record([
                        d.day.clone(),
                        d.clicks.to_string(),
                        d.conversions.to_string(),
                        decimal(d.commission_minor, &currency),
                    ])?;
                }
            }
        }
        out.flush()?;
        Ok(())
    })();
    written.map_err(|e| super::internal(&anyhow::Error::new(e)))?;
    let bytes = out.into_inner().map_err(|e| super::internal(&anyhow::anyhow!("{e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| super::internal(&anyhow::Error::new(e)))?;
    Ok((file, text))
}
