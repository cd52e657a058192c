//! A campaign's terms as the merchant types them, and the checked draft the store accepts.

use super::money::{Currency, Money, MoneyError, Rate};
use super::slug::Slug;
use super::text::required;
use super::tracking::Attribution;
use super::FieldErrors;
use serde::{Deserialize, Serialize};

pub const MAX_CAMPAIGN_NAME: usize = 80;
pub const MAX_PITCH: usize = 4_000;
pub const MAX_TERMS: usize = 50_000;
pub const MAX_COOKIE_DAYS: u16 = 365;
pub const MAX_HOLD_DAYS: u16 = 365;

/// How an affiliate earns on an attributed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommissionRule {
    /// A share of the order subtotal.
    Percent(Rate),
    /// A fixed amount per order.
    Flat(Money),
}

/// How a commission rule is stored: the campaign's columns and an affiliate's override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRule<'a> {
    pub kind: &'a str,
    pub bps: Option<i64>,
    pub minor: Option<i64>,
    pub currency: &'a str,
    pub override_bps: Option<i64>,
    pub override_minor: Option<i64>,
}

impl CommissionRule {
    /// The rule in force for an affiliate: their override (the "rate bump") wins over the
    /// campaign's. `None` when the stored values don't make a rule.
    pub fn in_force(stored: StoredRule<'_>) -> Option<Self> {
        let rate =
            |bps: Option<i64>| bps.and_then(|b| u32::try_from(b).ok()).and_then(|b| Rate::from_basis_points(b).ok());
        let currency = Currency::parse(stored.currency).ok();
        let flat = |minor: Option<i64>| currency.zip(minor).map(|(c, m)| Self::Flat(Money::new(m, c)));
        match (stored.override_bps, stored.override_minor, stored.kind) {
            (Some(_), _, _) => rate(stored.override_bps).map(Self::Percent),
            (None, Some(_), _) => flat(stored.override_minor),
            (None, None, "percent") => rate(stored.bps).map(Self::Percent),
            (None, None, _) => flat(stored.minor),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Percent(rate) => format!("{}% of each order", rate.percent()),
            Self::Flat(money) => format!("{money} per order"),
        }
    }
}

/// The campaign form exactly as typed; every field a string or flag so nothing is lost on error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignForm {
    pub name: String,
    pub slug: String,
    pub pitch: String,
    pub terms: String,
    /// "percent" or "flat".
    pub commission_kind: String,
    pub commission_rate: String,
    pub commission_amount: String,
    pub currency: String,
    pub cookie_days: String,
    /// "last" or "first".
    pub attribution: String,
    pub hold_days: String,
    /// The smallest balance paid out, in the campaign's currency; empty: any amount.
    pub min_payout: String,
    pub destination_url: String,
    pub auto_approve: bool,
    pub accepting: bool,
}

impl Default for CampaignForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            slug: String::new(),
            pitch: String::new(),
            terms: String::new(),
            commission_kind: "percent".into(),
            commission_rate: "10".into(),
            commission_amount: String::new(),
            currency: "USD".into(),
            cookie_days: "30".into(),
            attribution: "last".into(),
            hold_days: "30".into(),
            min_payout: String::new(),
            destination_url: String::new(),
            auto_approve: false,
            accepting: true,
        }
    }
}

/// A campaign that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignDraft {
    pub name: String,
    pub slug: Slug,
    pub pitch: String,
    pub terms: String,
    pub commission: CommissionRule,
    pub currency: Currency,
    pub cookie_days: u16,
    pub attribution: Attribution,
    pub hold_days: u16,
    /// Minor units of `currency`; 0: any amount.
    pub min_payout_minor: i64,
    pub destination_url: Option<String>,
    pub auto_approve: bool,
    pub accepting: bool,
}

