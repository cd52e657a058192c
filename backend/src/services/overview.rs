//! The merchant's home: a setup checklist that ticks itself from real state (nothing to mark by
//! hand, nothing that can say "done" while it isn't), and the figures of a chosen period.

use super::earnings::{db, money_text};
use super::Services;
use crate::store::{self, now_ms};
use shared::domain::tracking::DAY_MS;
use shared::domain::MerchantId;
use shared::error::{AppError, ErrorKind};
use shared::views::{Overview, SetupStep, OVERVIEW_DAYS};

pub async fn overview(s: &Services, merchant: MerchantId, days: u32) -> Result<Overview, AppError> {
    if !OVERVIEW_DAYS.contains(&days) {
        let choices = OVERVIEW_DAYS.map(|d| d.to_string()).join(", ");
        return Err(AppError::new(
            ErrorKind::Invalid,
            format!("Show the last {choices} days; {days} isn't one of them."),
        ));
    }
    let connection = store::klaviyo::get(&s.db, merchant).await.map_err(db)?;
    let setup = store::overview::setup(&s.db, merchant).await.map_err(db)?;
    let since = now_ms() - i64::from(days) * DAY_MS;
    let figures = store::overview::figures(&s.db, merchant, since).await.map_err(db)?;
    let sync = store::sync::health(&s.db, merchant).await.map_err(db)?;
    let landing = store::campaigns::list(&s.db, merchant).await.map_err(db)?.into_iter().find(|c| c.accepting);
    let landing_url = landing.map(|c| format!("{}/join/{}/{}", s.public_base, c.merchant_slug, c.slug));

    let list_name = connection.as_ref().and_then(|c| c.default_list_name.clone().or(c.default_list_id.clone()));
    let step = |key: &str, title: &str, hint: String, href: &str, done: bool| SetupStep {
        key: key.to_owned(),
        title: title.to_owned(),
        hint,
        href: href.to_owned(),
        done,
    };
    let steps = vec![
        step(
            "klaviyo",
            "Connect Klaviyo",
            match &connection {
                Some(c) => format!("Connected to {}.", c.account_name.trim_end_matches('.')),
                None => "Paste a private API key; Rekomi checks each permission it needs, live.".to_owned(),
            },
            "/app/klaviyo",
            connection.is_some(),
        ),
        step(
            "list",
            "Choose the list affiliates join",
            match &list_name {
                Some(name) => format!("Approved affiliates join {name}."),
                None if setup.campaign_list && connection.is_some() => "Each campaign has its own list.".to_owned(),
                None => "Approved affiliates are subscribed to it, with their consent.".to_owned(),
            },
            "/app/klaviyo",
            connection.is_some() && (list_name.is_some() || setup.campaign_list),
        ),
        step(
            "campaign",
            "Create a campaign",
            "Its terms, its commission, and a public page where affiliates apply.".to_owned(),
            if setup.campaign { "/app/campaigns" } else { "/app/campaigns/new" },
            setup.campaign,
        ),
        step(
            "shop",
            "Connect your shop",
            "Connect your Shopify store (Rekomi subscribes its order webhooks), so orders an affiliate brings in earn commission.".to_owned(),
            "/app/shopify",
            setup.shop,
        ),
        step(
            "share",
            "Share your landing page",
            if setup.application {
                "Applications are coming in.".to_owned()
            } else {
                "Post its address where your customers and creators are; the first application ticks this.".to_owned()
            },
            if setup.campaign { "/app/campaigns" } else { "/app/campaigns/new" },
            setup.application,
        ),
        step(
            "approval",
            "Approve your first affiliate",
            "They get a referral code and a tracking link.".to_owned(),
            "/app/queue",
            setup.approval,
        ),
        step(
            "synced",
            "See an affiliate in Klaviyo",
            "Rekomi subscribes each approved affiliate and reads the list back before saying so.".to_owned(),
            "/app/queue",
            setup.synced,
        ),
        step(
            "commission",
            "Earn the first commission",
            "An order through an affiliate's link or code.".to_owned(),
            "/app/results",
            setup.commission,
        ),
    ];
    Ok(Overview {
        days,
        steps,
        landing_url,
        clicks: figures.clicks,
        orders: figures.orders,
        revenue: sums(&figures.revenue),
        earned: sums(&figures.earned),
        paid: sums(&figures.paid),
        owed: sums(&figures.owed),
        waiting: figures.waiting,
        unconfirmed: figures.unconfirmed,
        sync,
    })
}

/// "120.00 USD + 30.00 EUR"; "0" when there is nothing.
fn sums(rows: &[(String, i64)]) -> String {
    let parts: Vec<String> = rows.iter().filter(|(_, v)| *v != 0).map(|(c, v)| money_text(*v, c)).collect();
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join(" + ")
    }
}
