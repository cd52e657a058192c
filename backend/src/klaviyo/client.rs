//! The HTTP client: one method per call, each building its request from typed parts and parsing the
//! answer into typed data or a [`KlaviyoError`]. It makes one attempt per call; pacing and retries
//! belong to the caller, which knows whether a retry is safe and how long it may wait.

use super::error::KlaviyoError;
use super::wire::{self, *};
use super::{Operation, JSON_API, REVISION};
use anyhow::Context;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::de::DeserializeOwned;
use shared::domain::klaviyo::PrivateKey;
use std::time::Duration;
use url::Url;

/// Most profiles Klaviyo takes in one subscribe job, one list-membership call, or one bulk import.
pub const MAX_SUBSCRIBE: usize = 1000;
pub const MAX_UNSUBSCRIBE: usize = 100;
pub const MAX_LIST_MEMBERSHIP: usize = 1000;
pub const MAX_BULK_IMPORT: usize = 10_000;
/// Most emails one read-back asks about (`page[size]` maximum for profiles).
pub const MAX_READ_BACK: usize = 100;
/// Events in one bulk-create call (spec: "Accepts up to 1,000 events per request").
pub const MAX_BULK_EVENTS: usize = 1000;
/// Most pages one walk follows: lists come 10 to a page, so 200 pages is 2,000 lists, far beyond
/// any real account.
const MAX_PAGES: usize = 200;

