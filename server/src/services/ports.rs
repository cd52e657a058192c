//! The server's side of `app::ports`: server functions land here and go on to the services.

use super::accounts::{session_view, token_from_cookie_header, AccountError};
use super::{affiliates, campaigns, imports, sync, Services};
use crate::store::now_ms;
use app::api::views::{
    AffiliateDetail, CampaignView, ChosenList, ConnectOutcome, ConnectionView, DecisionOutcome, ImportReport,
    InvitePreview, InviteRequest, InviteView, InvitesSent, KlaviyoListView, KlaviyoOverview, QueueFilter, QueuePage,
    SyncHealth, SyncView,
};
use app::domain::affiliate::Decision;
use app::domain::{AffiliateId, CampaignForm, CampaignId};
use app::error::AppError;
use app::ports::{
    AccountPort, AffiliatePort, CampaignPort, ClientIp, EarningsPort, ImportPort, InvitePort, KlaviyoPort, NewSession,
    Ports, SignedIn, SyncPort,
};
use async_trait::async_trait;
use std::sync::Arc;

impl Services {
    pub fn ports(&self) -> Ports {
        let shared = Arc::new(self.clone());
        Ports {
            accounts: shared.clone(),
            campaigns: shared.clone(),
            affiliates: shared.clone(),
            klaviyo: shared.clone(),
            sync: shared.clone(),
            invites: shared.clone(),
            imports: shared.clone(),
            earnings: shared.clone(),
            payouts: shared,
        }
    }
}

#[async_trait]
impl AccountPort for Services {
    async fn sign_up(
        &self,
        shop_name: &str,
        email: &str,
        password: &str,
        ip: ClientIp,
    ) -> Result<NewSession, AppError> {
        let issued = self.accounts.sign_up(shop_name, email, password, ip.0).await?;
        Ok(NewSession { set_cookie: self.accounts.session_cookie(&issued.token), view: issued.view })
    }

    async fn log_in(&self, email: &str, password: &str, ip: ClientIp) -> Result<NewSession, AppError> {
        let issued = self.accounts.log_in(email, password, ip.0).await?;
        Ok(NewSession { set_cookie: self.accounts.session_cookie(&issued.token), view: issued.view })
    }

    async fn log_out(&self, cookie_header: Option<&str>) -> Result<String, AppError> {
        if let Some(token) = cookie_header.and_then(token_from_cookie_header) {
            self.accounts.log_out(token).await.map_err(AccountError::Internal)?;
        }
        Ok(self.accounts.clearing_cookie())
    }

    async fn signed_in(&self, cookie_header: Option<&str>) -> Result<Option<SignedIn>, AppError> {
        let Some(token) = cookie_header.and_then(token_from_cookie_header) else { return Ok(None) };
        let row = self.accounts.lookup(token).await.map_err(AccountError::Internal)?;
        Ok(row.map(|row| SignedIn { session: session_view(&row), user_id: row.user_id }))
    }
}

#[async_trait]
impl CampaignPort for Services {
    async fn list(&self, who: &SignedIn) -> Result<Vec<CampaignView>, AppError> {
        Ok(campaigns::list(&self.db, who.session.merchant_id).await?)
    }

    async fn get(&self, who: &SignedIn, id: CampaignId) -> Result<CampaignView, AppError> {
        Ok(campaigns::get(&self.db, who.session.merchant_id, id).await?)
    }

    async fn create(&self, who: &SignedIn, form: CampaignForm) -> Result<CampaignView, AppError> {
        Ok(campaigns::create(&self.db, who.session.merchant_id, &form).await?)
    }

    async fn update(&self, who: &SignedIn, id: CampaignId, form: CampaignForm) -> Result<CampaignView, AppError> {
        Ok(campaigns::update(&self.db, who.session.merchant_id, id, &form).await?)
    }
}

#[async_trait]
impl AffiliatePort for Services {
    async fn queue(&self, who: &SignedIn, filter: QueueFilter) -> Result<QueuePage, AppError> {
        Ok(affiliates::queue(&self.db, who.session.merchant_id, &filter).await?)
    }

