//! Every lifecycle event Rekomi sends into Klaviyo and every topic of its outgoing webhooks, named
//! and documented in one place: the settings page lists these, the README quotes them, and the
//! server queues them by these names only.

use serde::{Deserialize, Serialize};

/// A Klaviyo metric Rekomi creates events on (NOTES §7). Each event carries a `unique_id`, so a
/// retried send counts once; amounts are decimal numbers in the currency named beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    VerifyEmail,
    LoginLink,
    Applied,
    Approved,
    Disabled,
    Banned,
    Invited,
    CommissionEarned,
    CommissionApproved,
    PayoutSent,
    RateChanged,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Self::VerifyEmail,
        Self::LoginLink,
        Self::Applied,
        Self::Approved,
        Self::Disabled,
        Self::Banned,
        Self::Invited,
        Self::CommissionEarned,
        Self::CommissionApproved,
        Self::PayoutSent,
        Self::RateChanged,
    ];

    /// The metric name as it appears in Klaviyo (and in flow triggers).
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "Rekomi Affiliate Verify Email",
            Self::LoginLink => "Rekomi Affiliate Login Link",
            Self::Applied => "Rekomi Affiliate Applied",
            Self::Approved => "Rekomi Affiliate Approved",
            Self::Disabled => "Rekomi Affiliate Disabled",
            Self::Banned => "Rekomi Affiliate Banned",
            Self::Invited => "Rekomi Affiliate Invited",
            Self::CommissionEarned => "Rekomi Commission Earned",
            Self::CommissionApproved => "Rekomi Commission Approved",
            Self::PayoutSent => "Rekomi Payout Sent",
            Self::RateChanged => "Rekomi Rate Changed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// When it fires and what it carries, for the settings page and the README.
    pub fn description(self) -> &'static str {
        match self {
            Self::VerifyEmail => {
                "Someone applies on your landing page: your flow emails verify_url, and nothing else about them reaches Klaviyo until they open it. Properties: verify_url, campaign, first_name, expires_at."
            }
            Self::LoginLink => {
                "An affiliate asks for a sign-in link on the portal, or you create one on their page. Properties: login_url, merchant, first_name, expires_at, expires_in_minutes."
            }
            Self::Applied => {
                "An applicant confirmed their email, or accepted an invite. Properties: campaign, source, first_name."
            }
            Self::Approved => {
                "An affiliate is approved (by you, in bulk, or by auto-approve). Properties: campaign, referral_code, link, first_name."
            }
            Self::Disabled => {
                "You disable an affiliate: they leave your program's list (their consent stays as it is), their link and coupon stop earning. Use it to stop affiliate flows. Properties: campaign, referral_code, reason."
            }
            Self::Banned => {
                "You ban an affiliate: as for a disable, and their email can't apply again. Use it to stop affiliate flows for good. Properties: campaign, referral_code."
            }
            Self::Invited => {
                "You invite someone (bulk invite or the API). Properties: invite_url, campaign, expires_at; your flow emails the link."
            }
            Self::CommissionEarned => {
                "An attributed order earns a commission. Properties: campaign, order, amount, currency, state (pending or held)."
            }
            Self::CommissionApproved => {
                "A commission's hold period ends and it can be paid. Properties: campaign, order, amount, currency."
            }
            Self::PayoutSent => {
                "A payout run is marked paid. Properties: amount, currency, reference, commissions (lines paid)."
            }
            Self::RateChanged => {
                "An affiliate's commission rate changes (the API's rate bump or your edit). Properties: rate, percent or flat_amount, currency, expires_at, reason."
            }
        }
    }

    /// The flow that turns the event into a message, in one line: Rekomi sends no email itself, so
    /// whatever a page says "is emailed" is emailed by this flow in the merchant's Klaviyo.
    pub fn recipe(self) -> &'static str {
        match self {
            Self::VerifyEmail => "Flow triggered by this metric → email with a button to {{ event.verify_url }}.",
            Self::LoginLink => "Flow triggered by this metric → email with a button to {{ event.login_url }}.",
            Self::Applied => "Flow triggered by this metric → \"we got your application\" email.",
            Self::Approved => {
                "Flow triggered by this metric → welcome email with {{ event.link }} and {{ event.referral_code }}."
            }
            Self::Disabled => "Use as a flow filter or exit condition: affiliate flows stop for this person.",
            Self::Banned => "Use as a flow filter or exit condition: affiliate flows stop for this person.",
            Self::Invited => {
                "Flow triggered by this metric → invitation email with a button to {{ event.invite_url }}."
            }
            Self::CommissionEarned => {
                "Flow triggered by this metric → \"you earned {{ event.amount }} {{ event.currency }}\" email."
            }
            Self::CommissionApproved => {
                "Flow triggered by this metric → \"your commission is ready to be paid\" email."
            }
            Self::PayoutSent => "Flow triggered by this metric → payout receipt with {{ event.reference }}.",
            Self::RateChanged => "Flow triggered by this metric → \"your rate is now {{ event.rate }}\" email.",
        }
    }

    /// Events that are the product itself and can't be switched off without breaking a feature:
    /// the invite, the address check of an application and the portal's sign-in link are
    /// delivered by these.
    pub fn always_on(self) -> bool {
        matches!(self, Self::Invited | Self::VerifyEmail | Self::LoginLink)
    }
}