/// An opaque `page[cursor]` taken out of a `links.next` URL. Only the cursor is kept: the next page
/// is requested from the configured base URL, never from the host a response named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    fn from_next_link(link: Option<&str>) -> Option<Self> {
        let url = Url::parse(link?).ok()?;
        let cursor = url.query_pairs().find(|(k, _)| k == "page[cursor]").map(|(_, v)| v.into_owned());
        cursor.filter(|c| !c.is_empty()).map(Cursor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// The outcome of a profile-import: the profile id and whether Klaviyo created it (201) or updated
/// it (200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedProfile {
    pub id: String,
    pub created: bool,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

struct Answer {
    status: u16,
    body: bytes::Bytes,
}

impl Client {
    /// `base` is `https://a.klaviyo.com` or a fake's address; paths are appended to it.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let base = Url::parse(base.trim_end_matches('/')).with_context(|| format!("{base:?} is not a URL"))?;
        if !matches!(base.scheme(), "https" | "http") {
            anyhow::bail!("the Klaviyo API base must be an http(s) URL, not {base}");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // A redirect could carry the key to another host; Klaviyo's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Rekomi/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the Klaviyo HTTP client")?;
        Ok(Self { http, base })
    }

    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, operation: Operation, id: Option<&str>, query: &[(&str, String)]) -> Result<Url, KlaviyoError> {
        let mut url = Url::parse(&format!("{}{}", self.base(), operation.path(id)))
            .map_err(|e| KlaviyoError::Decode { operation, detail: format!("bad URL: {e}") })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    async fn call(
        &self,
        key: &PrivateKey,
        operation: Operation,
        id: Option<&str>,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, KlaviyoError> {
        let url = self.url(operation, id, query)?;
        let mut request = self
            .http
            .request(operation.method(), url)
            .header(AUTHORIZATION, format!("Klaviyo-API-Key {}", key.expose()))
            .header("revision", REVISION)
            .header(ACCEPT, JSON_API);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, JSON_API).body(body);
        }
        let transport = |e: reqwest::Error| KlaviyoError::Transport { operation, detail: transport_detail(&e) };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header(CONTENT_TYPE);
        let retry_after = header(RETRY_AFTER);
        let body = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return Ok(Answer { status, body });
        }
        let error =
            KlaviyoError::from_answer(operation, status, content_type.as_deref(), retry_after.as_deref(), &body);
        tracing::debug!(?operation, status, error = %error, "Klaviyo refused a call");
        Err(error)
    }

    fn decode<T: DeserializeOwned>(operation: Operation, answer: &Answer) -> Result<T, KlaviyoError> {
        serde_json::from_slice(&answer.body).map_err(|e| KlaviyoError::Decode { operation, detail: e.to_string() })
    }

    fn encode<T: serde::Serialize>(operation: Operation, body: &T) -> Result<Vec<u8>, KlaviyoError> {
        serde_json::to_vec(body).map_err(|e| KlaviyoError::Decode { operation, detail: e.to_string() })
    }

    fn too_many(operation: Operation, count: usize, max: usize) -> Result<(), KlaviyoError> {
        if count > max {
            return Err(KlaviyoError::Invalid {
                operation,
                pointer: None,
                parameter: None,
                detail: format!("{count} profiles in one call; Klaviyo takes at most {max}"),
            });
        }
        Ok(())
    }

    // ---- reads -----------------------------------------------------------------------------------

    /// `GET /api/accounts`: the one account the key belongs to.
    pub async fn account(&self, key: &PrivateKey) -> Result<wire::Account, KlaviyoError> {
        let op = Operation::GetAccounts;
        let answer = self.call(key, op, None, &[], None).await?;
        let body: Collection<Resource<AccountAttributes>> = Self::decode(op, &answer)?;
        let account = body
            .data
            .into_iter()
            .next()
            .ok_or_else(|| KlaviyoError::Decode { operation: op, detail: "no account in the answer".into() })?;
        let id =
            account.id.ok_or_else(|| KlaviyoError::Decode { operation: op, detail: "account without id".into() })?;
        let name = account
            .attributes
            .contact_information
            .and_then(|c| c.organization_name)
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone());
        Ok(wire::Account { id, name, test_account: account.attributes.test_account })
    }

    /// One page of lists, sorted by name, with the fields the picker shows.
    pub async fn lists_page(
        &self,
        key: &PrivateKey,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ListSummary>, KlaviyoError> {
        let op = Operation::GetLists;
        let mut query = vec![("fields[list]", "name,opt_in_process".to_owned()), ("sort", "name".to_owned())];
        if let Some(Cursor(c)) = cursor {
            query.push(("page[cursor]", c.clone()));
        }
        let answer = self.call(key, op, None, &query, None).await?;
        let body: Collection<Resource<ListAttributes>> = Self::decode(op, &answer)?;
        let next = Cursor::from_next_link(body.links.as_ref().and_then(|l| l.next.as_deref()));
        let items = body.data.into_iter().filter_map(list_summary).collect();
        Ok(Page { items, next })
    }

    /// Every list, following cursors (10 lists a page is the API's maximum).
    pub async fn all_lists(&self, key: &PrivateKey) -> Result<Vec<ListSummary>, KlaviyoError> {
        every_page(|cursor| async move { self.lists_page(key, cursor.as_ref()).await }).await
    }

    /// `GET /api/lists/{id}`: re-checks a chosen list (`NotFound` once it is deleted).
    pub async fn list(&self, key: &PrivateKey, list_id: &str) -> Result<ListSummary, KlaviyoError> {
        let op = Operation::GetList;
        let query = [("fields[list]", "name,opt_in_process".to_owned())];
        let answer = self.call(key, op, Some(list_id), &query, None).await?;
        let body: Single<Resource<ListAttributes>> = Self::decode(op, &answer)?;
        list_summary(body.data).ok_or_else(|| KlaviyoError::Decode { operation: op, detail: "list without id".into() })
    }

    /// Cheapest call that needs `lists:read`.
    pub async fn probe_lists(&self, key: &PrivateKey) -> Result<(), KlaviyoError> {
        let query = [("page[size]", "1".to_owned()), ("fields[list]", "name".to_owned())];
        self.call(key, Operation::GetLists, None, &query, None).await.map(drop)
    }

    /// Cheapest call that needs `profiles:read`.
    pub async fn probe_profiles(&self, key: &PrivateKey) -> Result<(), KlaviyoError> {
        let query = [("page[size]", "1".to_owned()), ("fields[profile]", "email".to_owned())];
        self.call(key, Operation::GetProfiles, None, &query, None).await.map(drop)
    }

    /// Cheapest call that needs `subscriptions:read`.
    pub async fn probe_subscriptions(&self, key: &PrivateKey) -> Result<(), KlaviyoError> {
        let query = [("fields[profile-suppression-bulk-create-job]", "status".to_owned())];
        self.call(key, Operation::GetSuppressionJobs, None, &query, None).await.map(drop)
    }

    /// Cheapest call that needs `events:read` (Events Full also grants the write events need).
    pub async fn probe_events(&self, key: &PrivateKey) -> Result<(), KlaviyoError> {
        let query = [("page[size]", "1".to_owned()), ("fields[event]", "datetime".to_owned())];
        self.call(key, Operation::GetEvents, None, &query, None).await.map(drop)
    }

    /// Which of `emails` are members of the list, with their email marketing consent. Emails that
    /// are not members are simply absent from the answer.
    pub async fn list_members(
        &self,
        key: &PrivateKey,
        list_id: &str,
        emails: &[String],
    ) -> Result<Vec<ProfileState>, KlaviyoError> {
        self.read_profiles(key, Operation::GetListProfiles, Some(list_id), emails).await
    }

    /// The profiles with these emails, wherever they are, with their consent.
    pub async fn profiles_by_email(
        &self,
        key: &PrivateKey,
        emails: &[String],
    ) -> Result<Vec<ProfileState>, KlaviyoError> {
        self.read_profiles(key, Operation::GetProfiles, None, emails).await
    }

    async fn read_profiles(
        &self,
        key: &PrivateKey,
        op: Operation,
        id: Option<&str>,
        emails: &[String],
    ) -> Result<Vec<ProfileState>, KlaviyoError> {
        let mut states = Vec::new();
        for chunk in emails.chunks(MAX_READ_BACK) {
            let page = |cursor: Option<Cursor>| async move {
                let mut query = vec![
                    ("filter", any_email_filter(chunk)),
                    ("additional-fields[profile]", "subscriptions".to_owned()),
                    ("fields[profile]", "email,subscriptions".to_owned()),
                    ("page[size]", MAX_READ_BACK.to_string()),
                ];
                if let Some(Cursor(c)) = cursor {
                    query.push(("page[cursor]", c));
                }
                let answer = self.call(key, op, id, &query, None).await?;
                let body: Collection<Resource<ProfileReadAttributes>> = Self::decode(op, &answer)?;
                let next = Cursor::from_next_link(body.links.as_ref().and_then(|l| l.next.as_deref()));
                Ok(Page { items: body.data.into_iter().filter_map(Resource::into_state).collect(), next })
            };
            states.extend(every_page(page).await?);
        }
        Ok(states)
    }

    // ---- writes ----------------------------------------------------------------------------------

    /// `POST /api/profile-import`: creates or updates the profile matched on email. Only the fields
    /// given are set.
    pub async fn import_profile(
        &self,
        key: &PrivateKey,
        fields: &ProfileFields,
    ) -> Result<ImportedProfile, KlaviyoError> {
        let op = Operation::ProfileImport;
        let body = Self::encode(op, &Document { data: profile(fields.attributes()) })?;
        let answer = self.call(key, op, None, &[], Some(body)).await?;
        let parsed: Single<Resource<serde_json::Value>> = Self::decode(op, &answer)?;
        let id = parsed
            .data
            .id
            .ok_or_else(|| KlaviyoError::Decode { operation: op, detail: "profile without id".into() })?;
        Ok(ImportedProfile { id, created: answer.status == 201 })
    }

    /// `POST /api/profile-import` that only removes properties (`meta.patch_properties.unset`): an
    /// erasure takes back what Rekomi wrote and nothing else.
    pub async fn unset_properties(&self, key: &PrivateKey, email: &str, names: &[&str]) -> Result<(), KlaviyoError> {
        let op = Operation::ProfileImport;
        let body = serde_json::json!({
            "data": {
                "type": "profile",
                "attributes": { "email": email },
                "meta": { "patch_properties": { "unset": names } }
            }
        });
        self.call(key, op, None, &[], Some(Self::encode(op, &body)?)).await.map(drop)
    }

    /// `POST /api/profile-bulk-import-jobs`: names and properties for up to 10,000 profiles, and
    /// optionally membership of lists (which does not change consent).
    pub async fn create_bulk_import(
        &self,
        key: &PrivateKey,
        profiles: &[ProfileFields],
        list_id: Option<&str>,
    ) -> Result<BulkImportJob, KlaviyoError> {
        let op = Operation::CreateBulkImportJob;
        Self::too_many(op, profiles.len(), MAX_BULK_IMPORT)?;
        let job = Job {
            kind: "profile-bulk-import-job",
            attributes: BulkImportAttributes {
                profiles: DataList { data: profiles.iter().map(|p| profile(p.attributes())).collect() },
            },
            relationships: list_id.map(|id| ListsRelationship {
                lists: DataList { data: vec![Identifier { kind: "list".into(), id: id.to_owned() }] },
            }),
        };
        let answer = self.call(key, op, None, &[], Some(Self::encode(op, &Document { data: job })?)).await?;
        Self::job(op, &answer)
    }

    pub async fn bulk_import_job(&self, key: &PrivateKey, job_id: &str) -> Result<BulkImportJob, KlaviyoError> {
        let op = Operation::GetBulkImportJob;
        let answer = self.call(key, op, Some(job_id), &[], None).await?;
        Self::job(op, &answer)
    }

    fn job(op: Operation, answer: &Answer) -> Result<BulkImportJob, KlaviyoError> {
        let body: Single<Resource<BulkImportJob>> = Self::decode(op, answer)?;
        let id = body.data.id.ok_or_else(|| KlaviyoError::Decode { operation: op, detail: "job without id".into() })?;
        Ok(BulkImportJob { id, ..body.data.attributes })
    }

    /// The rows a bulk import rejected, across all pages.
    pub async fn bulk_import_errors(&self, key: &PrivateKey, job_id: &str) -> Result<Vec<ImportError>, KlaviyoError> {
        let op = Operation::GetBulkImportErrors;
        every_page(|cursor: Option<Cursor>| async move {
            let query: Vec<(&str, String)> = cursor.into_iter().map(|Cursor(c)| ("page[cursor]", c)).collect();
            let answer = self.call(key, op, Some(job_id), &query, None).await?;
            let body: Collection<Resource<ImportErrorAttributes>> = Self::decode(op, &answer)?;
            let next = Cursor::from_next_link(body.links.as_ref().and_then(|l| l.next.as_deref()));
            let items = body
                .data
                .into_iter()
                .map(|r| ImportError {
                    code: r.attributes.code,
                    detail: r.attributes.detail,
                    pointer: r.attributes.source.and_then(|s| s.pointer),
                    email: r
                        .attributes
                        .original_payload
                        .as_ref()
                        .and_then(|p| p.get("email").or_else(|| p.pointer("/attributes/email")))
                        .and_then(|e| e.as_str())
                        .map(str::to_owned),
                })
                .collect();
            Ok(Page { items, next })
        })
        .await
    }

    /// `POST /api/profile-subscription-bulk-create-jobs`: email marketing consent `SUBSCRIBED` and
    /// membership of the list (after confirmation, on double opt-in lists). Klaviyo answers 202 and
    /// applies it later; only a read-back proves it happened.
    pub async fn subscribe(
        &self,
        key: &PrivateKey,
        list_id: &str,
        emails: &[String],
        custom_source: &str,
    ) -> Result<(), KlaviyoError> {
        let op = Operation::Subscribe;
        Self::too_many(op, emails.len(), MAX_SUBSCRIBE)?;
        let job = Job {
            kind: "profile-subscription-bulk-create-job",
            attributes: SubscribeAttributes { custom_source, profiles: consent_profiles(emails, "SUBSCRIBED") },
            relationships: Some(list_relationship(list_id)),
        };
        self.call(key, op, None, &[], Some(Self::encode(op, &Document { data: job })?)).await.map(drop)
    }

    /// `POST /api/profile-subscription-bulk-delete-jobs` for this list. Profiles outside the list
    /// would be unsubscribed globally, so callers send only members.
    pub async fn unsubscribe(&self, key: &PrivateKey, list_id: &str, emails: &[String]) -> Result<(), KlaviyoError> {
        let op = Operation::Unsubscribe;
        Self::too_many(op, emails.len(), MAX_UNSUBSCRIBE)?;
        let job = Job {
            kind: "profile-subscription-bulk-delete-job",
            attributes: UnsubscribeAttributes { profiles: consent_profiles(emails, "UNSUBSCRIBED") },
            relationships: Some(list_relationship(list_id)),
        };
        self.call(key, op, None, &[], Some(Self::encode(op, &Document { data: job })?)).await.map(drop)
    }

    /// Adds existing profiles to a list without touching consent (204).
    pub async fn add_to_list(
        &self,
        key: &PrivateKey,
        list_id: &str,
        profile_ids: &[String],
    ) -> Result<(), KlaviyoError> {
        self.membership(key, Operation::AddToList, list_id, profile_ids).await
    }

    /// Removes profiles from a list without touching consent (204).
    pub async fn remove_from_list(
        &self,
        key: &PrivateKey,
        list_id: &str,
        profile_ids: &[String],
    ) -> Result<(), KlaviyoError> {
        self.membership(key, Operation::RemoveFromList, list_id, profile_ids).await
    }

    async fn membership(
        &self,
        key: &PrivateKey,
        op: Operation,
        list_id: &str,
        profile_ids: &[String],
    ) -> Result<(), KlaviyoError> {
        Self::too_many(op, profile_ids.len(), MAX_LIST_MEMBERSHIP)?;
        let data: Vec<Identifier> =
            profile_ids.iter().map(|id| Identifier { kind: "profile".into(), id: id.clone() }).collect();
        self.call(key, op, Some(list_id), &[], Some(Self::encode(op, &DataList { data })?)).await.map(drop)
    }

    /// `POST /api/events` (202). The `unique_id` makes a retried event count once.
    pub async fn create_event(&self, key: &PrivateKey, event: &NewEvent) -> Result<(), KlaviyoError> {
        let op = Operation::CreateEvent;
        let resource = EventResource {
            kind: "event",
            attributes: EventAttributes {
                properties: &event.properties,
                unique_id: &event.unique_id,
                value: event.value,
                value_currency: event.value_currency.as_deref(),
                metric: Document {
                    data: MetricResource { kind: "metric", attributes: MetricName { name: &event.metric } },
                },
                profile: Document { data: profile(EmailOnly { email: &event.email }) },
            },
        };
        self.call(key, op, None, &[], Some(Self::encode(op, &Document { data: resource })?)).await.map(drop)
    }

    /// `POST /api/event-bulk-create-jobs`: up to [`MAX_BULK_EVENTS`] events in one call, each with
    /// its own `unique_id`. Klaviyo validates the whole batch: one bad event refuses all of them.
    pub async fn create_events_bulk(&self, key: &PrivateKey, events: &[NewEvent]) -> Result<(), KlaviyoError> {
        let op = Operation::CreateEventBulk;
        Self::too_many(op, events.len(), MAX_BULK_EVENTS)?;
        let data: Vec<_> = events
            .iter()
            .map(|event| BulkEventResource {
                kind: "event-bulk-create",
                attributes: BulkEventAttributes {
                    profile: Document { data: profile(EmailOnly { email: &event.email }) },
                    events: Document {
                        data: vec![BulkEventOne {
                            kind: "event",
                            attributes: BulkEventOneAttributes {
                                properties: &event.properties,
                                unique_id: &event.unique_id,
                                value: event.value,
                                value_currency: event.value_currency.as_deref(),
                                metric: Document {
                                    data: MetricResource {
                                        kind: "metric",
                                        attributes: MetricName { name: &event.metric },
                                    },
                                },
                            },
                        }],
                    },
                },
            })
            .collect();
        let body = BulkEventsJob {
            kind: "event-bulk-create-job",
            attributes: BulkEventsJobAttributes { events_bulk_create: Document { data } },
        };
        self.call(key, op, None, &[], Some(Self::encode(op, &Document { data: body })?)).await.map(drop)
    }
}

