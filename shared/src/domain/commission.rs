//! What an attributed order earns, what a refund takes back, and how a commission line moves from
//! state to state. Integer minor units only; a percentage rounds half up to the minor unit, and
//! refunds scale the original amount by what is left of the order, so several partial refunds never
//! drift from one refund of the same total.

use super::campaign::CommissionRule;
use super::money::Money;
use super::tracking::DAY_MS;
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
    /// Waits for the merchant: flagged (the affiliate bought through their own link), or earned
    /// before the affiliate was disabled.
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

    /// Where a new sale line starts: a self-referral (the buyer is the affiliate) waits for the
    /// merchant's review; any other line waits out the campaign's hold period.
    pub fn new_sale(self_referral: bool) -> (Self, Option<HeldReason>) {
        if self_referral {
            (Self::Held, Some(HeldReason::SelfReferral))
        } else {
            (Self::Pending, None)
        }
    }

    /// The state the merchant's verdict on a held line gives it: released, it is approved when its
    /// hold period is already over (as the sweep would have done) and pending otherwise; rejected,
    /// it is voided. `None` when the line isn't held (any more).
    pub fn reviewed(self, release: bool, approve_at: i64, now: i64) -> Option<Self> {
        match (self, release) {
            (Self::Held, false) => Some(Self::Voided),
            (Self::Held, true) if approve_at <= now => Some(Self::Approved),
            (Self::Held, true) => Some(Self::Pending),
            _ => None,
        }
    }

    /// How a refund reaches a sale line in this state. A line in a payout run (open or paid) keeps
    /// its amount, which the payout file already carries, so the refund becomes a negative line for
    /// the next run instead.
    pub fn refund_route(self, in_payout: bool) -> RefundRoute {
        if self == Self::Paid || in_payout {
            RefundRoute::ClawBack
        } else if self == Self::Voided {
            RefundRoute::Nothing
        } else {
            RefundRoute::Reduce
        }
    }
}

/// Why a commission line waits for the merchant's review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldReason {
    /// The customer's email is the affiliate's own.
    SelfReferral,
    /// Pending when the merchant disabled the affiliate: never voided silently, released again
    /// when the affiliate is enabled (or reviewed by hand like any held line).
    AffiliateDisabled,
}

impl HeldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfReferral => "self_referral",
            Self::AffiliateDisabled => "affiliate_disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::SelfReferral, Self::AffiliateDisabled].into_iter().find(|r| r.as_str() == raw)
    }

    /// The reason as the merchant reads it.
    pub fn explain(self) -> &'static str {
        match self {
            Self::SelfReferral => "The customer's email is the affiliate's own.",
            Self::AffiliateDisabled => {
                "Earned before the affiliate was disabled or banned; released if they are enabled again."
            }
        }
    }
}

/// When a line recorded at `now` leaves a hold period of `hold_days` (and is approved).
pub fn approve_at(now: i64, hold_days: i64) -> i64 {
    now.saturating_add(hold_days.saturating_mul(DAY_MS))
}

/// How a refund reaches an order's sale line ([`CommissionState::refund_route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundRoute {
    /// Unpaid and in no payout run: the line itself is cut ([`reduce`]).
    Reduce,
    /// Voided already: nothing is left to take.
    Nothing,
    /// Already in a payout run: a negative line for the next run ([`clawback`]).
    ClawBack,
}

/// An unpaid sale line after refunds: its new amount, and whether nothing is left (it is voided).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reduction {
    pub amount_minor: i64,
    pub voids: bool,
}

/// Cuts an unpaid sale line of `original` to what is left once `refunded` of an order of
/// `subtotal` came back; voided at zero.
pub fn reduce(original: i64, subtotal: i64, refunded: i64) -> Reduction {
    let amount_minor = after_refunds(original, subtotal, refunded);
    Reduction { amount_minor, voids: amount_minor == 0 }
}

/// The negative line a refund adds for a sale line already in a payout run: what the sale is worth
/// now, less what the line carries (`paid`) and what earlier clawbacks took (`clawed`, zero or
/// less). Zero when nothing more is owed back: a refund never adds money.
pub fn clawback(original: i64, subtotal: i64, refunded: i64, paid: i64, clawed: i64) -> i64 {
    after_refunds(original, subtotal, refunded).saturating_sub(paid.saturating_add(clawed)).min(0)
}

