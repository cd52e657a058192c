//! What the merchant app receives: plain data, no secrets, no row types.

use crate::domain::campaign::CommissionRule;
use crate::domain::klaviyo::{OptIn, ScopeCheck};
use crate::domain::{AffiliateId, AffiliateState, CampaignForm, CampaignId, Drift, MerchantId, SyncState};
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
    pub attribution: crate::domain::tracking::Attribution,
    pub hold_days: u16,
    /// The smallest balance paid out, in minor units of `currency` (0: any).
    pub min_payout_minor: i64,
    pub destination_url: Option<String>,
    pub auto_approve: bool,
    pub accepting: bool,
    /// Path of the public landing page, e.g. `/join/ana-shop/spring`.
    pub landing_path: String,
    pub pending: i64,
    pub approved: i64,
    /// The campaign's own Klaviyo list; `None` uses the merchant's default list.
    pub klaviyo_list: Option<ChosenList>,
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
            attribution: self.attribution.as_str().into(),
            hold_days: self.hold_days.to_string(),
            min_payout: match crate::domain::Currency::parse(&self.currency) {
                Ok(c) if self.min_payout_minor > 0 => crate::domain::Money::new(self.min_payout_minor, c).decimal(),
                _ => String::new(),
            },
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
    /// When the person's data was erased (a data-protection request); the row is a pseudonym since.
    pub erased_at: Option<i64>,
    /// Whether the applicant confirmed their email (or the merchant did, or an invite or import
    /// proved it); until then nothing about them reaches Klaviyo.
    pub email_verified: bool,
    /// The Klaviyo sync of this affiliate, once one was queued.
    pub sync: Option<SyncView>,
    /// Answers to the campaign's own questions: (question as asked, answer), in the asked order.
    #[serde(default)]
    pub answers: Vec<(String, String)>,
}

/// Filters of the approval queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueFilter {
    pub state: Option<AffiliateState>,
    pub campaign: Option<CampaignId>,
    /// Matches email or name, case-insensitively.
    pub search: String,
    /// Only affiliates whose consent or membership changed in Klaviyo.
    pub drift: bool,
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
    pub banned: i64,
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

/// The Klaviyo account a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KlaviyoAccountView {
    pub id: String,
    pub name: String,
    pub test_account: bool,
}

/// A list chosen for sync, as last checked in Klaviyo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenList {
    pub id: String,
    pub name: String,
    pub opt_in: OptIn,
    /// Klaviyo no longer has this list (deleted there).
    pub missing: bool,
}

/// A saved connection. The key itself never leaves the server: only its hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// `pk_…` and the last four characters.
    pub key_hint: String,
    pub account: KlaviyoAccountView,
    pub checks: Vec<ScopeCheck>,
    pub verified_at: i64,
    pub default_list: Option<ChosenList>,
    /// Set when Klaviyo stopped accepting the saved key (revoked, or a permission removed).
    pub key_problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KlaviyoOverview {
    pub connection: Option<ConnectionView>,
    /// The account of the last connection, kept after a disconnect.
    pub previous_account: Option<KlaviyoAccountView>,
}

/// One list in the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KlaviyoListView {
    pub id: String,
    pub name: String,
    pub opt_in: OptIn,
}

/// What "Test connection" found. Only `Connected` saved the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectOutcome {
    Connected(ConnectionView),
    /// The key works but lacks permissions; `message` names each as Klaviyo's key screen does.
    MissingScopes {
        message: String,
        checks: Vec<ScopeCheck>,
        account: Option<KlaviyoAccountView>,
    },
    /// The key belongs to another Klaviyo account than the last one; connect again with
    /// `confirm_account_id` set to `new.id` to switch (the chosen lists are then cleared).
    OtherAccount {
        previous: KlaviyoAccountView,
        new: KlaviyoAccountView,
    },
}

/// Where one affiliate's Klaviyo sync stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncView {
    pub affiliate_id: AffiliateId,
    pub list_id: String,
    pub state: SyncState,
    /// Why it is retrying, failed or not subscribed.
    pub reason: Option<String>,
    /// When the next attempt or check is due (unix ms), while one is.
    pub next_at: Option<i64>,
    pub attempts: i64,
    pub updated_at: i64,
    /// The affiliate is disabled: this sync takes them out of the list instead of adding them.
    pub leaving: bool,
    /// What changed in Klaviyo since Rekomi last made it true, and when Rekomi noticed.
    pub drift: Option<Drift>,
    pub drift_at: Option<i64>,
    /// When Klaviyo's state was last read back by the daily check.
    pub checked_at: Option<i64>,
    /// A sync to a list the affiliate's campaign no longer uses, retired when they were moved.
    pub retired: bool,
}