impl CampaignForm {
    /// Checks every field and reports all problems at once.
    pub fn parse(&self) -> Result<CampaignDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", required(&self.name, MAX_CAMPAIGN_NAME, false));
        let slug = if self.slug.trim().is_empty() {
            let derived = Slug::from_name(&self.name);
            if derived.is_none() && name.is_some() {
                errors.add("slug", "Enter a web address name using letters a–z and digits.");
            }
            derived
        } else {
            errors.check("slug", Slug::parse(&self.slug))
        };
        let pitch = errors.check("pitch", required(&self.pitch, MAX_PITCH, true));
        let terms = errors.check("terms", required(&self.terms, MAX_TERMS, true));
        let currency = errors.check("currency", Currency::parse(&self.currency));
        let commission = match self.commission_kind.as_str() {
            "percent" => {
                errors.check("commission_rate", Rate::parse_percent(&self.commission_rate)).map(CommissionRule::Percent)
            }
            "flat" => currency.and_then(|currency| {
                errors
                    .check("commission_amount", Money::parse_positive(&self.commission_amount, currency))
                    .map(CommissionRule::Flat)
            }),
            _ => {
                errors.add("commission_kind", "Choose a percentage or a flat amount.");
                None
            }
        };
        let cookie_days = errors.check("cookie_days", parse_cookie_days(&self.cookie_days));
        let destination_url = errors.check("destination_url", parse_shop_url(&self.destination_url));
        let attribution = Attribution::parse(self.attribution.trim());
        if attribution.is_none() {
            errors.add("attribution", "Choose first click or last click.");
        }
        let hold_days = errors.check("hold_days", parse_hold_days(&self.hold_days));
        let min_payout = match (self.min_payout.trim(), currency) {
            ("", _) | (_, None) => Some(0),
            (raw, Some(c)) => errors.check("min_payout", Money::parse_amount(raw, c)).map(|m| m.minor()),
        };
        match (name, slug, pitch, terms, currency, commission, cookie_days, destination_url) {
            (
                Some(name),
                Some(slug),
                Some(pitch),
                Some(terms),
                Some(currency),
                Some(commission),
                Some(cookie_days),
                Some(destination_url),
            ) if errors.is_empty() => Ok(CampaignDraft {
                attribution: attribution.unwrap_or_default(),
                hold_days: hold_days.unwrap_or(30),
                min_payout_minor: min_payout.unwrap_or(0),
                name,
                slug,
                pitch,
                terms,
                commission,
                currency,
                cookie_days,
                destination_url,
                auto_approve: self.auto_approve,
                accepting: self.accepting,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignFieldError {
    #[error("Enter a whole number of days from 1 to {MAX_COOKIE_DAYS}.")]
    CookieDays,
    #[error("Enter a whole number of days from 0 to {MAX_HOLD_DAYS}; 30 covers most refund windows.")]
    HoldDays,
    #[error("Enter the shop's address starting with https://, like https://shop.example.com.")]
    ShopUrl,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

fn parse_cookie_days(raw: &str) -> Result<u16, CampaignFieldError> {
    raw.trim().parse::<u16>().ok().filter(|d| (1..=MAX_COOKIE_DAYS).contains(d)).ok_or(CampaignFieldError::CookieDays)
}

fn parse_hold_days(raw: &str) -> Result<u16, CampaignFieldError> {
    raw.trim().parse::<u16>().ok().filter(|d| *d <= MAX_HOLD_DAYS).ok_or(CampaignFieldError::HoldDays)
}

/// The shop's address, where tracking links will send visitors. Optional until tracking is set up.
fn parse_shop_url(raw: &str) -> Result<Option<String>, CampaignFieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let rest =
        raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://")).ok_or(CampaignFieldError::ShopUrl)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_ok = host.contains('.') || host.starts_with("localhost") || host.starts_with("127.0.0.1");
    if !host_ok || raw.len() > 2_000 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CampaignFieldError::ShopUrl);
    }
    Ok(Some(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CampaignForm {
        CampaignForm {
            name: "Spring Partners".into(),
            pitch: "Earn with us".into(),
            terms: "Be nice.".into(),
            ..CampaignForm::default()
        }
    }

    #[test]
    fn a_valid_form_parses_and_derives_the_slug() {
        let draft = valid().parse().expect("valid form");
        assert_eq!(draft.slug.as_str(), "spring-partners");
        assert_eq!(draft.commission, CommissionRule::Percent(Rate::parse_percent("10").expect("rate")));
        assert_eq!(draft.cookie_days, 30);
    }

    #[test]
    fn an_affiliate_override_wins_over_the_campaign_rule() {
        let stored = StoredRule {
            kind: "percent",
            bps: Some(1000),
            minor: None,
            currency: "USD",
            override_bps: None,
            override_minor: None,
        };
        assert_eq!(CommissionRule::in_force(stored).map(|r| r.describe()), Some("10% of each order".into()));
        let bumped = StoredRule { override_bps: Some(1500), ..stored };
        assert_eq!(CommissionRule::in_force(bumped).map(|r| r.describe()), Some("15% of each order".into()));
        let flat = StoredRule { override_minor: Some(250), ..stored };
        assert_eq!(CommissionRule::in_force(flat).map(|r| r.describe()), Some("2.50 USD per order".into()));
        assert_eq!(CommissionRule::in_force(StoredRule { bps: Some(0), ..stored }), None);
    }

    #[test]
    fn flat_commission_uses_the_currency() {
        let form = CampaignForm {
            commission_kind: "flat".into(),
            commission_amount: "5".into(),
            currency: "eur".into(),
            ..valid()
        };
        let draft = form.parse().expect("valid");
        assert_eq!(draft.commission.describe(), "5.00 EUR per order");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let form = CampaignForm {
            name: " ".into(),
            pitch: String::new(),
            terms: String::new(),
            commission_rate: "150".into(),
            cookie_days: "0".into(),
            destination_url: "shop.example.com".into(),
            hold_days: "-1".into(),
            attribution: "middle".into(),
            currency: "XXX".into(),
            ..CampaignForm::default()
        };
        let errors = form.parse().expect_err("invalid form");
        for field in [
            "name",
            "pitch",
            "terms",
            "commission_rate",
            "cookie_days",
            "destination_url",
            "currency",
            "hold_days",
            "attribution",
        ] {
            assert!(errors.get(field).is_some(), "no error for {field}: {errors:?}");
        }
    }
}
