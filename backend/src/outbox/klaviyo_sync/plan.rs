//! The sync's rules, free of I/O: what to write for an affiliate, what to do given what Klaviyo
//! already holds (NOTES §9: never regress consent), and when to look or try again.

use crate::klaviyo::wire::{ProfileFields, ProfileState};
use crate::store::sync::ClaimedSync;
use rand::Rng;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shared::domain::campaign::{CommissionRule, StoredRule};
use shared::domain::AffiliateState;
use std::time::Duration;

/// Custom properties Rekomi owns on a profile.
pub const PROPERTY_AFFILIATE: &str = "Rekomi affiliate";
pub const PROPERTY_CAMPAIGN: &str = "Rekomi campaign";
pub const PROPERTY_CODE: &str = "Rekomi referral code";
pub const PROPERTY_LINK: &str = "Rekomi referral link";
pub const PROPERTY_STATUS: &str = "Rekomi status";
pub const PROPERTY_PORTAL: &str = "Rekomi portal";
pub const PROPERTY_COMMISSION: &str = "Rekomi commission";
pub const PROPERTY_APPROVED_AT: &str = "Rekomi approved at";
pub const PROPERTY_DISCOUNT_CODE: &str = "Rekomi discount code";
pub const PROPERTY_DISCOUNT_LINK: &str = "Rekomi discount link";
/// Every property Rekomi writes, for an erasure to unset.
pub const PROPERTIES: [&str; 10] = [
    PROPERTY_DISCOUNT_CODE,
    PROPERTY_DISCOUNT_LINK,
    PROPERTY_AFFILIATE,
    PROPERTY_CAMPAIGN,
    PROPERTY_CODE,
    PROPERTY_LINK,
    PROPERTY_STATUS,
    PROPERTY_PORTAL,
    PROPERTY_COMMISSION,
    PROPERTY_APPROVED_AT,
];

/// Shown in Klaviyo as where the consent came from.
pub const CUSTOM_SOURCE: &str = "Rekomi affiliate program";

/// Names and properties for profile-import. Empty values are left out so Klaviyo keeps its own.
/// `Rekomi affiliate` and `Rekomi status` follow the affiliate's state, so a flow can filter on them.
/// `public_base` is this instance's public address: the referral link is Rekomi's tracked `/r/CODE`
/// (the click is counted, then the visitor goes on to the shop) and the portal link its sign-in page.
pub fn profile_fields(row: &ClaimedSync, public_base: &str, now: i64) -> ProfileFields {
    let mut properties = Map::new();
    let active = row.affiliate_state == AffiliateState::Approved;
    properties.insert(PROPERTY_AFFILIATE.into(), Value::Bool(active));
    let status = match row.affiliate_state {
        AffiliateState::Approved => "active",
        AffiliateState::Banned => "banned",
        _ => "disabled",
    };
    properties.insert(PROPERTY_STATUS.into(), Value::String(status.into()));
    let present = |v: &str| !v.trim().is_empty();
    if present(&row.campaign_name) {
        properties.insert(PROPERTY_CAMPAIGN.into(), Value::String(row.campaign_name.trim().to_owned()));
    }
    if let Some(code) = row.referral_code.as_deref().filter(|c| present(c)) {
        properties.insert(PROPERTY_CODE.into(), Value::String(code.to_owned()));
        // The redirect needs the shop's address to send the visitor on to.
        if row.destination_url.as_deref().is_some_and(present) {
            properties.insert(PROPERTY_LINK.into(), Value::String(format!("{public_base}/r/{code}")));
        }
    }
    if let Some(coupon) = row.coupon_code.as_deref().filter(|c| present(c)) {
        properties.insert(PROPERTY_DISCOUNT_CODE.into(), Value::String(coupon.to_owned()));
        if let (Some(shop), Some(code)) = (row.shop_domain.as_deref(), row.referral_code.as_deref()) {
            let link = shared::domain::discount::share_link(shop, coupon, code);
            properties.insert(PROPERTY_DISCOUNT_LINK.into(), Value::String(link));
        }
    }
    properties.insert(PROPERTY_PORTAL.into(), Value::String(format!("{public_base}/portal/{}", row.merchant_slug)));
    let rule = |overridden: bool| {
        CommissionRule::in_force(StoredRule {
            kind: &row.commission_kind,
            bps: row.commission_bps,
            minor: row.commission_minor,
            currency: &row.currency,
            override_bps: row.rate_bps.filter(|_| overridden),
            override_minor: row.rate_minor.filter(|_| overridden),
        })
    };
    let override_live = row.rate_expires_at.is_none_or(|until| now < until);
    if let Some(rule) = rule(override_live) {
        properties.insert(PROPERTY_COMMISSION.into(), Value::String(rule.describe()));
    }
    if let Some(at) = row.decided_at.filter(|_| active) {
        properties.insert(PROPERTY_APPROVED_AT.into(), Value::String(iso_date(at)));
    }
    ProfileFields {
        email: row.email.clone(),
        first_name: Some(row.first_name.clone()).filter(|n| present(n)),
        last_name: row.last_name.clone().filter(|n| present(n)),
        properties,
    }
}