/// Approved affiliates still synced to a list their campaign no longer uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMove {
    pub from_list: String,
    pub to_list: String,
    pub affiliates: i64,
}

/// What a move queued: affiliates joining their current list, syncs taking people out of old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveOutcome {
    pub moved: u64,
    pub leaving: u64,
}

impl SyncView {
    /// What the merchant reads: a finished sync of a disabled affiliate took them out.
    pub fn label(&self) -> &'static str {
        if let (Some(drift), false) = (self.drift, self.leaving) {
            return drift.label();
        }
        match (self.leaving, self.state) {
            (true, SyncState::Succeeded) => "Out of the list",
            (true, SyncState::Verifying | SyncState::Sending | SyncState::Queued) => "Leaving the list",
            (_, state) => state.label(),
        }
    }
}

/// One Klaviyo call made for an affiliate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogEntry {
    pub at: i64,
    /// `POST /api/profile-import` and the like.
    pub endpoint: String,
    /// The HTTP status; `None` when no answer came.
    pub status: Option<i64>,
    /// How many affiliates the call covered.
    pub batch_size: i64,
    pub error_code: Option<String>,
    pub error: Option<String>,
}

/// The sync engine at a glance, for one merchant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncHealth {
    pub connected: bool,
    /// A list is chosen (default), so approvals are synced.
    pub list_chosen: bool,
    pub queued: i64,
    /// Sending or verifying right now.
    pub in_flight: i64,
    pub retrying: i64,
    pub failed: i64,
    pub awaiting_confirmation: i64,
    pub succeeded: i64,
    pub blocked: i64,
    /// Approved affiliates with no sync yet (approved before Klaviyo was connected).
    pub unsynced: i64,
    /// Approved affiliates whose consent or membership changed in Klaviyo (unsubscribed, suppressed,
    /// removed from the list, deleted), as the last checks found.
    pub drifted: i64,
    /// When the last full check of every synced affiliate finished, and when the next one starts.
    pub checked_at: Option<i64>,
    pub next_check_at: Option<i64>,
    /// A check is running now (rows checked so far in this pass).
    pub checking: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

/// What the live feed sends: the health panel and the syncs that changed since the last message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncUpdate {
    pub health: SyncHealth,
    pub changed: Vec<SyncView>,
}

/// One entry of an affiliate's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// The merchant's reason, when they gave one.
    pub note: Option<String>,
    pub at: i64,
}

/// Everything the affiliate page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffiliateDetail {
    pub affiliate: ApplicationView,
    pub audit: Vec<AuditEntry>,
    pub syncs: Vec<SyncView>,
    /// Newest first, at most a few hundred entries.
    pub log: Vec<SyncLogEntry>,
}

/// Where an invite stands, as the merchant's list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatus {
    Sent,
    Opened,
    Accepted,
    Expired,
    Revoked,
}

impl InviteStatus {
    pub const ALL: [Self; 5] = [Self::Sent, Self::Opened, Self::Accepted, Self::Expired, Self::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Opened => "opened",
            Self::Accepted => "accepted",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "Sent",
            Self::Opened => "Opened",
            Self::Accepted => "Accepted",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }

