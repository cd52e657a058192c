//! Affiliates: their life-cycle state, the public application form, and referral codes.

use super::email::Email;
use super::person_name::PersonName;
use super::text::clean;
use super::FieldErrors;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const MAX_WEBSITE: usize = 300;
pub const MAX_MESSAGE: usize = 2_000;

/// Where an affiliate is in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AffiliateState {
    Pending,
    Approved,
    Rejected,
    Disabled,
    /// Taken out for good, with a reason; their email (and optionally address) can't apply again.
    Banned,
}

impl AffiliateState {
    pub const ALL: [Self; 5] = [Self::Pending, Self::Approved, Self::Rejected, Self::Disabled, Self::Banned];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Disabled => "disabled",
            Self::Banned => "banned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Approved => "Approved",
            Self::Rejected => "Rejected",
            Self::Disabled => "Disabled",
            Self::Banned => "Banned",
        }
    }

    /// Out of the program after being in it (disabled or banned): their link and coupon don't earn,
    /// pending money is held, and their Klaviyo profile leaves the list.
    pub fn is_out(self) -> bool {
        matches!(self, Self::Disabled | Self::Banned)
    }

    /// Whether accepting an invite records the consent of an affiliate in this state: not of one the
    /// merchant decided against (rejected or disabled), who stays out whatever the invite said.
    pub fn takes_invite_consent(self) -> bool {
        !matches!(self, Self::Rejected | Self::Disabled | Self::Banned)
    }
}

/// What a merchant does to an affiliate: decide an application in the queue, take an approved
/// affiliate out of the program for a while (disable) or for good (ban), and back (enable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
    Disable,
    Enable,
    Ban,
}

impl Decision {
    pub fn target(&self) -> AffiliateState {
        match self {
            Self::Approve | Self::Enable => AffiliateState::Approved,
            Self::Reject => AffiliateState::Rejected,
            Self::Disable => AffiliateState::Disabled,
            Self::Ban => AffiliateState::Banned,
        }
    }

    /// Whether this decision applies to an affiliate in `from`: a pending application is approved
    /// or rejected, a rejected one may still be approved, an approved affiliate is disabled and a
    /// disabled one enabled; anyone can be banned, and a ban is lifted by enabling. Nobody is
    /// decided back to pending.
    pub fn applies_to(self, from: AffiliateState) -> bool {
        use AffiliateState::*;
        match self {
            Self::Approve => matches!(from, Pending | Rejected),
            Self::Reject => from == Pending,
            Self::Disable => from == Approved,
            Self::Enable => matches!(from, Disabled | Banned),
            Self::Ban => from != Banned,
        }
    }

    /// The word in the audit log and in messages ("3 affiliates disabled").
    pub fn done(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::Disable => "disabled",
            Self::Enable => "enabled",
            Self::Ban => "banned",
        }
    }
}

/// Why a merchant disabled (optional) or banned (required) an affiliate: kept in the audit log, at
/// most this long.
pub const MAX_DECISION_NOTE: usize = 500;

/// The public application form exactly as posted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationForm {
    pub name: String,
    pub email: String,
    pub website: String,
    pub message: String,
    /// "on" when the terms checkbox was ticked (HTML sends nothing otherwise).
    pub accept_terms: Option<String>,
    /// The terms version the page showed; consent is only for that version.
    pub terms_version: String,
    /// Honeypot: hidden from people, filled in by bots. Named so no browser autofill rule matches it
    /// (autofill ignores `autocomplete="off"` and would fill a field called "company"), which would
    /// silently drop real applicants.
    pub rk_trap: String,
    /// The signed invite token when the form was opened from an invite link.
    pub invite: String,
    /// Answers to the campaign's own questions, by field (`q{id}`, see `Question::field`); any
    /// other field posted lands here too and is ignored.
    #[serde(flatten)]
    pub answers: std::collections::BTreeMap<String, String>,
}

/// An application that passed every check; the applicant accepted the terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub name: PersonName,
    pub email: Email,
    pub website: Option<String>,
    pub message: Option<String>,
}

impl ApplicationForm {
    /// True when the hidden honeypot field was filled in: a bot, to be thanked and ignored.
    pub fn is_bot(&self) -> bool {
        !self.rk_trap.trim().is_empty()
    }

