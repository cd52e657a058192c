//! The customer's discount a campaign gives through each affiliate's code in Shopify, and the
//! pattern the codes are made from. The same parser runs in the browser (mistakes named before a
//! request) and on the server.

use super::clock::parse_day;
use super::money::{Currency, Money, Rate};
use super::FieldErrors;
use serde::{Deserialize, Serialize};

/// The longest pattern, and the longest code it may make (Shopify takes 255; people type these).
pub const MAX_PATTERN: usize = 40;
pub const MAX_CODE: usize = 40;
/// Codes tried per affiliate before Rekomi stops and asks the merchant.
pub const MAX_CANDIDATES: i64 = 5;
/// The pattern's placeholder for the affiliate's referral code.
pub const PLACEHOLDER: &str = "{code}";

/// What the customer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscountValue {
    /// A share of the order (on every item).
    Percent(Rate),
    /// A fixed amount off the order.
    Amount(Money),
}

impl DiscountValue {
    /// "10 % off", "5.00 USD off".
    pub fn describe(&self) -> String {
        match self {
            Self::Percent(rate) => format!("{} % off", rate.percent()),
            Self::Amount(money) => format!("{money} off"),
        }
    }
}

/// Which other discounts an order may combine this one with (Shopify's `combinesWith`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Combines {
    pub order: bool,
    pub product: bool,
    pub shipping: bool,
}

/// How the codes are made: literal text around `{code}` (the affiliate's referral code, upper-case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePattern(String);

impl CodePattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Self(PLACEHOLDER.to_owned()));
        }
        if raw.chars().count() > MAX_PATTERN {
            return Err(format!("Keep the pattern to {MAX_PATTERN} characters."));
        }
        if raw.matches(PLACEHOLDER).count() != 1 {
            return Err(format!(
                "The pattern needs {PLACEHOLDER} exactly once, where each affiliate's referral code goes (e.g. {PLACEHOLDER}10)."
            ));
        }
        let literal = raw.replace(PLACEHOLDER, "");
        if let Some(bad) = literal.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(format!(
                "\u{201c}{bad}\u{201d} can't be in a code: use letters, digits, - and _ around {PLACEHOLDER}."
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `n`th code to try for a referral code (0: the pattern as it is; then `-2`, `-3`, …).
    /// `None` when the result would be too long.
    pub fn candidate(&self, referral_code: &str, n: i64) -> Option<String> {
        let base = self.0.replace(PLACEHOLDER, &referral_code.to_ascii_uppercase()).to_ascii_uppercase();
        let code = if n <= 0 { base } else { format!("{base}-{}", n + 1) };
        (code.len() <= MAX_CODE).then_some(code)
    }
}

/// A campaign's discount, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountTerms {
    pub value: DiscountValue,
    pub once_per_customer: bool,
    pub min_subtotal: Option<Money>,
    pub combines: Combines,
    /// The discount ends at the start of this instant (unix ms); `None`: no end.
    pub ends_at: Option<i64>,
    pub pattern: CodePattern,
}

impl DiscountTerms {
    /// One line for the merchant and the portal: "10 % off · once per customer · orders over 50.00 USD".
    pub fn describe(&self) -> String {
        let mut parts = vec![self.value.describe()];
        if self.once_per_customer {
            parts.push("once per customer".into());
        }
        if let Some(min) = self.min_subtotal {
            parts.push(format!("on orders of {min} or more"));
        }
        if let Some(end) = self.ends_at {
            let last = super::clock::format_utc(end - 1);
            parts.push(format!("until {}", &last[..10]));
        }
        parts.join(" · ")
    }
}

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountForm {
    pub enabled: bool,
    /// `percent` or `amount`.
    pub kind: String,
    pub value: String,
    pub once_per_customer: bool,
    pub min_subtotal: String,
    pub combines_order: bool,
    pub combines_product: bool,
    pub combines_shipping: bool,
    /// YYYY-MM-DD (the last day the code works), or empty.
    pub ends_on: String,
    pub pattern: String,
}

impl DiscountForm {
    /// Checks the form for a campaign paid in `currency`; `today` (unix ms) refuses an end date in
    /// the past. Every problem is named on its field.
    pub fn parse(&self, currency: Currency, today: i64) -> Result<DiscountTerms, FieldErrors> {
        let mut errors = FieldErrors::new();
        let value = match self.kind.as_str() {
            "percent" => match Rate::parse_percent(&self.value) {
                Ok(rate) => Some(DiscountValue::Percent(rate)),
                Err(_) => {
                    errors.add("value", "Enter a percentage above 0 and at most 100, like 10 or 12.5.");
                    None
                }
            },
            "amount" => match Money::parse_positive(&self.value, currency) {
                Ok(money) => Some(DiscountValue::Amount(money)),
                Err(e) => {
                    errors.add("value", format!("Enter the amount off in {}: {e}", currency.code()));
                    None
                }
            },
            _ => {
                errors.add("kind", "Choose a percentage or a fixed amount.");
                None
            }
        };
        let min_subtotal = match self.min_subtotal.trim() {
            "" => None,
            raw => match Money::parse_positive(raw, currency) {
                Ok(money) => Some(money),
                Err(e) => {
                    errors.add(
                        "min_subtotal",
                        format!("Enter a minimum order in {} or leave it empty: {e}", currency.code()),
                    );
                    None
                }
            },
        };
        if let (Some(DiscountValue::Amount(off)), Some(min)) = (value, min_subtotal) {
            if off.minor() > min.minor() {
                errors
                    .add("min_subtotal", "The minimum order is less than the amount off; raise it or leave it empty.");
            }
        }
        let ends_at = match self.ends_on.trim() {
            "" => None,
            raw => match parse_day(raw) {
                // The code works through the whole of its last day (UTC).
                Some(day) if day + 86_400_000 > today => Some(day + 86_400_000),
                Some(_) => {
                    errors.add("ends_on", "That day has passed; choose a later one or leave it empty.");
                    None
                }
                None => {
                    errors.add("ends_on", "Enter the last day as YYYY-MM-DD, or leave it empty.");
                    None
                }
            },
        };
        let pattern = CodePattern::parse(&self.pattern).map_err(|m| errors.add("pattern", m)).ok();
        match (value, pattern, errors.is_empty()) {
            (Some(value), Some(pattern), true) => Ok(DiscountTerms {
                value,
                once_per_customer: self.once_per_customer,
                min_subtotal,
                combines: Combines {
                    order: self.combines_order,
                    product: self.combines_product,
                    shipping: self.combines_shipping,
                },
                ends_at,
                pattern,
            }),
            _ => Err(errors),
        }
    }

