//! The merchant's integrations: which lifecycle events go to Klaviyo, and webhook endpoints with
//! their delivery log.

use super::earnings::db;
use super::Services;
use crate::outbox::secret_owner;
use crate::store::{events, now_ms, webhooks, Db, DbResult};
use anyhow::Context;
use rand::distributions::Alphanumeric;
use rand::Rng;
use shared::domain::clock::format_utc;
use shared::domain::lifecycle::{parse_topics, Metric, Topic};
use shared::domain::{MerchantId, WebhookEndpointId};
use shared::error::{AppError, ErrorKind};
use shared::views::{DeliveryView, EndpointView, EventSwitch, IntegrationsView, NewEndpoint};

pub const MAX_ENDPOINTS: usize = 10;

pub async fn view(s: &Services, merchant: MerchantId) -> Result<IntegrationsView, AppError> {
    let off = events::switched_off(&s.db, merchant).await.map_err(db)?;
    let received = events::received(&s.db, merchant).await.map_err(db)?;
    let klaviyo_connected = crate::store::klaviyo::get(&s.db, merchant).await.map_err(db)?.is_some();
    let klaviyo_was_connected = crate::store::klaviyo::last_account(&s.db, merchant).await.map_err(db)?.is_some();
    let keep_events_offline = events::keeps_offline(&s.db, merchant).await.map_err(db)?;
    let (kept_events, kept_since) = events::kept(&s.db, merchant).await.map_err(db)?;
    let dropped_events = events::dropped(&s.db, merchant).await.map_err(db)?;
    let endpoints = webhooks::endpoints(&s.db, merchant).await.map_err(db)?;
    let deliveries = webhooks::deliveries(&s.db, merchant, 100).await.map_err(db)?;
    Ok(IntegrationsView {
        klaviyo_connected,
        klaviyo_was_connected,
        keep_events_offline,
        kept_events,
        kept_since,
        dropped_events,
        events: Metric::ALL
            .iter()
            .map(|m| {
                let (count, last) = received
                    .iter()
                    .find(|(name, ..)| name == m.name())
                    .map_or((0, None), |(_, count, last)| (*count, *last));
                EventSwitch {
                    metric: m.name().to_owned(),
                    description: m.description().to_owned(),
                    recipe: m.recipe().to_owned(),
                    on: m.always_on() || !off.iter().any(|o| o == m.name()),
                    always_on: m.always_on(),
                    received: count,
                    last_received_at: last,
                }
            })
            .collect(),
        topics: Topic::ALL.iter().map(|t| (t.name().to_owned(), t.description().to_owned())).collect(),
        endpoints: endpoints
            .into_iter()
            .map(|e| EndpointView {
                id: e.id.get(),
                url: e.url,
                topics: e.topics.split(',').map(str::to_owned).collect(),
                enabled: e.disabled_at.is_none(),
                created_at: format_utc(e.created_at),
            })
            .collect(),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                url: d.url,
                event_id: d.event_id,
                topic: d.topic,
                state: d.state,
                attempts: d.attempts,
                last_status: d.last_status,
                last_error: d.last_error,
                next_try: d.due_at.map(format_utc),
                created_at: format_utc(d.created_at),
            })
            .collect(),
        api_docs_url: format!("{}/api/v1/docs", s.public_base),
    })
}

pub async fn switch_event(
    s: &Services,
    merchant: MerchantId,
    metric: &str,
    on: bool,
) -> Result<IntegrationsView, AppError> {
    let Some(metric) = Metric::parse(metric) else {
        return Err(AppError::new(ErrorKind::Invalid, format!("\"{metric}\" is not a Rekomi event.")));
    };
    if metric.always_on() && !on {
        return Err(AppError::new(
            ErrorKind::Invalid,
            format!("{} delivers your invites; it can't be switched off.", metric.name()),
        ));
    }
    events::switch(&s.db, merchant, metric.name(), on).await.map_err(db)?;
    view(s, merchant).await
}

/// Keeps lifecycle events while Klaviyo is disconnected (the default), or drops them; choosing to
/// drop also drops those kept now.
pub async fn keep_events_offline(s: &Services, merchant: MerchantId, keep: bool) -> Result<IntegrationsView, AppError> {
    events::set_keep_offline(&s.db, merchant, keep).await.map_err(db)?;
    if !keep {
        events::drop_kept(&s.db, merchant, now_ms()).await.map_err(db)?;
    }
    view(s, merchant).await
}

/// Drops the events kept while Klaviyo is disconnected.
pub async fn drop_kept_events(s: &Services, merchant: MerchantId) -> Result<IntegrationsView, AppError> {
    events::drop_kept(&s.db, merchant, now_ms()).await.map_err(db)?;
    view(s, merchant).await
}

/// An endpoint address: http(s), a host, no credentials, at most 2,000 characters.
pub fn parse_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.len() > 2_000 {
        return Err("The address is longer than 2,000 characters.".into());
    }
    let url =
        url::Url::parse(raw).map_err(|_| "Enter a full address like https://example.com/hooks/rekomi.".to_owned())?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("The address starts with https:// (or http://).".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The address has no host.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Leave credentials out of the address; verify deliveries with the signing secret instead.".into());
    }
    Ok(url.into())
}