/// "2026-12-07", the form Klaviyo reads as a date property (flows can then wait on it).
fn iso_date(ms: i64) -> String {
    shared::domain::clock::format_utc(ms).chars().take(10).collect()
}

/// Identifies what was last written, so a re-sync with nothing new sends nothing.
pub fn fields_hash(fields: &ProfileFields) -> String {
    let json = serde_json::to_vec(&fields.attributes()).unwrap_or_default();
    hex::encode(Sha256::digest(json))
}

/// What to do about consent and list membership for one affiliate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Subscribed and in the list already: nothing to send.
    AlreadyIn,
    /// Subscribed, not in the list: add the existing profile (consent untouched).
    AddToList { profile_id: String },
    /// Send the subscribe job with `SUBSCRIBED`.
    Subscribe,
    /// Never subscribe: the reason is shown to the merchant.
    Blocked(String),
}

/// Suppressions the subscribe job would lift: an opt-out Rekomi must respect.
const OPT_OUTS: [&str; 3] = ["UNSUBSCRIBE", "SPAM_REPORT", "USER_SUPPRESSED"];

/// Decides from the affiliate's consent record and what Klaviyo holds (`existing`, `in_list`).
pub fn step(consented: bool, existing: Option<&ProfileState>, in_list: bool) -> Step {
    if !consented {
        return Step::Blocked(
            "No consent recorded: the affiliate did not accept the program terms, so their profile was written \
             without an email subscription."
                .into(),
        );
    }
    let Some(profile) = existing else { return Step::Subscribe };
    if let Some(reason) = opted_out(profile) {
        return Step::Blocked(reason);
    }
    if profile.consent.as_deref() == Some("SUBSCRIBED") {
        return if in_list { Step::AlreadyIn } else { Step::AddToList { profile_id: profile.id.clone() } };
    }
    Step::Subscribe
}

/// Why Klaviyo must not (or cannot) email this profile, if so.
pub fn opted_out(profile: &ProfileState) -> Option<String> {
    if let Some(s) = profile.suppressions.iter().find(|s| OPT_OUTS.contains(&s.as_str())) {
        return Some(format!(
            "Opted out in Klaviyo ({s}). Rekomi never re-subscribes someone without fresh consent; the profile's \
             names and properties were still updated."
        ));
    }
    if profile.consent.as_deref() == Some("UNSUBSCRIBED") {
        return Some(
            "Unsubscribed in Klaviyo. Rekomi never re-subscribes someone without fresh consent; the profile's names \
             and properties were still updated."
                .into(),
        );
    }
    if let Some(s) = profile.suppressions.first() {
        return Some(format!("Klaviyo can't email this address ({s}), so it was not subscribed."));
    }
    None
}