/// Whether an affiliate's net balance in `currency` is paid in a run: positive and, in the
/// campaign's own currency, at least the campaign's minimum payout (other currencies have none).
pub fn payout_due(amount_minor: i64, currency: &str, min_payout_minor: i64, campaign_currency: &str) -> bool {
    let minimum = if currency == campaign_currency { min_payout_minor.max(1) } else { 1 };
    amount_minor >= minimum
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

    #[test]
    fn a_self_referral_is_held_and_anything_else_pends() {
        assert_eq!(CommissionState::new_sale(true), (CommissionState::Held, Some(HeldReason::SelfReferral)));
        assert_eq!(CommissionState::new_sale(false), (CommissionState::Pending, None));
        assert_eq!(HeldReason::parse(HeldReason::SelfReferral.as_str()), Some(HeldReason::SelfReferral));
        assert_eq!(HeldReason::parse("other"), None);
    }

    #[test]
    fn the_hold_period_ends_days_later_without_overflow() {
        assert_eq!(approve_at(1_000, 0), 1_000);
        assert_eq!(approve_at(1_000, 30), 1_000 + 30 * 86_400_000);
        assert_eq!(approve_at(1_000, i64::MAX), i64::MAX);
    }

    #[test]
    fn only_a_held_line_is_reviewed() {
        use CommissionState::*;
        assert_eq!(Held.reviewed(false, 0, 10), Some(Voided));
        assert_eq!(Held.reviewed(true, 10, 10), Some(Approved), "hold over: approved at once");
        assert_eq!(Held.reviewed(true, 11, 10), Some(Pending), "hold running: waits for the sweep");
        for state in [Pending, Approved, Paid, Voided] {
            assert_eq!(state.reviewed(true, 0, 10), None);
            assert_eq!(state.reviewed(false, 0, 10), None);
        }
    }

    #[test]
    fn a_refund_cuts_an_unpaid_line_and_claws_back_a_paid_one() {
        use CommissionState::*;
        for state in [Pending, Approved, Held] {
            assert_eq!(state.refund_route(false), RefundRoute::Reduce);
            assert_eq!(state.refund_route(true), RefundRoute::ClawBack, "in an open run");
        }
        assert_eq!(Paid.refund_route(false), RefundRoute::ClawBack);
        assert_eq!(Voided.refund_route(false), RefundRoute::Nothing);
        assert_eq!(reduce(1_000, 10_000, 2_500), Reduction { amount_minor: 750, voids: false });
        assert_eq!(reduce(1_000, 10_000, 10_000), Reduction { amount_minor: 0, voids: true });
    }

    #[test]
    fn clawbacks_net_what_was_paid_and_taken_before() {
        // 20.00 paid on 200.00; 50.00 refunded: 5.00 back.
        assert_eq!(clawback(2_000, 20_000, 5_000, 2_000, 0), -500);
        // Another 50.00: 5.00 more, not 10.00.
        assert_eq!(clawback(2_000, 20_000, 10_000, 2_000, -500), -500);
        // A replayed total changes nothing, and a refund never adds money.
        assert_eq!(clawback(2_000, 20_000, 10_000, 2_000, -1_000), 0);
        assert_eq!(clawback(2_000, 20_000, 0, 2_000, -1_000), 0);
        // Refunded in full: everything paid comes back.
        assert_eq!(clawback(2_000, 20_000, 20_000, 2_000, 0), -2_000);
    }

    #[test]
    fn a_balance_is_due_at_the_campaign_minimum_in_its_currency() {
        assert!(payout_due(5_000, "USD", 5_000, "USD"));
        assert!(!payout_due(4_999, "USD", 5_000, "USD"));
        assert!(payout_due(1, "EUR", 5_000, "USD"), "no minimum in another currency");
        assert!(!payout_due(0, "USD", 0, "USD"), "a zero balance is never paid");
        assert!(!payout_due(-500, "EUR", 0, "USD"), "nor a negative one");
    }
}
