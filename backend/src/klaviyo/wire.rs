//! Request and response bodies, typed. Requests are strict (only fields the spec allows for that
//! call, empty values omitted so Klaviyo keeps what it has); responses ignore members Rekomi does not
//! read.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// ---- requests ------------------------------------------------------------------------------------

/// `{"type":…,"id":…}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Document<T> {
    pub data: T,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataList<T> {
    pub data: Vec<T>,
}

/// A profile's fields for profile-import and bulk import. `None` and empty strings are never sent,
/// so Klaviyo keeps whatever it already has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileFields {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Custom properties to set; only these keys change.
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProfileAttributes<'a> {
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub properties: &'a Map<String, Value>,
}

impl ProfileFields {
    pub(crate) fn attributes(&self) -> ProfileAttributes<'_> {
        fn present(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        ProfileAttributes {
            email: &self.email,
            first_name: present(&self.first_name),
            last_name: present(&self.last_name),
            properties: &self.properties,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProfileResource<A> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: A,
}

pub(crate) fn profile<A>(attributes: A) -> ProfileResource<A> {
    ProfileResource { kind: "profile", attributes }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Job<A, R> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: A,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationships: Option<R>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkImportAttributes<'a> {
    pub profiles: DataList<ProfileResource<ProfileAttributes<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListsRelationship {
    pub lists: DataList<Identifier>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListRelationship {
    pub list: Document<Identifier>,
}

/// Subscribe: only email and consent; names cannot ride along (Klaviyo rejects them).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SubscribeAttributes<'a> {
    pub custom_source: &'a str,
    pub profiles: DataList<ProfileResource<ConsentAttributes<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct UnsubscribeAttributes<'a> {
    pub profiles: DataList<ProfileResource<ConsentAttributes<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConsentAttributes<'a> {
    pub email: &'a str,
    pub subscriptions: Subscriptions,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Subscriptions {
    pub email: EmailChannel,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmailChannel {
    pub marketing: Consent,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Consent {
    pub consent: &'static str,
}

/// An event that can trigger a flow. `unique_id` makes retries safe.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub metric: String,
    pub email: String,
    pub unique_id: String,
    pub properties: Map<String, Value>,
    pub value: Option<f64>,
    pub value_currency: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventAttributes<'a> {
    pub properties: &'a Map<String, Value>,
    pub unique_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_currency: Option<&'a str>,
    pub metric: Document<MetricResource<'a>>,
    pub profile: Document<ProfileResource<EmailOnly<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MetricResource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: MetricName<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MetricName<'a> {
    pub name: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmailOnly<'a> {
    pub email: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventResource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: EventAttributes<'a>,
}

/// `event-bulk-create-job`: one entry per profile, each with its events (Rekomi sends one each).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkEventsJob<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: BulkEventsJobAttributes<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkEventsJobAttributes<'a> {
    #[serde(rename = "events-bulk-create")]
    pub events_bulk_create: Document<Vec<BulkEventResource<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkEventResource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: BulkEventAttributes<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkEventAttributes<'a> {
    pub profile: Document<ProfileResource<EmailOnly<'a>>>,
    pub events: Document<Vec<BulkEventOne<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkEventOne<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: BulkEventOneAttributes<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BulkEventOneAttributes<'a> {
    pub properties: &'a Map<String, Value>,
    pub unique_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_currency: Option<&'a str>,
    pub metric: Document<MetricResource<'a>>,
}

// ---- responses -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Collection<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub links: Option<Links>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Single<T> {
    pub data: T,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub(crate) struct Links {
    /// Absent or `null` on the last page (the spec says string; real Klaviyo sends null).
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Resource<A> {
    #[serde(default)]
    pub id: Option<String>,
    pub attributes: A,
}

/// The account a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    /// The organisation name, or the account id when none is set.
    pub name: String,
    pub test_account: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountAttributes {
    #[serde(default)]
    pub test_account: bool,
    #[serde(default)]
    pub contact_information: Option<ContactInformation>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ContactInformation {
    #[serde(default)]
    pub organization_name: Option<String>,
}

/// A list as the picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSummary {
    pub id: String,
    pub name: String,
    /// `None` when Klaviyo sent a value Rekomi doesn't know; treated as double opt-in (the careful choice).
    pub opt_in_process: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListAttributes {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub opt_in_process: Option<String>,
}

/// What a read-back learns about one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileState {
    pub id: String,
    pub email: String,
    /// `SUBSCRIBED`, `UNSUBSCRIBED`, `NEVER_SUBSCRIBED`, … (a free string in the spec).
    pub consent: Option<String>,
    pub can_receive_email_marketing: Option<bool>,
    /// Why email marketing is blocked (HARD_BOUNCE, UNSUBSCRIBE, …).
    pub suppressions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProfileReadAttributes {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub subscriptions: Option<SubscriptionsRead>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SubscriptionsRead {
    #[serde(default)]
    pub email: Option<EmailRead>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EmailRead {
    #[serde(default)]
    pub marketing: Option<MarketingRead>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MarketingRead {
    #[serde(default)]
    pub consent: Option<String>,
    #[serde(default)]
    pub can_receive_email_marketing: Option<bool>,
    #[serde(default)]
    pub suppression: Option<Vec<SuppressionRead>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SuppressionRead {
    #[serde(default)]
    pub reason: Option<String>,
}

impl Resource<ProfileReadAttributes> {
    pub(crate) fn into_state(self) -> Option<ProfileState> {
        let marketing = self.attributes.subscriptions.and_then(|s| s.email).and_then(|e| e.marketing);
        Some(ProfileState {
            id: self.id?,
            email: self.attributes.email?.to_lowercase(),
            consent: marketing.as_ref().and_then(|m| m.consent.clone()),
            can_receive_email_marketing: marketing.as_ref().and_then(|m| m.can_receive_email_marketing),
            suppressions: marketing
                .and_then(|m| m.suppression)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| s.reason)
                .collect(),
        })
    }
}

/// Where a bulk import job stands. A status this client doesn't know reads as `Other`, which
/// is treated like one still running (it is polled again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkJobStatus {
    Queued,
    Processing,
    Complete,
    Cancelled,
    #[serde(other)]
    Other,
}

/// A bulk import job's progress.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BulkImportJob {
    #[serde(skip)]
    pub id: String,
    pub status: BulkJobStatus,
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub completed_count: Option<u64>,
    #[serde(default)]
    pub failed_count: Option<u64>,
}

/// One profile a bulk import could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub code: String,
    pub detail: String,
    pub pointer: Option<String>,
    /// The email of the row, when Klaviyo echoed it.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImportErrorAttributes {
    pub code: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub source: Option<ImportErrorSource>,
    #[serde(default)]
    pub original_payload: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImportErrorSource {
    #[serde(default)]
    pub pointer: Option<String>,
}

/// Quotes a value for a filter expression: `"a@b.com"` with `\` and `"` escaped.
pub fn filter_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `any(email,["a@b.com","c@d.com"])`.
pub fn any_email_filter(emails: &[String]) -> String {
    let quoted: Vec<String> = emails.iter().map(|e| filter_string(e)).collect();
    format!("any(email,[{}])", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_names_are_left_out_so_klaviyo_keeps_its_values() {
        let fields = ProfileFields {
            email: "ana@example.com".into(),
            first_name: Some("Ana".into()),
            last_name: Some("  ".into()),
            properties: Map::new(),
        };
        let json = serde_json::to_value(fields.attributes()).expect("serializes");
        assert_eq!(json, serde_json::json!({"email": "ana@example.com", "first_name": "Ana"}));
    }

    #[test]
    fn filters_quote_and_escape() {
        assert_eq!(
            any_email_filter(&["a@b.com".into(), "x\"y@c.com".into()]),
            r#"any(email,["a@b.com","x\"y@c.com"])"#
        );
    }
}