    /// Still usable: it can be resent or revoked.
    pub fn live(self) -> bool {
        matches!(self, Self::Sent | Self::Opened)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    pub id: i64,
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub email: String,
    pub full_name: Option<String>,
    pub status: InviteStatus,
    /// The link to copy, while the invite can still be used.
    pub link: Option<String>,
    pub source: String,
    pub sends: i64,
    pub sent_at: i64,
    pub expires_at: i64,
    pub opened_at: Option<i64>,
    pub accepted_at: Option<i64>,
    /// The Klaviyo event that delivers it: `queued`, `sent`, `retrying`, `failed`, or `none` when
    /// Klaviyo was not connected (then the link is shared by hand).
    pub delivery: String,
    pub delivery_note: Option<String>,
}

/// One line of the people to invite, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRowCheck {
    pub line: u64,
    pub email: String,
    pub name: Option<String>,
    /// Why this line will not be invited; `None` means it is ready.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitePreview {
    pub rows: Vec<InviteRowCheck>,
    pub ready: u64,
    pub problems: u64,
    /// Whether Klaviyo will deliver them (connected), or the links must be shared by hand.
    pub klaviyo_connected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitesSent {
    pub sent: u64,
    /// Lines not invited, with why.
    pub skipped: Vec<InviteRowCheck>,
    pub klaviyo_connected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    pub campaign: CampaignId,
    /// One person a line: `email`, `email, name`, `name, email`, `Name <email>`, or pasted
    /// spreadsheet columns. A header line is skipped.
    pub people: String,
    /// Days until the links expire (1 to 90).
    pub expires_days: u16,
}

/// How imported affiliates consented to the program terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    /// They accepted the terms elsewhere (in Rewardful); the import is recorded as the consent.
    Elsewhere,
    /// Each one gets an invite to accept the terms; only then are they subscribed in Klaviyo.
    Ask,
}

impl ConsentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Elsewhere => "elsewhere",
            Self::Ask => "ask",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "elsewhere" => Some(Self::Elsewhere),
            "ask" => Some(Self::Ask),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportColumnView {
    pub header: String,
    /// What Rekomi reads from it; `None`: ignored.
    pub field: Option<String>,
}

/// A row that will not be imported: its line, the column (as the file names it) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportIssue {
    pub line: u64,
    pub column: String,
    pub email: Option<String>,
    pub reason: String,
}

/// What will happen (dry run) or happened to a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSample {
    pub line: u64,
    pub email: String,
    /// `create`, `update` or `unchanged`.
    pub action: String,
    pub detail: String,
}

/// The dry run of an uploaded file, or what its import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub id: i64,
    pub filename: String,
    /// Ready (dry run shown), imported, or rejected (a problem with the whole file).
    pub state: crate::domain::ImportState,
    pub file_error: Option<String>,
    pub campaign_name: String,
    pub consent_mode: ConsentMode,
    pub rows: u64,
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
    pub errors: u64,
    /// Invites to accept the terms that the import sends (consent mode "ask").
    pub invites: u64,
    pub columns: Vec<ImportColumnView>,
    pub unknown_columns: Vec<String>,
    pub issues: Vec<ImportIssue>,
    /// Issues beyond those listed.
    pub more_issues: u64,
    pub samples: Vec<ImportSample>,
    pub created_at: i64,
    pub imported_at: Option<i64>,
}

/// A line of the NDJSON stream the upload and confirm endpoints answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportProgress {
    /// `done` of `total` (bytes while checking, rows while importing).
    Progress {
        phase: String,
        done: u64,
        total: u64,
    },
    Report(Box<ImportReport>),
    Error {
        message: String,
    },
}

/// Earnings by commission state, each formatted per currency ("12.50 USD + 3.00 EUR", or "0").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningsView {
    pub pending: String,
    pub approved: String,
    pub paid: String,
    pub held: String,
}

/// One commission line as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCommission {
    pub id: i64,
    pub affiliate_id: AffiliateId,
    pub affiliate_name: String,
    /// The shop's order name ("#1001") or id.
    pub order: String,
    pub date: String,
    pub amount: String,
    pub rule: String,
    pub state: crate::domain::commission::CommissionState,
    pub state_label: String,
    pub held_reason: Option<String>,
    pub clawback: bool,
}

/// Totals for one affiliate or one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportTotals {
    pub id: i64,
    pub name: String,
    pub clicks: i64,
    pub conversions: i64,
    pub earnings: EarningsView,
}

/// One day of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyPoint {
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub clicks: i64,
    pub conversions: i64,
    pub commission_minor: i64,
}

/// What the results cover: a campaign (or all), and a range of days (UTC, both included) given as
/// dates, or as the last `days` days; nothing given means the last 30 days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportFilter {
    pub campaign: Option<CampaignId>,
    /// YYYY-MM-DD, or empty.
    pub from: String,
    pub to: String,
    pub days: Option<u32>,
}