    pub fn parse(&self) -> Result<Application, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", PersonName::parse(&self.name));
        let email = errors.check("email", Email::parse(&self.email));
        let website = errors.check("website", clean(&self.website, MAX_WEBSITE, false));
        let message = errors.check("message", clean(&self.message, MAX_MESSAGE, true));
        if self.accept_terms.as_deref().is_none_or(|v| v.is_empty()) {
            errors.add("accept_terms", "Please read and accept the program terms to apply.");
        }
        match (name, email, website, message) {
            (Some(name), Some(email), Some(website), Some(message)) if errors.is_empty() => {
                Ok(Application { name, email, website, message })
            }
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReferralCodeError {
    #[error("A referral code has 2 to 64 letters, digits, hyphens or underscores.")]
    Shape,
}

/// The code in an affiliate's links: unique per merchant, URL-safe, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReferralCode(String);

impl ReferralCode {
    pub fn parse(raw: &str) -> Result<Self, ReferralCodeError> {
        let code = raw.trim();
        let ok =
            (2..=64).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(ReferralCodeError::Shape)
        }
    }

    /// A readable code from the affiliate's first name plus a random suffix ("ana-7k2q").
    /// `suffix` comes from the caller's random source so this stays pure.
    pub fn generate(first_name: &str, suffix: &str) -> Self {
        let stem = super::slug::Slug::from_name(first_name)
            .map(|s| s.as_str().chars().take(12).collect::<String>())
            .map(|s| s.trim_end_matches('-').to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "ref".to_owned());
        let suffix: String =
            suffix.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
        Self(format!("{stem}-{suffix}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReferralCode {
    type Error = ReferralCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ReferralCode> for String {
    fn from(value: ReferralCode) -> Self {
        value.0
    }
}

impl std::fmt::Display for ReferralCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ApplicationForm {
        ApplicationForm {
            name: "Ana van der Berg".into(),
            email: "Ana@Example.com".into(),
            accept_terms: Some("on".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_parses() {
        let app = form().parse().expect("valid");
        assert_eq!(app.email.as_str(), "ana@example.com");
        assert_eq!(app.name.last(), Some("van der Berg"));
        assert_eq!(app.website, None);
    }

    #[test]
    fn terms_must_be_accepted() {
        let errors = ApplicationForm { accept_terms: None, ..form() }.parse().expect_err("no consent");
        assert_eq!(errors.get("accept_terms"), Some("Please read and accept the program terms to apply."));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors =
            ApplicationForm { name: " ".into(), email: "nope".into(), accept_terms: None, ..Default::default() }
                .parse()
                .expect_err("invalid");
        assert!(errors.get("name").is_some() && errors.get("email").is_some() && errors.get("accept_terms").is_some());
    }

    #[test]
    fn honeypot_marks_bots() {
        assert!(ApplicationForm { rk_trap: "http://spam".into(), ..form() }.is_bot());
        assert!(!form().is_bot());
    }

    #[test]
    fn each_decision_applies_only_where_it_makes_sense() {
        use AffiliateState::*;
        let allowed = |d: Decision| AffiliateState::ALL.into_iter().filter(|s| d.applies_to(*s)).collect::<Vec<_>>();
        assert_eq!(allowed(Decision::Approve), vec![Pending, Rejected]);
        assert_eq!(allowed(Decision::Reject), vec![Pending]);
        assert_eq!(allowed(Decision::Disable), vec![Approved]);
        assert_eq!(allowed(Decision::Enable), vec![Disabled, Banned]);
        assert_eq!(allowed(Decision::Ban), vec![Pending, Approved, Rejected, Disabled]);
        assert_eq!(Decision::Enable.target(), Approved);
        for d in [Decision::Approve, Decision::Reject, Decision::Disable, Decision::Enable, Decision::Ban] {
            assert_ne!(d.target(), Pending, "nobody is decided back to pending");
            assert!(!d.applies_to(d.target()), "{d:?} never applies to the state it leads to");
        }
    }

    #[test]
    fn an_invite_records_no_consent_for_affiliates_decided_against() {
        use AffiliateState::*;
        assert!(Pending.takes_invite_consent());
        assert!(Approved.takes_invite_consent());
        assert!(!Rejected.takes_invite_consent());
        assert!(!Disabled.takes_invite_consent());
        assert!(!Banned.takes_invite_consent());
    }

    #[test]
    fn generated_codes_are_url_safe() {
        let code = ReferralCode::generate("Zoë-Anne Smith", "K7Q2");
        assert_eq!(code.as_str(), "zoe-anne-smi-k7q2");
        assert!(ReferralCode::parse(code.as_str()).is_ok());
        assert_eq!(ReferralCode::generate("山田", "ab12").as_str(), "ref-ab12");
        assert!(ReferralCode::parse("a b").is_err());
    }
}