    async fn decide(
        &self,
        who: &SignedIn,
        ids: Vec<AffiliateId>,
        decision: Decision,
    ) -> Result<DecisionOutcome, AppError> {
        let merchant = who.session.merchant_id;
        let outcome = affiliates::decide(&self.db, merchant, &who.session.user_email, &ids, decision).await?;
        if !outcome.changed.is_empty() {
            // Approved, rejected or disabled: the redirect and attribution see it at once here
            // (other instances within the code cache's minute).
            self.tracker.forget_all();
        }
        Ok(outcome)
    }
}

#[async_trait]
impl KlaviyoPort for Services {
    async fn status(&self, who: &SignedIn) -> Result<KlaviyoOverview, AppError> {
        Ok(self.klaviyo.status(who.session.merchant_id).await?)
    }

    async fn connect(
        &self,
        who: &SignedIn,
        key: &str,
        confirm_account_id: Option<&str>,
    ) -> Result<ConnectOutcome, AppError> {
        Ok(self.klaviyo.connect(who.session.merchant_id, key, confirm_account_id).await?)
    }

    async fn disconnect(&self, who: &SignedIn) -> Result<KlaviyoOverview, AppError> {
        Ok(self.klaviyo.disconnect(who.session.merchant_id).await?)
    }

    async fn lists(&self, who: &SignedIn) -> Result<Vec<KlaviyoListView>, AppError> {
        Ok(self.klaviyo.lists(who.session.merchant_id).await?)
    }

    async fn choose_default_list(&self, who: &SignedIn, list_id: &str) -> Result<ConnectionView, AppError> {
        Ok(self.klaviyo.choose_default_list(who.session.merchant_id, list_id).await?)
    }

    async fn choose_campaign_list(
        &self,
        who: &SignedIn,
        campaign: CampaignId,
        list_id: Option<&str>,
    ) -> Result<Option<ChosenList>, AppError> {
        Ok(self.klaviyo.choose_campaign_list(who.session.merchant_id, campaign, list_id).await?)
    }
}

#[async_trait]
impl SyncPort for Services {
    async fn affiliate(&self, who: &SignedIn, id: AffiliateId) -> Result<AffiliateDetail, AppError> {
        Ok(affiliates::detail(&self.db, who.session.merchant_id, id).await?)
    }

    async fn health(&self, who: &SignedIn) -> Result<SyncHealth, AppError> {
        Ok(sync::health(&self.db, who.session.merchant_id).await?)
    }

    async fn retry(&self, who: &SignedIn, affiliate: AffiliateId) -> Result<Vec<SyncView>, AppError> {
        Ok(sync::retry(&self.db, who.session.merchant_id, affiliate).await?)
    }

    async fn sync_all_approved(&self, who: &SignedIn) -> Result<u64, AppError> {
        Ok(sync::sync_all_approved(&self.db, who.session.merchant_id).await?)
    }
}

#[async_trait]
impl InvitePort for Services {
    async fn preview(&self, who: &SignedIn, request: InviteRequest) -> Result<InvitePreview, AppError> {
        Ok(self.invites.preview(&self.db, who.session.merchant_id, &request).await?)
    }

    async fn send(&self, who: &SignedIn, request: InviteRequest) -> Result<InvitesSent, AppError> {
        Ok(self.invites.send(&self.db, who.session.merchant_id, &who.session.user_email, &request).await?)
    }

    async fn list(&self, who: &SignedIn) -> Result<Vec<InviteView>, AppError> {
        Ok(self.invites.list(&self.db, who.session.merchant_id).await?)
    }

    async fn resend(&self, who: &SignedIn, id: i64) -> Result<InviteView, AppError> {
        Ok(self.invites.resend(&self.db, who.session.merchant_id, &who.session.user_email, id).await?)
    }

    async fn revoke(&self, who: &SignedIn, id: i64) -> Result<InviteView, AppError> {
        Ok(self.invites.revoke(&self.db, who.session.merchant_id, id).await?)
    }
}

#[async_trait]
impl ImportPort for Services {
    async fn list(&self, who: &SignedIn) -> Result<Vec<ImportReport>, AppError> {
        Ok(imports::list(&self.db, who.session.merchant_id).await?)
    }

    async fn get(&self, who: &SignedIn, id: i64) -> Result<ImportReport, AppError> {
        Ok(imports::get(&self.db, who.session.merchant_id, id).await?)
    }
}