    /// The form pre-filled with saved terms.
    pub fn from_terms(terms: &DiscountTerms, enabled: bool) -> Self {
        let (kind, value) = match terms.value {
            DiscountValue::Percent(rate) => ("percent", rate.percent()),
            DiscountValue::Amount(money) => ("amount", money.decimal()),
        };
        Self {
            enabled,
            kind: kind.into(),
            value,
            once_per_customer: terms.once_per_customer,
            min_subtotal: terms.min_subtotal.map(|m| m.decimal()).unwrap_or_default(),
            combines_order: terms.combines.order,
            combines_product: terms.combines.product,
            combines_shipping: terms.combines.shipping,
            ends_on: terms.ends_at.map(|end| super::clock::format_utc(end - 1)[..10].to_owned()).unwrap_or_default(),
            pattern: terms.pattern.as_str().to_owned(),
        }
    }

    /// A new campaign's suggestion: 10 % off, once per customer, combines with shipping discounts.
    pub fn suggested() -> Self {
        Self {
            enabled: true,
            kind: "percent".into(),
            value: "10".into(),
            once_per_customer: true,
            combines_shipping: true,
            pattern: PLACEHOLDER.into(),
            ..Self::default()
        }
    }
}

/// The address that applies a code in the shop and carries the referral: Shopify's
/// `/discount/{CODE}` sets the code in the cart, then sends the visitor on to `redirect`.
pub fn share_link(shop_domain: &str, code: &str, referral_code: &str) -> String {
    let redirect = format!("/?ref={referral_code}");
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("https://{shop_domain}/discount/{}?redirect={}", encode(code), encode(&redirect))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("listed")
    }

    #[test]
    fn patterns_make_codes_and_their_next_candidates() {
        let p = CodePattern::parse("{code}10").expect("valid");
        assert_eq!(p.candidate("ana-2", 0).as_deref(), Some("ANA-210"));
        assert_eq!(p.candidate("ana-2", 1).as_deref(), Some("ANA-210-2"));
        assert_eq!(CodePattern::parse("").expect("default").candidate("Bob", 0).as_deref(), Some("BOB"));
        assert_eq!(CodePattern::parse("{code}").expect("valid").candidate(&"x".repeat(40), 1), None);
        assert!(CodePattern::parse("SAVE10").expect_err("no placeholder").contains("{code}"));
        assert!(CodePattern::parse("{code}{code}").is_err());
        assert!(CodePattern::parse("{code} 10").expect_err("space").contains('\u{201c}'));
    }

    #[test]
    fn forms_are_checked_field_by_field() {
        let today = parse_day("2026-12-07").expect("day");
        let form = DiscountForm {
            kind: "percent".into(),
            value: "15".into(),
            ends_on: "2026-12-31".into(),
            min_subtotal: "50".into(),
            ..DiscountForm::suggested()
        };
        let terms = form.parse(usd(), today).expect("valid");
        assert_eq!(terms.value, DiscountValue::Percent(Rate::from_basis_points(1500).expect("rate")));
        assert_eq!(terms.ends_at, parse_day("2027-01-01"));
        assert_eq!(
            terms.describe(),
            "15 % off · once per customer · on orders of 50.00 USD or more · until 2026-12-31"
        );
        assert_eq!(DiscountForm::from_terms(&terms, true).ends_on, "2026-12-31");

        let bad = DiscountForm {
            kind: "amount".into(),
            value: "20".into(),
            min_subtotal: "10".into(),
            ends_on: "2026-12-06".into(),
            pattern: "X".into(),
            ..DiscountForm::default()
        };
        let errors = bad.parse(usd(), today).expect_err("invalid");
        for field in ["min_subtotal", "ends_on", "pattern"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let zero = DiscountForm { value: "0".into(), ..DiscountForm::suggested() };
        assert!(zero.parse(usd(), today).expect_err("zero").get("value").is_some());
    }

    #[test]
    fn share_links_apply_the_code_and_carry_the_referral() {
        assert_eq!(
            share_link("demo.myshopify.com", "ANA10", "ana"),
            "https://demo.myshopify.com/discount/ANA10?redirect=%2F%3Fref%3Dana"
        );
    }
}
