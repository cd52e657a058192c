//! What the merchant app receives: plain data, no secrets, no row types.

use crate::domain::campaign::CommissionRule;
use crate::domain::{AffiliateId, AffiliateState, CampaignForm, CampaignId, MerchantId};
use serde::{Deserialize, Serialize};

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub merchant_id: MerchantId,
    pub merchant_name: String,
    pub merchant_slug: String,
    pub user_email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignView {
    pub id: CampaignId,
    pub name: String,
    pub slug: String,
    pub pitch: String,
    pub terms: String,
    pub terms_version: i64,
    pub commission: CommissionRule,
    pub currency: String,
    pub cookie_days: u16,
    pub destination_url: Option<String>,
    pub auto_approve: bool,
    pub accepting: bool,
    /// Path of the public landing page, e.g. `/join/ana-shop/spring`.
    pub landing_path: String,
    pub pending: i64,
    pub approved: i64,
}

impl CampaignView {
    /// The form pre-filled with this campaign, for editing.
    pub fn to_form(&self) -> CampaignForm {
        let (kind, rate, amount) = match &self.commission {
            CommissionRule::Percent(rate) => ("percent", rate.percent(), String::new()),
            CommissionRule::Flat(money) => ("flat", String::new(), money.decimal()),
        };
        CampaignForm {
            name: self.name.clone(),
            slug: self.slug.clone(),
            pitch: self.pitch.clone(),
            terms: self.terms.clone(),
            commission_kind: kind.into(),
            commission_rate: rate,
            commission_amount: amount,
            currency: self.currency.clone(),
            cookie_days: self.cookie_days.to_string(),
            destination_url: self.destination_url.clone().unwrap_or_default(),
            auto_approve: self.auto_approve,
            accepting: self.accepting,
        }
    }
}

/// One row of the approval queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub id: AffiliateId,
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub full_name: String,
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: String,
    pub website: Option<String>,
    pub message: Option<String>,
    pub state: AffiliateState,
    pub referral_code: Option<String>,
    pub source: String,
    pub applied_at: i64,
    pub consent_terms_version: Option<i64>,
    pub consent_at: Option<i64>,
    pub decided_at: Option<i64>,
    /// Who made the last decision: a user's email, or "auto-approve".
    pub decided_by: Option<String>,
}

/// Filters of the approval queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueFilter {
    pub state: Option<AffiliateState>,
    pub campaign: Option<CampaignId>,
    /// Matches email or name, case-insensitively.
    pub search: String,
    /// Zero-based page.
    pub page: u32,
}

pub const QUEUE_PAGE_SIZE: u32 = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub pending: i64,
    pub approved: i64,
    pub rejected: i64,
    pub disabled: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    pub items: Vec<ApplicationView>,
    /// Rows matching the filter, over all pages.
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    /// Per-state counts for the merchant (ignoring the state filter), for the tabs.
    pub counts: StateCounts,
}

/// What a (bulk) decision did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionOutcome {
    pub changed: Vec<ApplicationView>,
    /// Ids left as they were, with why (already in that state, not found).
    pub skipped: Vec<(AffiliateId, String)>,
}
