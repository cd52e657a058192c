//! What an attributed order earns, and what a refund takes back. Integer minor units only; a
//! percentage rounds half up to the minor unit, and refunds scale the original amount by what is
//! left of the order, so several partial refunds never drift from one refund of the same total.

use super::campaign::CommissionRule;
use super::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommissionState {
    /// Inside the hold period: a refund may still reduce it.
    Pending,
    /// Past the hold period: goes into the next payout.
    Approved,
    Paid,
    /// Fully refunded before it was paid, or rejected by the merchant.
    Voided,
    /// Flagged (the affiliate bought through their own link): waits for the merchant.
    Held,
}

impl CommissionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Paid => "paid",
            Self::Voided => "voided",
            Self::Held => "held",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Paid, Self::Voided, Self::Held].into_iter().find(|s| s.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Approved => "Approved",
            Self::Paid => "Paid",
            Self::Voided => "Voided",
            Self::Held => "Held for review",
        }
    }
}

impl CommissionRule {
    /// The commission on an order subtotal. A flat rule pays its own amount whatever the order's
    /// currency; a percentage pays in the order's currency.
    pub fn earn(&self, subtotal: Money) -> Money {
        match self {
            Self::Flat(amount) => *amount,
            Self::Percent(rate) => {
                let scaled = i128::from(subtotal.minor()) * i128::from(rate.basis_points());
                let minor = (scaled + 5_000).div_euclid(10_000);
                Money::new(i64::try_from(minor).unwrap_or(i64::MAX), subtotal.currency())
            }
        }
    }
}

/// Basis points as a percentage without trailing zeros: 1250 → "12.5", 1500 → "15".
pub fn bps_percent(bps: i64) -> String {
    let whole = bps / 100;
    let frac = (bps % 100).abs();
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

/// What a commission of `original` is worth once `refunded` of an order of `subtotal` came back:
/// proportional, rounded down, never below zero. A zero subtotal (a free order) keeps a flat
/// commission until the order is refunded at all.
pub fn after_refunds(original: i64, subtotal: i64, refunded: i64) -> i64 {
    if subtotal <= 0 {
        return if refunded > 0 { 0 } else { original };
    }
    let left = (subtotal - refunded.clamp(0, subtotal)) as i128;
    let value = i128::from(original) * left / i128::from(subtotal);
    i64::try_from(value).unwrap_or(0).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::{Currency, Rate};

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").expect("listed"))
    }

    #[test]
    fn percentages_round_half_up_to_the_cent() {
        let ten = CommissionRule::Percent(Rate::from_basis_points(1000).expect("rate"));
        assert_eq!(ten.earn(usd(12_345)).minor(), 1_235);
        assert_eq!(ten.earn(usd(12_344)).minor(), 1_234);
        let odd = CommissionRule::Percent(Rate::from_basis_points(1250).expect("rate"));
        assert_eq!(odd.earn(usd(999)).minor(), 125);
        assert_eq!(ten.earn(usd(i64::MAX)).minor(), i64::MAX / 10 + 1);
    }

    #[test]
    fn flat_pays_its_amount() {
        let five = CommissionRule::Flat(usd(500));
        assert_eq!(five.earn(usd(10)), usd(500));
    }

    #[test]
    fn refunds_scale_the_original_amount() {
        assert_eq!(after_refunds(1_000, 10_000, 2_500), 750);
        assert_eq!(after_refunds(1_000, 10_000, 10_000), 0);
        assert_eq!(after_refunds(1_000, 10_000, 99_999), 0);
        // Two partial refunds land where one refund of the sum does.
        assert_eq!(after_refunds(333, 3_000, 1_000 + 1_000), after_refunds(333, 3_000, 2_000));
        assert_eq!(after_refunds(500, 0, 0), 500);
        assert_eq!(after_refunds(500, 0, 1), 0);
    }
}
