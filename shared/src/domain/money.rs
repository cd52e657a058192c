//! Money as integer minor units with an ISO 4217 currency, and rates in basis points. No floats.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// (code, minor-unit exponent) for the currencies shops sell in.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("Pick a currency.")]
    NoCurrency,
    #[error("“{0}” is not a currency Rekomi supports; use a three-letter code such as USD or EUR.")]
    UnknownCurrency(String),
    #[error("Enter an amount.")]
    Empty,
    #[error("Enter an amount like 10 or 12.50.")]
    Format,
    #[error("Use a dot for decimals, like 12.50; commas may only group thousands, like 1,000.")]
    DecimalComma,
    #[error("{currency} amounts have at most {digits} decimal places.")]
    Precision { currency: String, digits: u8 },
    #[error("The amount must be more than zero.")]
    NotPositive,
    #[error("That amount is too large.")]
    TooLarge,
    #[error("Enter a percentage like 10 or 12.5.")]
    RateFormat,
    #[error("A percentage is more than 0 and at most 100, with at most two decimal places.")]
    RateRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Currency(&'static str, u8);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(MoneyError::NoCurrency);
        }
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, e)| Self(c, *e))
            .ok_or(MoneyError::UnknownCurrency(raw.trim().to_owned()))
    }

    pub fn code(&self) -> &'static str {
        self.0
    }

    pub fn exponent(&self) -> u8 {
        self.1
    }

    pub fn all() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(c, _)| *c)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0.to_owned()
    }
}

/// An amount in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// The largest order or refund taken, in minor units (10 billion of a two-decimal currency):
    /// far past any real order, and small enough that a shop's totals never overflow.
    pub const MAX_ORDER_MINOR: i64 = 1_000_000_000_000;

    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a positive decimal amount typed by a person ("12.5", "1,000.00") in `currency`.
    pub fn parse_positive(raw: &str, currency: Currency) -> Result<Self, MoneyError> {
        let digits = currency.exponent();
        let minor = parse_decimal(raw, digits).map_err(|e| match e {
            DecimalError::Empty => MoneyError::Empty,
            DecimalError::Format => MoneyError::Format,
            DecimalError::Comma => MoneyError::DecimalComma,
            DecimalError::Precision => MoneyError::Precision { currency: currency.code().into(), digits },
            DecimalError::TooLarge => MoneyError::TooLarge,
        })?;
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Self { minor, currency })
    }

    /// Parses an amount a machine sent ("120.50", "0"): zero is allowed, negatives are not.
    pub fn parse_amount(raw: &str, currency: Currency) -> Result<Self, MoneyError> {
        if raw.trim() == "0" {
            return Ok(Self { minor: 0, currency });
        }
        match Self::parse_positive(raw, currency) {
            Err(MoneyError::NotPositive) if !raw.trim().starts_with('-') => Ok(Self { minor: 0, currency }),
            other => other,
        }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as a plain decimal string ("12.50"), as Klaviyo and payout files want it.
    pub fn decimal(&self) -> String {
        format_decimal(self.minor, self.currency.exponent())
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency.code())
    }
}

/// A rate in basis points: 12.5 % is 1250.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    basis_points: u32,
}

impl Rate {
    pub fn from_basis_points(basis_points: u32) -> Result<Self, MoneyError> {
        if basis_points == 0 || basis_points > 10_000 {
            return Err(MoneyError::RateRange);
        }
        Ok(Self { basis_points })
    }

    /// Parses a percentage typed by a person ("12.5" or "12.5 %").
    pub fn parse_percent(raw: &str) -> Result<Self, MoneyError> {
        let raw = raw.trim().trim_end_matches('%').trim();
        if raw.contains(',') {
            return Err(MoneyError::RateFormat);
        }
        let bps = parse_decimal(raw, 2).map_err(|e| match e {
            DecimalError::Precision => MoneyError::RateRange,
            _ => MoneyError::RateFormat,
        })?;
        u32::try_from(bps).map_err(|_| MoneyError::RateRange).and_then(Self::from_basis_points)
    }

    pub fn basis_points(&self) -> u32 {
        self.basis_points
    }