/// Follows `next` cursors from the first page, at most `MAX_PAGES` pages. A cursor that repeats
/// would loop forever, so it ends the walk with what was read.
async fn every_page<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, KlaviyoError>
where
    F: FnMut(Option<Cursor>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, KlaviyoError>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<Cursor> = None;
    for _ in 0..MAX_PAGES {
        let page = fetch(cursor.clone()).await?;
        items.extend(page.items);
        match page.next {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => break,
        }
    }
    Ok(items)
}

fn list_summary(resource: Resource<ListAttributes>) -> Option<ListSummary> {
    Some(ListSummary {
        id: resource.id?,
        name: resource.attributes.name.unwrap_or_default(),
        opt_in_process: resource.attributes.opt_in_process,
    })
}

fn consent_profiles<'a>(
    emails: &'a [String],
    consent: &'static str,
) -> DataList<ProfileResource<ConsentAttributes<'a>>> {
    DataList {
        data: emails
            .iter()
            .map(|email| {
                profile(ConsentAttributes {
                    email,
                    subscriptions: Subscriptions { email: EmailChannel { marketing: Consent { consent } } },
                })
            })
            .collect(),
    }
}

fn list_relationship(list_id: &str) -> ListRelationship {
    ListRelationship { list: Document { data: Identifier { kind: "list".into(), id: list_id.to_owned() } } }
}

/// The cause of a network failure without the URL (which is harmless, but noisy) or the request.
fn transport_detail(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the connection closed mid-answer"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(error);
    let mut causes = Vec::new();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_cursor_of_a_next_link() {
        let cursor = Cursor::from_next_link(Some("https://evil.example/api/lists/?page%5Bcursor%5D=bmV4dA&x=1"));
        assert_eq!(cursor, Some(Cursor("bmV4dA".into())));
        assert_eq!(Cursor::from_next_link(None), None);
        assert_eq!(Cursor::from_next_link(Some("https://a.klaviyo.com/api/lists/")), None);
    }
}