/// The longest range the results show, in days.
pub const REPORT_MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportView {
    pub campaigns: Vec<(CampaignId, String)>,
    pub selected: Option<CampaignId>,
    /// The range shown, as resolved (YYYY-MM-DD, both included).
    pub from: String,
    pub to: String,
    /// Commission earned in the range, per currency ("120.00 USD"), every currency listed.
    pub commission_totals: Vec<String>,
    pub clicks: i64,
    pub conversions: i64,
    pub by_campaign: Vec<ReportTotals>,
    pub by_affiliate: Vec<ReportTotals>,
    pub days: Vec<DailyPoint>,
    /// The currency the commission line is charted in (the one with the most earned).
    pub chart_currency: Option<String>,
    pub chart_exponent: u8,
    pub held: Vec<ReportCommission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used: Option<String>,
    pub revoked: bool,
}

/// A token just created: the only time its value is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub token: String,
    pub view: ApiTokenView,
}

/// Everything the merchant needs to connect a shop: the snippet, the webhook address and secret,
/// and tokens for the conversion API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingSettings {
    pub snippet_tag: String,
    /// Shopify's custom pixel code, for Settings → Customer events (no theme edit).
    pub pixel_code: String,
    pub webhook_url: String,
    pub shopify_secret_set: bool,
    pub conversions_url: String,
    pub link_base: String,
    pub portal_url: String,
    pub tokens: Vec<ApiTokenView>,
}

/// An affiliate's tracking and earnings, on their page in the merchant app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffiliateEarnings {
    pub link: Option<String>,
    pub coupon_code: String,
    /// The override as typed in the form: a percentage on percent campaigns, an amount on flat ones.
    pub rate_override: String,
    pub campaign_rule: String,
    pub percent_campaign: bool,
    pub clicks: i64,
    pub conversions: i64,
    pub earnings: EarningsView,
    pub commissions: Vec<ReportCommission>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffiliateTermsForm {
    pub coupon_code: String,
    pub rate_override: String,
}

/// What is owed and the payout runs so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutsPage {
    /// Per currency: approved and not in a run yet, and still in the hold period ("120.00 USD").
    pub outstanding: Vec<OutstandingView>,
    pub runs: Vec<RunView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutstandingView {
    pub currency: String,
    pub approved: String,
    pub pending: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub id: i64,
    pub state: crate::domain::PayoutState,
    pub reference: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub decided_at: Option<String>,
    /// One total per currency ("240.00 USD").
    pub totals: Vec<String>,
    /// Currencies in the run: PayPal takes one currency per file.
    pub currencies: Vec<String>,
    pub payouts: Vec<PayoutView>,
    /// The connected shop, when this open run can be paid as its store credit (every payout in the
    /// shop's currency).
    pub store_credit_shop: Option<String>,
    /// Payouts of the run being credited in Shopify now, and those Shopify refused.
    pub credits_queued: i64,
    pub credits_failed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutView {
    pub id: i64,
    pub affiliate_id: AffiliateId,
    pub affiliate_name: String,
    pub payout_email: String,
    /// "120.00 USD".
    pub amount: String,
    pub lines: i64,
    pub state: crate::domain::PayoutState,
    pub paid_at: Option<String>,
    /// Paid as Shopify store credit: queued, credited or failed, with Shopify's transaction id or
    /// why it failed.
    pub credit: Option<String>,
    pub credit_note: Option<String>,
}

/// Lifecycle events, webhook endpoints and their delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationsView {
    pub klaviyo_connected: bool,
    /// Klaviyo was connected before (so events may be kept while it is not).
    pub klaviyo_was_connected: bool,
    /// Keep lifecycle events while Klaviyo is disconnected (7 days) and send them on reconnect.
    pub keep_events_offline: bool,
    /// Events kept now, and the oldest one's time.
    pub kept_events: i64,
    pub kept_since: Option<i64>,
    /// Events dropped because Klaviyo was disconnected (or they were kept too long).
    pub dropped_events: i64,
    pub events: Vec<EventSwitch>,
    pub topics: Vec<(String, String)>,
    pub endpoints: Vec<EndpointView>,
    pub deliveries: Vec<DeliveryView>,
    pub api_docs_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSwitch {
    pub metric: String,
    pub description: String,
    /// The Klaviyo flow that turns the event into a message, in one line.
    pub recipe: String,
    pub on: bool,
    pub always_on: bool,
    /// How many Klaviyo accepted, and when the last one was sent.
    pub received: i64,
    pub last_received_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    pub topics: Vec<String>,
    pub enabled: bool,
    pub created_at: String,
}

/// An endpoint just added: the only time its signing secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEndpoint {
    pub endpoint: EndpointView,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub url: String,
    pub event_id: String,
    pub topic: String,
    pub state: crate::domain::DeliveryState,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_try: Option<String>,
    pub created_at: String,
}