/// The row a JSON pointer like `/data/attributes/profiles/data/3/attributes/email` names.
pub fn bad_row(pointer: Option<&str>) -> Option<usize> {
    let rest = pointer?.strip_prefix("/data/attributes/profiles/data/")?;
    rest.split('/').next()?.parse().ok()
}

/// Read-backs come quickly at first (a single approval should show as done within seconds), then
/// back off: Klaviyo does not say how long its jobs take.
pub fn check_delay(checks: i64) -> Duration {
    let ms = match checks {
        ..=2 => 1_000,
        3..=4 => 2_000,
        5 => 5_000,
        6 => 10_000,
        _ => 30_000,
    };
    Duration::from_millis(ms)
}

/// Exponential backoff with full jitter (a random wait up to 2^attempt seconds, capped at five
/// minutes), or Klaviyo's `Retry-After` when it said, whichever is longer.
pub fn retry_delay(attempt: i64, retry_after: Option<Duration>) -> Duration {
    let exp = u32::try_from(attempt.clamp(0, 16)).unwrap_or(16);
    let cap = Duration::from_secs(1u64 << exp).min(Duration::from_secs(300));
    let jitter = rand::thread_rng().gen_range(0..=u64::try_from(cap.as_millis()).unwrap_or(300_000));
    let backoff = Duration::from_millis(jitter.max(200));
    retry_after.map_or(backoff, |wait| wait.max(backoff))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(consent: &str, suppressions: &[&str]) -> ProfileState {
        ProfileState {
            id: "01P".into(),
            email: "ana@example.com".into(),
            consent: Some(consent.into()),
            can_receive_email_marketing: Some(suppressions.is_empty()),
            suppressions: suppressions.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn resync_sends_nothing_for_a_subscribed_member_and_only_adds_a_subscribed_outsider() {
        let subscribed = profile("SUBSCRIBED", &[]);
        assert_eq!(step(true, Some(&subscribed), true), Step::AlreadyIn);
        assert_eq!(step(true, Some(&subscribed), false), Step::AddToList { profile_id: "01P".into() });
        assert_eq!(step(true, None, false), Step::Subscribe);
        assert_eq!(step(true, Some(&profile("NEVER_SUBSCRIBED", &[])), false), Step::Subscribe);
    }

    #[test]
    fn never_regresses_an_opt_out_or_subscribes_without_consent() {
        for p in [
            profile("UNSUBSCRIBED", &["UNSUBSCRIBE"]),
            profile("UNSUBSCRIBED", &[]),
            profile("SUBSCRIBED", &["USER_SUPPRESSED"]),
        ] {
            assert!(matches!(step(true, Some(&p), false), Step::Blocked(_)), "{p:?}");
        }
        assert!(
            matches!(step(true, Some(&profile("SUBSCRIBED", &["HARD_BOUNCE"])), true), Step::Blocked(r) if r.contains("HARD_BOUNCE"))
        );
        assert!(matches!(step(false, None, false), Step::Blocked(r) if r.contains("No consent")));
    }

    #[test]
    fn finds_the_row_a_pointer_names() {
        assert_eq!(bad_row(Some("/data/attributes/profiles/data/12/attributes/email")), Some(12));
        assert_eq!(bad_row(Some("/data/attributes/email")), None);
        assert_eq!(bad_row(None), None);
    }

    #[test]
    fn backoff_is_jittered_under_a_growing_cap_and_respects_retry_after() {
        for attempt in 0..20 {
            let d = retry_delay(attempt, None);
            assert!(d <= Duration::from_secs(300));
            assert!(d >= Duration::from_millis(200));
        }
        assert!(retry_delay(0, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }

    #[test]
    fn dates_are_written_the_way_klaviyo_reads_them() {
        assert_eq!(iso_date(1_796_601_600_000), "2026-12-07");
    }
}