/// A topic of the merchant's outgoing webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    AffiliateApproved,
    AffiliateDisabled,
    AffiliateBanned,
    AffiliateEnabled,
    CommissionCreated,
    CommissionVoided,
    PayoutPaid,
}

impl Topic {
    pub const ALL: [Topic; 7] = [
        Self::AffiliateApproved,
        Self::AffiliateDisabled,
        Self::AffiliateBanned,
        Self::AffiliateEnabled,
        Self::CommissionCreated,
        Self::CommissionVoided,
        Self::PayoutPaid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::AffiliateApproved => "affiliate.approved",
            Self::AffiliateDisabled => "affiliate.disabled",
            Self::AffiliateBanned => "affiliate.banned",
            Self::AffiliateEnabled => "affiliate.enabled",
            Self::CommissionCreated => "commission.created",
            Self::CommissionVoided => "commission.voided",
            Self::PayoutPaid => "payout.paid",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name.trim())
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::AffiliateApproved => "An affiliate is approved: id, email, name, campaign, referral_code.",
            Self::AffiliateDisabled => "An affiliate is disabled: id, email, name, campaign, referral_code, reason.",
            Self::AffiliateBanned => "An affiliate is banned: id, email, name, campaign, referral_code, reason.",
            Self::AffiliateEnabled => {
                "A disabled or banned affiliate is enabled again: id, email, name, campaign, referral_code."
            }
            Self::CommissionCreated => {
                "An attributed order earns a commission: id, affiliate, order, amount, currency, state."
            }
            Self::CommissionVoided => {
                "A commission is voided (refunded in full, or a held one you voided): id, affiliate, order."
            }
            Self::PayoutPaid => "A payout is marked paid: id, affiliate, amount, currency, reference.",
        }
    }
}

/// The header a delivery's signature travels in: `t=<unix seconds>,v1=<hex HMAC-SHA256>` of
/// `"{t}.{raw body}"` under the endpoint's secret.
pub const SIGNATURE_HEADER: &str = "Rekomi-Signature";

/// Parses a comma-separated topic list, refusing unknown names by name.
pub fn parse_topics(raw: &[String]) -> Result<Vec<Topic>, String> {
    let mut topics = Vec::new();
    for name in raw {
        let topic = Topic::parse(name).ok_or_else(|| {
            format!(
                "\"{name}\" is not a webhook topic; use {}.",
                Topic::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
            )
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        return Err("Pick at least one topic.".into());
    }
    Ok(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
            assert!(m.name().starts_with("Rekomi "));
        }
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.name()), Some(t));
        }
        assert_eq!(Metric::parse("Rekomi Payout Sent"), Some(Metric::PayoutSent));
    }

    #[test]
    fn topics_parse_with_a_clear_error() {
        let ok = parse_topics(&["payout.paid".into(), "payout.paid".into(), " commission.created".into()]);
        assert_eq!(ok, Ok(vec![Topic::PayoutPaid, Topic::CommissionCreated]));
        let err = parse_topics(&["payout.sent".into()]).expect_err("unknown topic");
        assert!(err.contains("\"payout.sent\" is not a webhook topic"), "{err}");
        assert!(parse_topics(&[]).is_err());
    }
}