/// The campaign as the public sees it.
#[derive(Debug, Clone)]
pub struct PublicCampaign {
    pub merchant_name: String,
    pub campaign_name: String,
    pub pitch: String,
    pub terms: String,
    pub terms_version: i64,
    pub commission: String,
    pub cookie_days: u16,
    /// The campaign's own questions, asked after the standard fields (not of invited people).
    pub questions: Vec<crate::domain::questions::Question>,
    /// The merchant's colour and images for this campaign.
    pub branding: crate::domain::branding::Branding,
}

/// What the signed-in affiliate sees.
#[derive(Debug, Clone)]
pub struct PortalDashboard {
    pub merchant_name: String,
    pub first_name: String,
    pub campaign_name: String,
    pub commission: String,
    pub cookie_days: i64,
    pub hold_days: i64,
    pub link: Option<String>,
    pub code: Option<String>,
    pub coupon: Option<String>,
    /// The shop link that applies the coupon and carries the referral (a code made in Shopify).
    pub coupon_link: Option<String>,
    /// What a customer gets with the coupon ("10 % off · once per customer").
    pub coupon_terms: Option<String>,
    pub clicks: i64,
    pub conversions: i64,
    pub earnings: EarningsView,
    pub recent: Vec<ReportCommission>,
    /// Paid payouts and those on their way (in an open run), newest first.
    pub payouts: Vec<PayoutView>,
    pub payout_email: String,
    pub own_email: String,
    /// The merchant disabled the affiliate: links and coupon don't earn until they are enabled.
    pub paused: bool,
    /// The merchant banned the affiliate: the account is closed; what was earned before stays.
    pub closed: bool,
}

/// The periods the home page's figures cover, in days.
pub const OVERVIEW_DAYS: [u32; 4] = [7, 30, 90, 365];

/// One step of the home page's setup checklist, ticked from real state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStep {
    /// Stable name for tests and styling ("klaviyo", "list", …).
    pub key: String,
    pub title: String,
    /// What doing it means, or what it found once done.
    pub hint: String,
    /// Where the step is done.
    pub href: String,
    pub done: bool,
}

/// The merchant's home: the setup checklist and the figures of the chosen period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub days: u32,
    pub steps: Vec<SetupStep>,
    /// The full address of the newest campaign taking applications, to share.
    pub landing_url: Option<String>,
    pub clicks: i64,
    pub orders: i64,
    /// Sums per currency, formatted ("120.00 USD + 30.00 EUR", "0").
    pub revenue: String,
    pub earned: String,
    pub paid: String,
    pub owed: String,
    /// Pending applications: confirmed and waiting for review, and still to confirm their email.
    pub waiting: i64,
    pub unconfirmed: i64,
    pub sync: SyncHealth,
}

/// How the affiliates directory is ordered; each in its natural direction (names A to Z, figures
/// largest first, newest first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectorySort {
    #[default]
    Newest,
    Name,
    Clicks,
    Orders,
    Revenue,
    Earned,
}

impl DirectorySort {
    pub const ALL: [DirectorySort; 6] =
        [Self::Newest, Self::Name, Self::Clicks, Self::Orders, Self::Revenue, Self::Earned];

    /// As it travels in the page's address (`?sort=clicks`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Name => "name",
            Self::Clicks => "clicks",
            Self::Orders => "orders",
            Self::Revenue => "revenue",
            Self::Earned => "earned",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Newest => "Newest first",
            Self::Name => "Name (A to Z)",
            Self::Clicks => "Most clicks",
            Self::Orders => "Most orders",
            Self::Revenue => "Most revenue",
            Self::Earned => "Most earned",
        }
    }
}

/// Filters of the affiliates directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectoryFilter {
    pub state: Option<AffiliateState>,
    pub campaign: Option<CampaignId>,
    /// Matches email, name or referral code, case-insensitively.
    pub search: String,
    pub sort: DirectorySort,
    /// Zero-based page.
    pub page: u32,
}