    /// "12.5" for 1250 bps.
    pub fn percent(&self) -> String {
        let s = format_decimal(i64::from(self.basis_points), 2);
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

enum DecimalError {
    Empty,
    Comma,
    Format,
    Precision,
    TooLarge,
}

/// "1,234.5" with `digits` = 2 → 123450. Thousands separators are accepted only as commas
/// before a dot decimal point: the form says so, and guessing locales is how money goes wrong.
fn parse_decimal(raw: &str, digits: u8) -> Result<i64, DecimalError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(DecimalError::Empty);
    }
    let (negative, raw) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    // "12,50" is a decimal comma, not twelve hundred and fifty: refuse it rather than guess.
    if whole.contains(',') {
        let mut groups = whole.split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !first_ok || !groups.all(|g| g.len() == 3) || frac.contains(',') {
            return Err(DecimalError::Comma);
        }
    }
    let whole: String = whole.chars().filter(|c| *c != ',').collect();
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !numeric(&whole) || !numeric(frac) || raw.ends_with('.') {
        return Err(DecimalError::Format);
    }
    if frac.len() > usize::from(digits) {
        return Err(DecimalError::Precision);
    }
    let scale = 10_i64.pow(u32::from(digits));
    let whole_value: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| DecimalError::TooLarge)? };
    let frac_value: i64 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = usize::from(digits));
        padded.parse().map_err(|_| DecimalError::Format)?
    };
    let value = whole_value
        .checked_mul(scale)
        .and_then(|v| v.checked_add(frac_value))
        .filter(|v| *v <= 1_000_000_000_000)
        .ok_or(DecimalError::TooLarge)?;
    Ok(if negative { -value } else { value })
}

fn format_decimal(minor: i64, digits: u8) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(u32::from(digits));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = usize::from(digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("usd").expect("USD is listed")
    }

    #[test]
    fn parses_amounts_into_minor_units() {
        assert_eq!(Money::parse_positive("12.5", usd()).map(|m| m.minor), Ok(1250));
        assert_eq!(Money::parse_positive("1,000", usd()).map(|m| m.minor), Ok(100_000));
        assert_eq!(Money::parse_positive(".75", usd()).map(|m| m.minor), Ok(75));
        let jpy = Currency::parse("JPY").expect("JPY is listed");
        assert_eq!(Money::parse_positive("500", jpy).map(|m| m.minor), Ok(500));
        assert!(matches!(Money::parse_positive("5.5", jpy), Err(MoneyError::Precision { .. })));
    }

    #[test]
    fn rejects_bad_amounts() {
        assert_eq!(Money::parse_positive("", usd()), Err(MoneyError::Empty));
        assert_eq!(Money::parse_positive("abc", usd()), Err(MoneyError::Format));
        assert_eq!(Money::parse_positive("1.", usd()), Err(MoneyError::Format));
        assert_eq!(Money::parse_positive("12,50", usd()), Err(MoneyError::DecimalComma));
        assert_eq!(Money::parse_positive("1,5", usd()), Err(MoneyError::DecimalComma));
        assert_eq!(Money::parse_positive("1,234,567.5", usd()).map(|m| m.minor), Ok(123_456_750));
        assert_eq!(Money::parse_positive("0", usd()), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_positive("-3", usd()), Err(MoneyError::NotPositive));
        assert!(matches!(Money::parse_positive("1.234", usd()), Err(MoneyError::Precision { .. })));
        assert_eq!(Money::parse_positive("99999999999999999999", usd()), Err(MoneyError::TooLarge));
    }

    #[test]
    fn machine_amounts_may_be_zero_but_not_negative() {
        assert_eq!(Money::parse_amount("0.00", usd()).map(|m| m.minor), Ok(0));
        assert_eq!(Money::parse_amount("120.5", usd()).map(|m| m.minor), Ok(12_050));
        assert_eq!(Money::parse_amount("-1.00", usd()), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_amount("x", usd()), Err(MoneyError::Format));
    }

    #[test]
    fn formats_decimals() {
        assert_eq!(Money::new(1250, usd()).to_string(), "12.50 USD");
        assert_eq!(Money::new(-5, usd()).decimal(), "-0.05");
    }

    #[test]
    fn rates_are_basis_points() {
        assert_eq!(Rate::parse_percent("12.5").map(|r| r.basis_points), Ok(1250));
        assert_eq!(Rate::parse_percent("10 %").map(|r| r.percent()), Ok("10".into()));
        assert_eq!(Rate::parse_percent("0"), Err(MoneyError::RateRange));
        assert_eq!(Rate::parse_percent("100.01"), Err(MoneyError::RateRange));
        assert_eq!(Rate::parse_percent("12.345"), Err(MoneyError::RateRange));
        assert_eq!(Rate::parse_percent("ten"), Err(MoneyError::RateFormat));
        assert_eq!(Rate::parse_percent("1,5"), Err(MoneyError::RateFormat));
    }

    #[test]
    fn currencies_are_known_codes() {
        assert_eq!(Currency::parse(" eur ").map(|c| c.code()), Ok("EUR"));
        assert!(matches!(Currency::parse("XYZ"), Err(MoneyError::UnknownCurrency(_))));
        assert_eq!(Currency::parse(""), Err(MoneyError::NoCurrency));
    }
}
