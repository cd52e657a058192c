//! What the server implements for the server functions. `app` cannot depend on `server`, so the
//! server places a [`Ports`] in Leptos context and server functions call through it; the REST API and
//! the tests call the same services directly.

use crate::api::views::{
    AffiliateDetail, CampaignView, ChosenList, ConnectOutcome, ConnectionView, DecisionOutcome, ImportReport,
    InvitePreview, InviteRequest, InviteView, InvitesSent, KlaviyoListView, KlaviyoOverview, QueueFilter, QueuePage,
    SessionView, SyncHealth, SyncView,
};
use crate::domain::affiliate::Decision;
use crate::domain::{AffiliateId, CampaignForm, CampaignId};
use crate::error::AppError;
use async_trait::async_trait;
use std::net::IpAddr;
use std::sync::Arc;

/// The caller's address as the server resolved it (socket peer, or a trusted proxy's header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// A signed-in user, resolved from the session cookie by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub session: SessionView,
    pub user_id: crate::domain::UserId,
}

/// A new session: what to show, and the `Set-Cookie` value that carries it.
pub struct NewSession {
    pub view: SessionView,
    pub set_cookie: String,
}

#[async_trait]
pub trait AccountPort: Send + Sync {
    async fn sign_up(&self, shop_name: &str, email: &str, password: &str, ip: ClientIp)
        -> Result<NewSession, AppError>;
    async fn log_in(&self, email: &str, password: &str, ip: ClientIp) -> Result<NewSession, AppError>;
    /// Ends the session behind `cookie_header` (if any); returns the `Set-Cookie` that clears it.
    async fn log_out(&self, cookie_header: Option<&str>) -> Result<String, AppError>;
    /// The signed-in user for a request's `Cookie` header, if the session is live.
    async fn signed_in(&self, cookie_header: Option<&str>) -> Result<Option<SignedIn>, AppError>;
}

#[async_trait]
pub trait CampaignPort: Send + Sync {
    async fn list(&self, who: &SignedIn) -> Result<Vec<CampaignView>, AppError>;
    async fn get(&self, who: &SignedIn, id: CampaignId) -> Result<CampaignView, AppError>;
    async fn create(&self, who: &SignedIn, form: CampaignForm) -> Result<CampaignView, AppError>;
    async fn update(&self, who: &SignedIn, id: CampaignId, form: CampaignForm) -> Result<CampaignView, AppError>;
}

#[async_trait]
pub trait AffiliatePort: Send + Sync {
    async fn queue(&self, who: &SignedIn, filter: QueueFilter) -> Result<QueuePage, AppError>;
    async fn decide(
        &self,
        who: &SignedIn,
        ids: Vec<AffiliateId>,
        decision: Decision,
    ) -> Result<DecisionOutcome, AppError>;
}

#[async_trait]
pub trait KlaviyoPort: Send + Sync {
    async fn status(&self, who: &SignedIn) -> Result<KlaviyoOverview, AppError>;
    async fn connect(
        &self,
        who: &SignedIn,
        key: &str,
        confirm_account_id: Option<&str>,
    ) -> Result<ConnectOutcome, AppError>;
    async fn disconnect(&self, who: &SignedIn) -> Result<KlaviyoOverview, AppError>;
    async fn lists(&self, who: &SignedIn) -> Result<Vec<KlaviyoListView>, AppError>;
    async fn choose_default_list(&self, who: &SignedIn, list_id: &str) -> Result<ConnectionView, AppError>;
    async fn choose_campaign_list(
        &self,
        who: &SignedIn,
        campaign: CampaignId,
        list_id: Option<&str>,
    ) -> Result<Option<ChosenList>, AppError>;
}

#[async_trait]
pub trait SyncPort: Send + Sync {
    async fn affiliate(&self, who: &SignedIn, id: AffiliateId) -> Result<AffiliateDetail, AppError>;
    async fn health(&self, who: &SignedIn) -> Result<SyncHealth, AppError>;
    async fn retry(&self, who: &SignedIn, affiliate: AffiliateId) -> Result<Vec<SyncView>, AppError>;
    /// Queues approved affiliates that have no sync yet; returns how many.
    async fn sync_all_approved(&self, who: &SignedIn) -> Result<u64, AppError>;
}