pub const DIRECTORY_PAGE_SIZE: u32 = 50;

/// One affiliate in the directory with what they brought in, all time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRow {
    pub affiliate: ApplicationView,
    /// Visitors (once an hour each) through their link.
    pub clicks: i64,
    pub orders: i64,
    /// Their orders' subtotals less refunds, and the commission they earned (voided lines left
    /// out), in their campaign's currency.
    pub revenue: String,
    pub earned: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPage {
    pub rows: Vec<DirectoryRow>,
    /// Rows matching the filter, over all pages.
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    /// The merchant's campaigns, for the filter.
    pub campaigns: Vec<(CampaignId, String)>,
}

/// What the merchant pastes to connect their Shopify store (a Dev Dashboard app of their own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopConnectForm {
    pub shop_domain: String,
    pub client_id: String,
    pub client_secret: String,
}

/// What a connect attempt found: connected, or the problems Shopify's live check named (an answer,
/// not an error: the form shows them on their fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShopConnectResult {
    Connected(ShopPage),
    Refused(crate::domain::FieldErrors),
}

/// A campaign's discount codes in Shopify: the terms, whether Shopify has them, and the codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountSettings {
    /// The saved terms, or a suggestion when none are saved.
    pub form: crate::domain::discount::DiscountForm,
    pub saved: bool,
    pub enabled: bool,
    /// "10 % off · once per customer", for the saved terms.
    pub summary: Option<String>,
    /// The campaign's currency (a fixed amount off is in it).
    pub currency: String,
    /// The connected shop's address and currency, if any.
    pub shop: Option<String>,
    pub shop_currency: Option<String>,
    /// Connected and installed: codes can be made.
    pub shop_ready: bool,
    /// Shopify holds the campaign's discount with the saved terms.
    pub in_shopify: bool,
    /// Why Shopify doesn't, when it refused.
    pub discount_problem: Option<String>,
    pub progress: DiscountProgress,
    /// The server's now (unix ms): the browser checks an end date against it.
    pub today: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountProgress {
    /// Codes on their way (made, taken out or read back soon).
    pub queued: i64,
    /// Codes in Shopify, read back.
    pub active: i64,
    /// Codes Shopify refused past every candidate, or that keep failing.
    pub failed: i64,
    /// Approved affiliates with no code and none on the way ("Make codes now" covers them).
    pub approved_without: i64,
    /// The latest problem, in words.
    pub problem: Option<String>,
}

/// An affiliate's discount code in Shopify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffiliateCodeView {
    /// The code, when it works in the shop.
    pub code: Option<String>,
    /// queued, active, removed, paused, failed or typed.
    pub state: String,
    /// What happened (e.g. the first choice was taken).
    pub note: Option<String>,
    pub problem: Option<String>,
    /// `https://{shop}/discount/{CODE}?redirect=/?ref=…`: applies the code and carries the referral.
    pub link: Option<String>,
}

/// The Shopify page: the connection (if any) and what the merchant needs to set one up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopPage {
    pub connection: Option<ShopConnectionView>,
    /// Where Shopify must deliver this merchant's webhooks.
    pub webhook_address: String,
    /// False when that address is not public https: Shopify cannot deliver there.
    pub webhooks_deliverable: bool,
    /// The access scopes to give the app, by Shopify's names, and what each is for.
    pub required_scopes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopConnectionView {
    pub shop_domain: String,
    pub shop_name: String,
    pub currency: String,
    pub plan: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// False after the app was uninstalled from the store.
    pub installed: bool,
    pub checked_at: String,
    pub webhooks: Vec<ShopWebhookView>,
    /// Missed orders: orders updated since this time are read next; when they were last read, how
    /// many orders and refunds no webhook had brought, and why the last read failed.
    pub orders_since: Option<String>,
    pub orders_checked: Option<String>,
    pub orders_recovered: i64,
    pub orders_problem: Option<String>,
}

/// What a "recover orders" read found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersRecovered {
    pub seen: i64,
    pub orders: i64,
    pub refunds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopWebhookView {
    /// Shopify's topic as deliveries name it, e.g. `orders/paid`.
    pub topic: String,
    pub subscribed: bool,
    pub received: i64,
    pub failures: i64,
    pub last_received: Option<String>,
    pub problem: Option<String>,
}