pub async fn add_endpoint(
    s: &Services,
    merchant: MerchantId,
    url: &str,
    topics: &[String],
    actor: &str,
) -> Result<NewEndpoint, AppError> {
    let url = parse_url(url).map_err(|m| AppError::field("url", m))?;
    crate::outbox::check_public(&url, s.webhooks_allow_private).await.map_err(|m| AppError::field("url", m))?;

    let topics = parse_topics(topics).map_err(|m| AppError::field("topics", m))?;
    if webhooks::endpoints(&s.db, merchant).await.map_err(db)?.len() >= MAX_ENDPOINTS {
        return Err(AppError::new(ErrorKind::Conflict, format!("A shop has at most {MAX_ENDPOINTS} endpoints.")));
    }
    let secret =
        format!("whsec_{}", rand::thread_rng().sample_iter(&Alphanumeric).take(40).map(char::from).collect::<String>());
    let sealed = s.sealer.seal(&secret, &secret_owner(merchant)).map_err(|e| super::internal(&e))?;
    let names: Vec<&str> = topics.iter().map(|t| t.name()).collect();
    let now = now_ms();
    let id =
        webhooks::insert_endpoint(&s.db, merchant, &url, &names.join(","), &sealed, actor, now).await.map_err(db)?;
    Ok(NewEndpoint {
        endpoint: EndpointView {
            id: id.get(),
            url,
            topics: names.into_iter().map(str::to_owned).collect(),
            enabled: true,
            created_at: format_utc(now),
        },
        secret,
    })
}

pub async fn change_endpoint(
    s: &Services,
    merchant: MerchantId,
    id: i64,
    enabled: bool,
    remove: bool,
) -> Result<IntegrationsView, AppError> {
    let found = if remove {
        webhooks::delete_endpoint(&s.db, merchant, WebhookEndpointId(id)).await.map_err(db)?
    } else {
        switch_endpoint(s, merchant, WebhookEndpointId(id), enabled).await.map_err(db)?
    };
    if !found {
        return Err(AppError::not_found("endpoint"));
    }
    view(s, merchant).await
}

/// Switches an endpoint off (no new deliveries; queued ones are given up, in the same transaction)
/// or on again. False when it isn't the merchant's.
async fn switch_endpoint(s: &Services, merchant: MerchantId, id: WebhookEndpointId, enabled: bool) -> DbResult<bool> {
    let now = now_ms();
    let mut tx = s.db.begin().await?;
    let changed = webhooks::set_disabled(&mut tx, merchant, id, !enabled, now).await?;
    if changed && !enabled {
        webhooks::give_up_pending(&mut tx, id, "The endpoint was switched off.", now).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Sends a delivery again now; the webhook runner is woken once it is queued.
async fn queue_again(s: &Services, merchant: MerchantId, id: i64) -> DbResult<bool> {
    let mut tx = s.db.begin().await?;
    let found = webhooks::redeliver(&mut tx, merchant, id, now_ms()).await?;
    if found {
        tx.wake_on_commit(&crate::outbox::WEBHOOKS);
    }
    tx.commit().await?;
    Ok(found)
}

pub async fn redeliver(s: &Services, merchant: MerchantId, id: i64) -> Result<IntegrationsView, AppError> {
    if !queue_again(s, merchant, id).await.map_err(db)? {
        return Err(AppError::new(
            ErrorKind::NotFound,
            "That delivery doesn't exist, isn't yours, or its endpoint is switched off.",
        ));
    }
    view(s, merchant).await
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn endpoint_addresses_are_checked() {
        assert_eq!(parse_url(" https://hooks.example.com/rekomi ").as_deref(), Ok("https://hooks.example.com/rekomi"));
        assert!(parse_url("ftp://example.com").is_err());
        assert!(parse_url("https://user:pw@example.com/").is_err());
        assert!(parse_url("example.com/hook").is_err());
    }
}

/// How long a sent (or failed) event keeps the link with a token it carried, for support questions.
pub const LINK_RETENTION_MS: i64 = 24 * 3_600_000;
/// The property names that hold a live link with a token.
const LINK_PROPERTIES: [&str; 3] = ["login_url", "invite_url", "verify_url"];

/// Removes the sign-in, invite and verification links (they carry tokens) from events Klaviyo has
/// had for a day, or that failed for good; the number of events scrubbed. Housekeeping.
pub async fn scrub_sent_links(db: &Db, now: i64) -> anyhow::Result<u64> {
    let mut scrubbed = 0;
    loop {
        let rows = events::with_links(db, now - LINK_RETENTION_MS, 500).await.context("reading events")?;
        if rows.is_empty() {
            return Ok(scrubbed);
        }
        for (id, properties) in rows {
            let mut value: serde_json::Value = serde_json::from_str(&properties).unwrap_or(serde_json::Value::Null);
            scrub(&mut value);
            let text = if value.is_null() { "{}".to_owned() } else { value.to_string() };
            events::set_properties(db, id, &text).await.context("scrubbing an event")?;
            scrubbed += 1;
        }
    }
}

fn scrub(value: &mut serde_json::Value) {
    match value {
        // The key goes with its value, so the event no longer matches the search for links.
        serde_json::Value::Object(map) => {
            map.retain(|key, _| !LINK_PROPERTIES.contains(&key.as_str()));
            map.values_mut().for_each(scrub);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}