#[async_trait]
pub trait InvitePort: Send + Sync {
    async fn preview(&self, who: &SignedIn, request: InviteRequest) -> Result<InvitePreview, AppError>;
    async fn send(&self, who: &SignedIn, request: InviteRequest) -> Result<InvitesSent, AppError>;
    async fn list(&self, who: &SignedIn) -> Result<Vec<InviteView>, AppError>;
    async fn resend(&self, who: &SignedIn, id: i64) -> Result<InviteView, AppError>;
    async fn revoke(&self, who: &SignedIn, id: i64) -> Result<InviteView, AppError>;
}

/// Uploading and confirming go through streaming routes; these are the reads.
#[async_trait]
pub trait ImportPort: Send + Sync {
    async fn list(&self, who: &SignedIn) -> Result<Vec<ImportReport>, AppError>;
    async fn get(&self, who: &SignedIn, id: i64) -> Result<ImportReport, AppError>;
}

#[async_trait]
pub trait EarningsPort: Send + Sync {
    async fn settings(&self, who: &SignedIn) -> Result<crate::api::views::TrackingSettings, AppError>;
    async fn set_shopify_secret(
        &self,
        who: &SignedIn,
        secret: &str,
    ) -> Result<crate::api::views::TrackingSettings, AppError>;
    async fn create_token(&self, who: &SignedIn, name: &str) -> Result<crate::api::views::NewApiToken, AppError>;
    async fn revoke_token(&self, who: &SignedIn, id: i64) -> Result<crate::api::views::TrackingSettings, AppError>;
    async fn report(
        &self,
        who: &SignedIn,
        campaign: Option<CampaignId>,
    ) -> Result<crate::api::views::ReportView, AppError>;
    async fn affiliate(
        &self,
        who: &SignedIn,
        id: AffiliateId,
    ) -> Result<crate::api::views::AffiliateEarnings, AppError>;
    async fn set_terms(
        &self,
        who: &SignedIn,
        id: AffiliateId,
        form: crate::api::views::AffiliateTermsForm,
    ) -> Result<crate::api::views::AffiliateEarnings, AppError>;
    async fn decide_held(&self, who: &SignedIn, id: i64, release: bool) -> Result<(), AppError>;
    async fn portal_link(&self, who: &SignedIn, id: AffiliateId) -> Result<(String, bool), AppError>;
}

#[async_trait]
pub trait PayoutPort: Send + Sync {
    async fn page(&self, who: &SignedIn) -> Result<crate::api::views::PayoutsPage, AppError>;
    async fn create_run(&self, who: &SignedIn) -> Result<crate::api::views::RunView, AppError>;
    async fn mark_paid(&self, who: &SignedIn, id: i64, reference: &str)
        -> Result<crate::api::views::RunView, AppError>;
    async fn cancel(&self, who: &SignedIn, id: i64) -> Result<crate::api::views::RunView, AppError>;
    async fn integrations(&self, who: &SignedIn) -> Result<crate::api::views::IntegrationsView, AppError>;
    async fn switch_event(
        &self,
        who: &SignedIn,
        metric: &str,
        on: bool,
    ) -> Result<crate::api::views::IntegrationsView, AppError>;
    async fn add_endpoint(
        &self,
        who: &SignedIn,
        url: &str,
        topics: &[String],
    ) -> Result<crate::api::views::NewEndpoint, AppError>;
    async fn change_endpoint(
        &self,
        who: &SignedIn,
        id: i64,
        enabled: bool,
        remove: bool,
    ) -> Result<crate::api::views::IntegrationsView, AppError>;
    async fn redeliver(&self, who: &SignedIn, id: i64) -> Result<crate::api::views::IntegrationsView, AppError>;
}

/// Everything the server functions can reach.
#[derive(Clone)]
pub struct Ports {
    pub accounts: Arc<dyn AccountPort>,
    pub campaigns: Arc<dyn CampaignPort>,
    pub affiliates: Arc<dyn AffiliatePort>,
    pub klaviyo: Arc<dyn KlaviyoPort>,
    pub sync: Arc<dyn SyncPort>,
    pub invites: Arc<dyn InvitePort>,
    pub imports: Arc<dyn ImportPort>,
    pub earnings: Arc<dyn EarningsPort>,
    pub payouts: Arc<dyn PayoutPort>,
}
