//! The rows of what a change tells the outside world, written inside the transaction that makes
//! the change: lifecycle events into Klaviyo and deliveries to the merchant's webhook endpoints.
//! Callers go through `crate::outbox`, which also wakes the runner once the transaction commits.

use super::{now_ms, DbResult, Tx};
use serde_json::{json, Value};
use shared::domain::lifecycle::{Metric, Topic};
use shared::domain::{Currency, MerchantId, Money};

/// Queues a lifecycle event unless the merchant switched the metric off; true when a row was added.
/// With Klaviyo disconnected (after it was connected once) the event is kept, not due, until it is
/// connected again ([`super::events::release_kept`]), unless the merchant chose to drop such events.
/// `unique_id` is unique per merchant: queueing the same event twice keeps one row, and Klaviyo
/// counts a resend once.
pub async fn lifecycle(
    tx: &mut Tx,
    merchant: MerchantId,
    metric: Metric,
    email: &str,
    unique_id: &str,
    properties: &Value,
    now: i64,
) -> DbResult<bool> {
    let added = tx
        .query(
            "INSERT INTO klaviyo_events (merchant_id, metric, email, unique_id, properties, state, reason, due_at,
                 created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, 'queued', CASE WHEN k.merchant_id IS NULL THEN $7 END,
                 CASE WHEN k.merchant_id IS NULL THEN NULL ELSE $6 END, $6, $6
             FROM merchants m LEFT JOIN klaviyo_connections k ON k.merchant_id = m.id
             WHERE m.id = $1
               AND (k.merchant_id IS NOT NULL OR (m.klaviyo_account_id IS NOT NULL AND m.keep_events_offline))
               AND NOT EXISTS (SELECT 1 FROM lifecycle_events_off WHERE merchant_id = $1 AND metric = $2)
             ON CONFLICT (merchant_id, unique_id) DO NOTHING",
        )
        .bind(merchant)
        .bind(metric.name())
        .bind(email)
        .bind(unique_id)
        .bind(properties.to_string())
        // Due at once: a caller working ahead of the clock (approving at a future instant in a
        // test) still has its events sent now.
        .bind(now_ms().min(now))
        .bind(super::events::KEPT)
        .execute()
        .await?;
    Ok(added > 0)
}

/// Queues one delivery per live endpoint of the merchant subscribed to the topic; how many were
/// added. The event id is unique per endpoint, so queueing the same event twice keeps one delivery.
pub async fn webhook(
    tx: &mut Tx,
    merchant: MerchantId,
    topic: Topic,
    event_id: &str,
    data: Value,
    now: i64,
) -> DbResult<u64> {
    let payload = webhook_payload(event_id, topic, now, data);
    let due = now_ms().min(now);
    tx.query(
        "INSERT INTO webhook_deliveries (merchant_id, endpoint_id, event_id, topic, payload, state, due_at,
             give_up_at, created_at, updated_at)
         SELECT $1, e.id, $2, $3, $4, 'queued', $5, $6, $5, $5 FROM webhook_endpoints e
         WHERE e.merchant_id = $1 AND e.disabled_at IS NULL
           AND (',' || e.topics || ',') LIKE ('%,' || $3 || ',%')
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(merchant)
    .bind(event_id)
    .bind(topic.name())
    .bind(payload)
    .bind(due)
    .bind(due + RETRY_FOR_MS)
    .execute()
    .await
}

/// How long a delivery is retried before it is given up (and left for a manual redelivery).
pub const RETRY_FOR_MS: i64 = 24 * 3_600_000;

/// The body every webhook delivery carries.
pub fn webhook_payload(event_id: &str, topic: Topic, now: i64, data: Value) -> String {
    json!({ "id": event_id, "type": topic.name(), "created_at": rfc3339(now), "data": data }).to_string()
}

/// An amount as a JSON number in its currency's units (12.5 for 1250 cents), for events and
/// payloads; the currency travels beside it.
pub fn amount(minor: i64, currency: &str) -> Value {
    let Ok(currency) = Currency::parse(currency) else { return json!(minor) };
    let decimal = Money::new(minor, currency).decimal();
    decimal.parse::<f64>().map(Value::from).unwrap_or(Value::Null)
}

/// "2026-11-24T10:00:00Z" for unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_decimal_numbers_in_the_currency() {
        assert_eq!(amount(1250, "USD"), json!(12.5));
        assert_eq!(amount(-300, "EUR"), json!(-3.0));
        assert_eq!(amount(500, "JPY"), json!(500.0));
        assert_eq!(rfc3339(1_795_500_000_000), "2026-11-24T06:00:00Z");
    }
}