#[async_trait]
impl EarningsPort for Services {
    async fn settings(&self, who: &SignedIn) -> Result<app::api::views::TrackingSettings, AppError> {
        super::earnings::settings(self, who.session.merchant_id).await
    }

    async fn set_shopify_secret(
        &self,
        who: &SignedIn,
        secret: &str,
    ) -> Result<app::api::views::TrackingSettings, AppError> {
        super::earnings::set_shopify_secret(self, who.session.merchant_id, secret).await
    }

    async fn create_token(&self, who: &SignedIn, name: &str) -> Result<app::api::views::NewApiToken, AppError> {
        super::earnings::create_token(self, who.session.merchant_id, name, &who.session.user_email).await
    }

    async fn revoke_token(&self, who: &SignedIn, id: i64) -> Result<app::api::views::TrackingSettings, AppError> {
        super::earnings::revoke_token(self, who.session.merchant_id, id).await
    }

    async fn report(
        &self,
        who: &SignedIn,
        campaign: Option<CampaignId>,
    ) -> Result<app::api::views::ReportView, AppError> {
        super::earnings::report(self, who.session.merchant_id, campaign).await
    }

    async fn affiliate(&self, who: &SignedIn, id: AffiliateId) -> Result<app::api::views::AffiliateEarnings, AppError> {
        super::earnings::affiliate_earnings(self, who.session.merchant_id, id).await
    }

    async fn set_terms(
        &self,
        who: &SignedIn,
        id: AffiliateId,
        form: app::api::views::AffiliateTermsForm,
    ) -> Result<app::api::views::AffiliateEarnings, AppError> {
        super::earnings::set_terms(self, who.session.merchant_id, id, &form, &who.session.user_email).await
    }

    async fn decide_held(&self, who: &SignedIn, id: i64, release: bool) -> Result<(), AppError> {
        super::earnings::decide_held(self, who.session.merchant_id, id, release).await
    }

    async fn portal_link(&self, who: &SignedIn, id: AffiliateId) -> Result<(String, bool), AppError> {
        super::portal::link_for_merchant(self, who.session.merchant_id, id, &who.session.user_email).await
    }
}

#[async_trait]
impl app::ports::PayoutPort for Services {
    async fn page(&self, who: &SignedIn) -> Result<app::api::views::PayoutsPage, AppError> {
        super::payouts::page(self, who.session.merchant_id).await
    }

    async fn create_run(&self, who: &SignedIn) -> Result<app::api::views::RunView, AppError> {
        super::payouts::create_run(self, who.session.merchant_id, &who.session.user_email, now_ms()).await
    }

    async fn mark_paid(&self, who: &SignedIn, id: i64, reference: &str) -> Result<app::api::views::RunView, AppError> {
        super::payouts::mark_paid(self, who.session.merchant_id, id, reference, now_ms()).await
    }

    async fn cancel(&self, who: &SignedIn, id: i64) -> Result<app::api::views::RunView, AppError> {
        super::payouts::cancel(self, who.session.merchant_id, id).await
    }

    async fn integrations(&self, who: &SignedIn) -> Result<app::api::views::IntegrationsView, AppError> {
        super::integrations::view(self, who.session.merchant_id).await
    }

    async fn switch_event(
        &self,
        who: &SignedIn,
        metric: &str,
        on: bool,
    ) -> Result<app::api::views::IntegrationsView, AppError> {
        super::integrations::switch_event(self, who.session.merchant_id, metric, on).await
    }

    async fn add_endpoint(
        &self,
        who: &SignedIn,
        url: &str,
        topics: &[String],
    ) -> Result<app::api::views::NewEndpoint, AppError> {
        super::integrations::add_endpoint(self, who.session.merchant_id, url, topics, &who.session.user_email).await
    }

    async fn change_endpoint(
        &self,
        who: &SignedIn,
        id: i64,
        enabled: bool,
        remove: bool,
    ) -> Result<app::api::views::IntegrationsView, AppError> {
        super::integrations::change_endpoint(self, who.session.merchant_id, id, enabled, remove).await
    }

    async fn redeliver(&self, who: &SignedIn, id: i64) -> Result<app::api::views::IntegrationsView, AppError> {
        super::integrations::redeliver(self, who.session.merchant_id, id).await
    }
}
