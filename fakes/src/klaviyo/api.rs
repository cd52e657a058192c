//! The fake's `/api/*`: one entry that checks, in Klaviyo's order, faults, route, auth, scopes,
//! rate limits and the revision header, then hands the call to its operation.

// A refusal is built once per failed request of a test fake; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::jsonapi::{self, check_fields, decode_cursor, encode_cursor, only, page_size, parse_filter, Refusal};
use super::world::{
    Account, Exchange, ImportJob, ImportRowError, Pace, PendingChange, PendingJob, ProfileUpsert, World,
};
use super::Fake;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use backend::klaviyo::Operation;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

type Answer = Result<(StatusCode, Option<Value>), Refusal>;

/// What to send back, kept as data so the exchange log can hold it too.
enum Outcome {
    Json { status: StatusCode, body: Option<Value>, headers: Vec<(&'static str, String)> },
    Html { status: StatusCode },
    Drop,
}

pub async fn handle(State(fake): State<Fake>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let latency = fake.world.lock().map(|w| w.faults.latency_ms).unwrap_or(0);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let Ok(mut world) = fake.world.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (outcome, operation) = answer(&mut world, &method, &uri, &headers, &body);
    let (status, response_body) = match &outcome {
        Outcome::Json { status, body, .. } => (status.as_u16(), body.clone()),
        Outcome::Html { status } => (status.as_u16(), None),
        Outcome::Drop => (0, None),
    };
    world.record(Exchange {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), redact(k.as_str(), v))))
            .collect(),
        body: serde_json::from_slice(&body).ok(),
        raw_body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
        status,
        response: response_body,
        operation: operation.map(|o| format!("{o:?}")),
        edge: matches!(outcome, Outcome::Html { .. }),
        at: std::time::SystemTime::now(),
    });
    drop(world);
    match outcome {
        Outcome::Json { status, body, headers } => {
            let mut response = match body {
                Some(body) => jsonapi::json_response(status, &body),
                None => jsonapi::empty(status),
            };
            for (name, value) in headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Outcome::Html { status } => {
            let mut response =
                (status, "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>")
                    .into_response();
            response.headers_mut().insert("content-type", HeaderValue::from_static("text/html; charset=UTF-8"));
            response.headers_mut().insert("cf-mitigated", HeaderValue::from_static("challenge"));
            response
        }
        Outcome::Drop => {
            // Promise a body, then fail the stream: the client sees the connection close mid-answer.
            let stream = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "dropped"))
            });
            let mut response = Response::new(Body::from_stream(stream));
            response.headers_mut().insert("content-length", HeaderValue::from_static("64"));
            response
        }
    }
}

fn refusal(r: Refusal) -> Outcome {
    let mut headers = Vec::new();
    if let Some(secs) = r.retry_after {
        headers.push(("retry-after", secs.to_string()));
    }
    Outcome::Json { status: r.status, body: Some(r.body()), headers }
}

fn route(method: &Method, path: &str) -> Option<(Operation, Option<String>)> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    Operation::ALL.into_iter().find_map(|op| {
        if op.method() != *method {
            return None;
        }
        let template: Vec<&str> = op.template().split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut id = None;
        for (t, s) in template.iter().zip(&segments) {
            if t.starts_with('{') {
                let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?.into_owned();
                id = Some(decoded);
            } else if t != s {
                return None;
            }
        }
        Some((op, id))
    })
}

fn answer(
    world: &mut World,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> (Outcome, Option<Operation>) {
    let mut rng = rand::thread_rng();
    let faults = world.faults.clone();
    if rng.gen_bool(faults.drop_rate.clamp(0.0, 1.0)) {
        return (Outcome::Drop, None);
    }
    if rng.gen_bool(faults.edge_challenge_rate.clamp(0.0, 1.0)) {
        return (Outcome::Html { status: StatusCode::FORBIDDEN }, None);
    }
    if rng.gen_bool(faults.throttle_rate.clamp(0.0, 1.0)) {
        return (refusal(Refusal::throttled(1)), None);
    }
    if faults.internal_errors_next > 0 {
        world.faults.internal_errors_next -= 1;
        return (refusal(Refusal::server_error(StatusCode::INTERNAL_SERVER_ERROR)), None);
    }
    if rng.gen_bool(faults.server_error_rate.clamp(0.0, 1.0)) {
        return (refusal(Refusal::server_error(StatusCode::SERVICE_UNAVAILABLE)), None);
    }
    let Some((operation, id)) = route(method, uri.path()) else {
        return (refusal(Refusal::not_found(format!("The path {} could not be found.", uri.path()))), None);
    };
    // 1. Authentication.
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Klaviyo-API-Key "))
        .map(str::trim);
    let Some(key) = key else { return (refusal(Refusal::not_authenticated()), Some(operation)) };
    let grant = match world.keys.get(key) {
        Some(grant) if !grant.revoked && world.accounts.contains_key(&grant.account_id) => grant.clone(),
        _ => return (refusal(Refusal::authentication_failed()), Some(operation)),
    };
    // 2. Scopes.
    if !operation.scopes().iter().all(|s| grant.scopes.contains(s)) {
        return (refusal(Refusal::permission_denied()), Some(operation));
    }
    // 3. Rate limits, per account and operation.
    let now = Instant::now();
    let (limit, remaining, reset) = match world.pace(&grant.account_id, operation, now) {
        Pace::Throttled { retry_after } => return (refusal(Refusal::throttled(retry_after)), Some(operation)),
        Pace::Allowed { limit, remaining, reset } => (limit, remaining, reset),
    };
    let rate_headers = vec![
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
    ];
    // 4. Validation: revision, media type, query, body.
    let validated = validate_revision(headers).and_then(|()| {
        let query = jsonapi::parse_query(uri.query())?;
        let body = parse_body(operation, headers, body)?;
        Ok((query, body))
    });
    let (query, body) = match validated {
        Ok(parts) => parts,
        Err(r) => return (refusal(r), Some(operation)),
    };
    let base = faults.next_link_origin.clone().unwrap_or_else(|| world.base_url.clone());
    let self_link = format!("{}{}", world.base_url, uri);
    let Some(account) = world.accounts.get_mut(&grant.account_id) else {
        return (refusal(Refusal::authentication_failed()), Some(operation));
    };
    account.settle(now);
    let ctx = Ctx { base, self_link, path: uri.path().to_owned(), query, faults: &faults };
    let result = dispatch(operation, id.as_deref().unwrap_or(""), account, &ctx, body.as_ref());
    match result {
        Ok((status, body)) => (Outcome::Json { status, body, headers: rate_headers }, Some(operation)),
        Err(r) => {
            let mut outcome = refusal(r);
            if let Outcome::Json { headers, .. } = &mut outcome {
                headers.extend(rate_headers);
            }
            (outcome, Some(operation))
        }
    }
}

struct Ctx<'a> {
    base: String,
    self_link: String,
    path: String,
    query: BTreeMap<String, String>,
    faults: &'a super::world::Faults,
}

impl Ctx<'_> {
    fn links(&self, next_offset: Option<usize>) -> Value {
        let mut links = json!({ "self": self.self_link });
        if let Some(offset) = next_offset {
            let mut query = self.query.clone();
            query.insert("page[cursor]".into(), encode_cursor(offset));
            let encoded: String =
                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query.iter()).finish();
            links["next"] = json!(format!("{}{}?{}", self.base, self.path, encoded));
        }
        links
    }

    fn object_link(&self, path: &str) -> Value {
        json!({ "self": format!("{}{path}", self.base) })
    }
}

fn validate_revision(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(raw) = headers.get("revision").and_then(|v| v.to_str().ok()) else {
        return Err(Refusal::invalid_parameter("Missing required header 'revision'.", "revision"));
    };
    let date = raw.split('.').next().unwrap_or("");
    let well_formed = date.len() == 10
        && date.chars().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if !well_formed {
        return Err(Refusal::invalid_parameter(format!("Invalid revision '{raw}'. Use YYYY-MM-DD."), "revision"));
    }
    Ok(())
}

fn parse_body(operation: Operation, headers: &HeaderMap, body: &[u8]) -> Result<Option<Value>, Refusal> {
    if operation.method() == Method::GET {
        return Ok(None);
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !(content_type.starts_with("application/vnd.api+json") || content_type.starts_with("application/json")) {
        let mut r = Refusal::invalid("Unsupported media type; send application/vnd.api+json.", "/data");
        r.status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        r.code = "unsupported_media_type";
        return Err(r);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| Refusal::invalid(format!("JSON parse error - {e}"), "/data"))
}

fn dispatch(op: Operation, id: &str, account: &mut Account, ctx: &Ctx<'_>, body: Option<&Value>) -> Answer {
    let empty = Value::Null;
    let body = body.unwrap_or(&empty);
    match op {
        Operation::GetAccounts => get_accounts(account, ctx),
        Operation::GetLists => get_lists(account, ctx),
        Operation::GetList => get_list(account, ctx, id),
        Operation::GetListProfiles => get_profiles(account, ctx, Some(id)),
        Operation::GetProfiles => get_profiles(account, ctx, None),
        Operation::GetSuppressionJobs => {
            only(&ctx.query, &["fields[profile-suppression-bulk-create-job]", "filter", "page[cursor]", "sort"])?;
            Ok((StatusCode::OK, Some(json!({ "data": [], "links": ctx.links(None) }))))
        }
        Operation::ProfileImport => profile_import(account, ctx, body),
        Operation::CreateProfile => create_profile(account, ctx, body),
        Operation::CreateBulkImportJob => create_import(account, ctx, body),
        Operation::GetBulkImportJob => {
            only(&ctx.query, &["fields[list]", "fields[profile-bulk-import-job]", "include"])?;
            let job = account.import_jobs.get(id).ok_or_else(|| Refusal::not_found(format!("Job {id} not found.")))?;
            Ok((StatusCode::OK, Some(json!({ "data": import_job_json(job, ctx), "links": ctx.links(None) }))))
        }
        Operation::GetBulkImportErrors => import_errors(account, ctx, id),
        Operation::Subscribe => consent_job(account, ctx, body, true),
        Operation::Unsubscribe => consent_job(account, ctx, body, false),
        Operation::AddToList | Operation::RemoveFromList => membership(account, ctx, body, id, op),
        Operation::GetEvents => {
            only(
                &ctx.query,
                &[
                    "fields[event]",
                    "fields[metric]",
                    "fields[profile]",
                    "filter",
                    "include",
                    "page[cursor]",
                    "page[size]",
                    "sort",
                ],
            )?;
            page_size(&ctx.query, 200, 1000)?;
            Ok((StatusCode::OK, Some(json!({ "data": [], "links": ctx.links(None) }))))
        }
        Operation::CreateEvent => create_event(account, ctx, body),
        Operation::CreateEventBulk => create_events_bulk(account, ctx, body),
    }
}

// ---- reads ---------------------------------------------------------------------------------------

fn iso(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

fn get_accounts(account: &Account, ctx: &Ctx<'_>) -> Answer {
    only(&ctx.query, &["fields[account]"])?;
    let data = json!([{
        "type": "account",
        "id": account.id,
        "attributes": {
            "test_account": account.test_account,
            "contact_information": {
                "default_sender_name": account.name,
                "default_sender_email": "hello@example.com",
                "website_url": "https://example.com",
                "organization_name": account.name,
                "street_address": {
                    "address1": "1 Main St", "address2": "", "city": "Boston", "region": "MA",
                    "country": "US", "zip": "02110"
                }
            },
            "industry": "Retail",
            "timezone": "America/New_York",
            "preferred_currency": "USD",
            "public_api_key": account.id.chars().take(6).collect::<String>(),
            "locale": "en-US"
        },
        "links": ctx.object_link(&format!("/api/accounts/{}/", account.id))
    }]);
    Ok((StatusCode::OK, Some(json!({ "data": data, "links": ctx.links(None) }))))
}

const LIST_FIELDS: [&str; 5] = ["created", "id", "name", "opt_in_process", "updated"];

fn list_json(list: &super::world::List, ctx: &Ctx<'_>, profile_count: Option<usize>) -> Value {
    let fields: Option<Vec<&str>> = ctx.query.get("fields[list]").map(|f| f.split(',').collect());
    let mut attributes = Map::new();
    let all = [
        ("name", json!(list.name)),
        ("created", json!(iso(list.created))),
        ("updated", json!(iso(list.updated))),
        ("opt_in_process", json!(if list.double_opt_in { "double_opt_in" } else { "single_opt_in" })),
    ];
    for (k, v) in all {
        if fields.as_ref().is_none_or(|f| f.contains(&k)) {
            attributes.insert(k.into(), v);
        }
    }
    if let Some(count) = profile_count {
        attributes.insert("profile_count".into(), json!(count));
    }
    json!({
        "type": "list",
        "id": list.id,
        "attributes": attributes,
        "links": ctx.object_link(&format!("/api/lists/{}/", list.id)),
    })
}

fn get_lists(account: &Account, ctx: &Ctx<'_>) -> Answer {
    let q = &ctx.query;
    only(
        q,
        &["fields[flow]", "fields[list]", "fields[tag]", "filter", "include", "page[cursor]", "page[size]", "sort"],
    )?;
    check_fields(q, "fields[list]", &LIST_FIELDS)?;
    let size = page_size(q, 10, 10)?;
    let offset = decode_cursor(q)?;
    let mut lists: Vec<&super::world::List> = account.lists.values().collect();
    if let Some(raw) = q.get("filter") {
        for term in parse_filter(raw)? {
            let ok_op = matches!((term.field.as_str(), term.op.as_str()), ("name" | "id", "any" | "equals"));
            if !ok_op {
                return Err(Refusal::invalid_parameter(
                    format!("'{}' is not a valid filter operator for '{}'.", term.op, term.field),
                    "filter",
                ));
            }
            lists.retain(|l| term.values.iter().any(|v| if term.field == "name" { &l.name == v } else { &l.id == v }));
        }
    }
    let sort = q.get("sort").map(String::as_str).unwrap_or("id");
    let (desc, key) = sort.strip_prefix('-').map_or((false, sort), |k| (true, k));
    match key {
        "name" => lists.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id))),
        "created" => lists.sort_by_key(|l| (l.created, l.id.clone())),
        "updated" => lists.sort_by_key(|l| (l.updated, l.id.clone())),
        "id" => lists.sort_by(|a, b| a.id.cmp(&b.id)),
        other => return Err(Refusal::invalid_parameter(format!("'{other}' is not a valid sort field."), "sort")),
    }
    if desc {
        lists.reverse();
    }
    let page: Vec<Value> = lists.iter().skip(offset).take(size).map(|l| list_json(l, ctx, None)).collect();
    let next = (offset + size < lists.len()).then_some(offset + size);
    Ok((StatusCode::OK, Some(json!({ "data": page, "links": ctx.links(next) }))))
}

fn get_list(account: &Account, ctx: &Ctx<'_>, id: &str) -> Answer {
    only(&ctx.query, &["additional-fields[list]", "fields[flow]", "fields[list]", "fields[tag]", "include"])?;
    check_fields(&ctx.query, "fields[list]", &LIST_FIELDS)?;
    let list =
        account.lists.get(id).ok_or_else(|| Refusal::not_found(format!("A list with id {id} does not exist.")))?;
    let count = ctx.query.get("additional-fields[list]").filter(|v| v.split(',').any(|f| f == "profile_count"));
    let body = json!({ "data": list_json(list, ctx, count.map(|_| list.members.len())), "links": ctx.links(None) });
    Ok((StatusCode::OK, Some(body)))
}

fn profile_json(
    p: &super::world::Profile,
    ctx: &Ctx<'_>,
    joined: Option<SystemTime>,
    with_subscriptions: bool,
    list_member: bool,
) -> Value {
    let mut attributes = Map::new();
    attributes.insert("email".into(), json!(p.email));
    attributes.insert("phone_number".into(), json!(p.phone_number));
    attributes.insert("first_name".into(), json!(p.first_name));
    attributes.insert("last_name".into(), json!(p.last_name));
    attributes.insert("properties".into(), Value::Object(p.properties.clone()));
    attributes.insert("created".into(), json!(iso(p.created)));
    attributes.insert("updated".into(), json!(iso(p.updated)));
    if list_member {
        attributes.insert("joined_group_at".into(), json!(joined.map(iso)));
    }
    if with_subscriptions {
        let suppression: Vec<Value> = p
            .suppressions
            .iter()
            .filter(|s| {
                matches!(
                    s.as_str(),
                    "HARD_BOUNCE" | "INVALID_EMAIL" | "SPAM_COMPLAINT" | "UNSUBSCRIBE" | "USER_SUPPRESSED"
                )
            })
            .map(|s| json!({ "reason": s, "timestamp": iso(p.updated) }))
            .collect();
        attributes.insert(
            "subscriptions".into(),
            json!({ "email": { "marketing": {
                "can_receive_email_marketing": p.suppressions.is_empty() && p.consent != "UNSUBSCRIBED",
                "consent": p.consent,
                "consent_timestamp": p.consent_at.map(iso),
                "last_updated": iso(p.updated),
                "method": p.consent_at.map(|_| "API"),
                "method_detail": p.custom_source.clone().unwrap_or_default(),
                "double_optin": p.double_optin,
                "suppression": suppression,
                "list_suppressions": [],
            }}}),
        );
    }
    // Sparse fieldsets: keep the requested top-level attributes (a dotted name keeps its root).
    if let Some(fields) = ctx.query.get("fields[profile]") {
        let roots: Vec<&str> = fields.split(',').map(|f| f.split('.').next().unwrap_or(f)).collect();
        attributes.retain(|k, _| roots.contains(&k.as_str()) || (k == "joined_group_at" && list_member));
    }
    json!({
        "type": "profile",
        "id": p.id,
        "attributes": attributes,
        "links": ctx.object_link(&format!("/api/profiles/{}/", p.id)),
    })
}

fn get_profiles(account: &Account, ctx: &Ctx<'_>, list_id: Option<&str>) -> Answer {
    let q = &ctx.query;
    let common = ["additional-fields[profile]", "fields[profile]", "filter", "page[cursor]", "page[size]", "sort"];
    if list_id.is_some() {
        only(q, &common)?;
    } else {
        let mut allowed = common.to_vec();
        allowed.extend(["fields[conversation]", "fields[push-token]", "include"]);
        only(q, &allowed)?;
    }
    check_fields(q, "additional-fields[profile]", &["subscriptions", "predictive_analytics"])?;
    let size = page_size(q, 20, 100)?;
    let offset = decode_cursor(q)?;
    let with_subscriptions =
        q.get("additional-fields[profile]").is_some_and(|v| v.split(',').any(|f| f == "subscriptions"));
    let members: Option<&super::world::List> = match list_id {
        Some(id) => Some(
            account.lists.get(id).ok_or_else(|| Refusal::not_found(format!("A list with id {id} does not exist.")))?,
        ),
        None => None,
    };
    let mut profiles: Vec<&super::world::Profile> = match members {
        Some(list) => list.members.keys().filter_map(|id| account.profiles.get(id)).collect(),
        None => account.profiles.values().collect(),
    };
    if let Some(raw) = q.get("filter") {
        for term in parse_filter(raw)? {
            if !(term.field == "email" && matches!(term.op.as_str(), "any" | "equals")) {
                return Err(Refusal::invalid_parameter(
                    format!("'{}' is not a valid filter operator for '{}'.", term.op, term.field),
                    "filter",
                ));
            }
            if term.op == "any" && term.values.len() > 100 {
                return Err(Refusal::invalid_parameter("'any' takes at most 100 values.", "filter"));
            }
            let wanted: Vec<String> = term.values.iter().map(|v| v.to_lowercase()).collect();
            profiles.retain(|p| wanted.contains(&p.email));
        }
    }
    let page: Vec<Value> = profiles
        .iter()
        .skip(offset)
        .take(size)
        .map(|p| {
            let joined = members.and_then(|l| l.members.get(&p.id).copied());
            profile_json(p, ctx, joined, with_subscriptions, members.is_some())
        })
        .collect();
    let next = (offset + size < profiles.len()).then_some(offset + size);
    Ok((StatusCode::OK, Some(json!({ "data": page, "links": ctx.links(next) }))))
}

fn import_job_json(job: &ImportJob, ctx: &Ctx<'_>) -> Value {
    json!({
        "type": "profile-bulk-import-job",
        "id": job.id,
        "attributes": {
            "status": job.status,
            "created_at": iso(job.created),
            "total_count": job.total,
            "completed_count": job.completed,
            "failed_count": job.failed,
            "completed_at": (job.status == "complete").then(|| iso(SystemTime::now())),
            "expires_at": null,
            "started_at": iso(job.created),
        },
        "links": ctx.object_link(&format!("/api/profile-bulk-import-jobs/{}/", job.id)),
    })
}

fn import_errors(account: &Account, ctx: &Ctx<'_>, id: &str) -> Answer {
    only(&ctx.query, &["fields[import-error]", "page[cursor]", "page[size]"])?;
    let job = account.import_jobs.get(id).ok_or_else(|| Refusal::not_found(format!("Job {id} not found.")))?;
    let size = page_size(&ctx.query, 20, 100)?;
    let offset = decode_cursor(&ctx.query)?;
    let page: Vec<Value> = job
        .errors
        .iter()
        .skip(offset)
        .take(size)
        .map(|e| {
            json!({
                "type": "import-error",
                "id": e.id,
                "attributes": {
                    "code": e.code, "title": "Invalid input.", "detail": e.detail,
                    "source": { "pointer": e.pointer },
                    "original_payload": { "email": e.email },
                },
            })
        })
        .collect();
    let next = (offset + size < job.errors.len()).then_some(offset + size);
    Ok((StatusCode::OK, Some(json!({ "data": page, "links": ctx.links(next) }))))
}

// ---- writes --------------------------------------------------------------------------------------

/// Reads `body` at a JSON pointer, or refuses naming the pointer.
fn at<'a>(body: &'a Value, pointer: &str) -> Result<&'a Value, Refusal> {
    body.pointer(pointer).ok_or_else(|| Refusal::invalid(format!("'{}' is required.", last(pointer)), pointer))
}

fn last(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or(pointer)
}

fn object<'a>(body: &'a Value, pointer: &str) -> Result<&'a Map<String, Value>, Refusal> {
    at(body, pointer)?
        .as_object()
        .ok_or_else(|| Refusal::invalid(format!("'{}' must be an object.", last(pointer)), pointer))
}

fn expect_type(body: &Value, pointer: &str, expected: &str) -> Result<(), Refusal> {
    match at(body, &format!("{pointer}/type"))?.as_str() {
        Some(t) if t == expected => Ok(()),
        other => Err(Refusal::invalid(
            format!("Expected type '{expected}', got {}.", other.map_or("none".to_owned(), |t| format!("'{t}'"))),
            format!("{pointer}/type"),
        )),
    }
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], pointer: &str, resource: &str) -> Result<(), Refusal> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Refusal::invalid(
            format!("'{k}' is not a valid field for the resource '{resource}'."),
            format!("{pointer}/{k}"),
        )),
        None => Ok(()),
    }
}

/// Good enough for a fake: one `@`, something before it, a dotted domain, no spaces.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
}

fn email_at(body: &Value, pointer: &str) -> Result<String, Refusal> {
    let raw = at(body, pointer)?.as_str().ok_or_else(|| Refusal::invalid("'email' must be a string.", pointer))?;
    if !valid_email(raw) {
        return Err(Refusal::invalid(format!("Invalid email address '{raw}'."), pointer));
    }
    Ok(raw.to_lowercase())
}

const PROFILE_FIELDS: [&str; 12] = [
    "email",
    "phone_number",
    "external_id",
    "_kx",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
    "location",
    "properties",
];

/// Parses one profile's attributes for an upsert (profile-import or a bulk-import row).
fn upsert_from(attributes: &Map<String, Value>, pointer: &str, meta: Option<&Value>) -> Result<ProfileUpsert, Refusal> {
    only_keys(attributes, &PROFILE_FIELDS, pointer, "profile")?;
    let wrapper = Value::Object(attributes.clone());
    let email = email_at(&wrapper, "/email").map_err(|mut r| {
        r.pointer = Some(format!("{pointer}/email"));
        r
    })?;
    let text = |name: &str| -> Result<Option<Option<String>>, Refusal> {
        match attributes.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(Refusal::invalid(format!("'{name}' must be a string."), format!("{pointer}/{name}"))),
        }
    };
    let properties = match attributes.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(Refusal::invalid("'properties' must be an object.", format!("{pointer}/properties"))),
    };
    let unset = meta
        .and_then(|m| m.pointer("/patch_properties/unset"))
        .map(|u| match u {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    let phone_number = text("phone_number")?.flatten();
    Ok(ProfileUpsert {
        email,
        phone_number,
        first_name: text("first_name")?,
        last_name: text("last_name")?,
        properties,
        unset,
    })
}

fn profile_import(account: &mut Account, ctx: &Ctx<'_>, body: &Value) -> Answer {
    only(&ctx.query, &["additional-fields[profile]", "fields[profile]"])?;
    expect_type(body, "/data", "profile")?;
    let attributes = object(body, "/data/attributes")?;
    let upsert = upsert_from(attributes, "/data/attributes", body.pointer("/data/meta"))?;
    if let Some(holder) = upsert.phone_number.as_deref().and_then(|phone| account.phone_conflict(&upsert.email, phone))
    {
        return Err(Refusal::duplicate_profile(&holder));
    }
    let (id, created) = account.upsert(&upsert);
    let profile = account.profiles.get(&id).ok_or_else(|| Refusal::not_found("profile vanished"))?;
    let data = profile_json(profile, ctx, None, false, false);
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Some(json!({ "data": data, "links": ctx.object_link(&format!("/api/profiles/{id}/")) }))))
}

/// `POST /api/profiles` creates only: an email or phone number that exists answers 409 with the
/// existing profile's id (what real Klaviyo does; the spec lists only 201).
fn create_profile(account: &mut Account, ctx: &Ctx<'_>, body: &Value) -> Answer {
    only(&ctx.query, &["additional-fields[profile]", "fields[profile]"])?;
    expect_type(body, "/data", "profile")?;
    let attributes = object(body, "/data/attributes")?;
    let upsert = upsert_from(attributes, "/data/attributes", None)?;
    let existing = account
        .profile_by_email(&upsert.email)
        .map(|p| p.id.clone())
        .or_else(|| upsert.phone_number.as_deref().and_then(|phone| account.phone_conflict(&upsert.email, phone)));
    if let Some(id) = existing {
        return Err(Refusal::duplicate_profile(&id));
    }
    let (id, _) = account.upsert(&upsert);
    let profile = account.profiles.get(&id).ok_or_else(|| Refusal::not_found("profile vanished"))?;
    let data = profile_json(profile, ctx, None, false, false);
    Ok((StatusCode::CREATED, Some(json!({ "data": data, "links": ctx.object_link(&format!("/api/profiles/{id}/")) }))))
}

fn create_import(account: &mut Account, ctx: &Ctx<'_>, body: &Value) -> Answer {
    only(&ctx.query, &["fields[profile-bulk-import-job]"])?;
    expect_type(body, "/data", "profile-bulk-import-job")?;
    only_keys(object(body, "/data/attributes")?, &["profiles"], "/data/attributes", "profile-bulk-import-job")?;
    let rows = at(body, "/data/attributes/profiles/data")?
        .as_array()
        .ok_or_else(|| Refusal::invalid("'data' must be a list.", "/data/attributes/profiles/data"))?;
    if rows.is_empty() || rows.len() > 10_000 {
        return Err(Refusal::invalid("A job takes 1 to 10000 profiles.", "/data/attributes/profiles/data"));
    }
    let mut list_ids = Vec::new();
    if let Some(lists) = body.pointer("/data/relationships/lists/data").and_then(Value::as_array) {
        for (i, list) in lists.iter().enumerate() {
            let id = list.get("id").and_then(Value::as_str).unwrap_or("");
            if !account.lists.contains_key(id) {
                return Err(Refusal::invalid(
                    format!("A list with id '{id}' does not exist."),
                    format!("/data/relationships/lists/data/{i}/id"),
                ));
            }
            list_ids.push(id.to_owned());
        }
    }
    let mut accepted = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let pointer = format!("/data/attributes/profiles/data/{i}/attributes");
        let parsed = expect_type(body, &format!("/data/attributes/profiles/data/{i}"), "profile")
            .and_then(|()| {
                row.get("attributes")
                    .and_then(Value::as_object)
                    .ok_or_else(|| Refusal::invalid("'attributes' is required.", &pointer))
            })
            .and_then(|attrs| upsert_from(attrs, &pointer, row.get("meta")));
        match parsed {
            Ok(upsert) => accepted.push((i, upsert)),
            Err(r) => errors.push(ImportRowError {
                id: jsonapi::random_id(20),
                code: r.code.into(),
                detail: r.detail,
                pointer: r.pointer.unwrap_or(pointer),
                email: row.pointer("/attributes/email").and_then(Value::as_str).map(str::to_owned),
            }),
        }
    }
    let id = jsonapi::random_id(24);
    let delay = Duration::from_millis(ctx.faults.job_delay_ms);
    let never = ctx.faults.jobs_never_apply || ctx.faults.drops_job();
    let job = ImportJob {
        id: id.clone(),
        created: SystemTime::now(),
        total: rows.len(),
        completed: 0,
        failed: errors.len(),
        status: "queued",
        errors,
        // "Never" is a day: long past any test or benchmark.
        apply_at: Instant::now() + if never { Duration::from_secs(86_400) } else { delay },
        rows: accepted,
        list_ids,
    };
    let data = import_job_json(&job, ctx);
    account.import_jobs.insert(id, job);
    Ok((StatusCode::ACCEPTED, Some(json!({ "data": data, "links": ctx.links(None) }))))
}

fn consent_job(account: &mut Account, ctx: &Ctx<'_>, body: &Value, subscribe: bool) -> Answer {
    only(&ctx.query, &[])?;
    let (kind, consent, max) = if subscribe {
        ("profile-subscription-bulk-create-job", "SUBSCRIBED", 1000)
    } else {
        ("profile-subscription-bulk-delete-job", "UNSUBSCRIBED", 100)
    };
    expect_type(body, "/data", kind)?;
    let attributes = object(body, "/data/attributes")?;
    let allowed: &[&str] = if subscribe { &["custom_source", "profiles", "historical_import"] } else { &["profiles"] };
    only_keys(attributes, allowed, "/data/attributes", kind)?;
    let historical = attributes.get("historical_import").and_then(Value::as_bool).unwrap_or(false);
    let rows = at(body, "/data/attributes/profiles/data")?
        .as_array()
        .ok_or_else(|| Refusal::invalid("'data' must be a list.", "/data/attributes/profiles/data"))?;
    if rows.is_empty() || rows.len() > max {
        return Err(Refusal::invalid(format!("A job takes 1 to {max} profiles."), "/data/attributes/profiles/data"));
    }
    let mut emails = Vec::with_capacity(rows.len());
    for i in 0..rows.len() {
        let base = format!("/data/attributes/profiles/data/{i}");
        expect_type(body, &base, "profile")?;
        let attrs = object(body, &format!("{base}/attributes"))?;
        only_keys(
            attrs,
            &["email", "phone_number", "subscriptions", "age_gated_date_of_birth"],
            &format!("{base}/attributes"),
            "profile",
        )?;
        emails.push(email_at(body, &format!("{base}/attributes/email"))?);
        let marketing = format!("{base}/attributes/subscriptions/email/marketing");
        let given = at(body, &format!("{marketing}/consent"))?.as_str().unwrap_or("");
        if given != consent {
            return Err(Refusal::invalid(format!("'consent' must be '{consent}'."), format!("{marketing}/consent")));
        }
        match (body.pointer(&format!("{marketing}/consented_at")), historical) {
            (Some(_), false) => {
                return Err(Refusal::invalid(
                    "'consented_at' can only be set for historical imports.",
                    format!("{marketing}/consented_at"),
                ))
            }
            (None, true) => {
                return Err(Refusal::invalid(
                    "'consented_at' is required for historical imports.",
                    format!("{marketing}/consented_at"),
                ))
            }
            _ => {}
        }
    }
    let list_id = match body.pointer("/data/relationships/list/data") {
        None => None,
        Some(list) => {
            if list.get("type").and_then(Value::as_str) != Some("list") {
                return Err(Refusal::invalid("Expected type 'list'.", "/data/relationships/list/data/type"));
            }
            let id = list.get("id").and_then(Value::as_str).unwrap_or("");
            if !account.lists.contains_key(id) {
                return Err(Refusal::not_found(format!("A list with id {id} does not exist.")));
            }
            Some(id.to_owned())
        }
    };
    if !ctx.faults.jobs_never_apply && !ctx.faults.drops_job() {
        let custom_source = attributes.get("custom_source").and_then(Value::as_str).map(str::to_owned);
        let change = if subscribe {
            PendingChange::Subscribe { emails, list_id, custom_source }
        } else {
            PendingChange::Unsubscribe { emails, list_id }
        };
        account
            .pending
            .push(PendingJob { apply_at: Instant::now() + Duration::from_millis(ctx.faults.job_delay_ms), change });
    }
    Ok((StatusCode::ACCEPTED, None))
}

fn membership(account: &mut Account, ctx: &Ctx<'_>, body: &Value, list_id: &str, op: Operation) -> Answer {
    only(&ctx.query, &[])?;
    if !account.lists.contains_key(list_id) {
        return Err(Refusal::not_found(format!("A list with id {list_id} does not exist.")));
    }
    let rows = at(body, "/data")?.as_array().ok_or_else(|| Refusal::invalid("'data' must be a list.", "/data"))?;
    if rows.len() > 1000 {
        return Err(Refusal::invalid("At most 1000 profiles per request.", "/data"));
    }
    let mut ids = Vec::new();
    for i in 0..rows.len() {
        expect_type(body, &format!("/data/{i}"), "profile")?;
        let id = at(body, &format!("/data/{i}/id"))?.as_str().unwrap_or("").to_owned();
        if !account.profiles.contains_key(&id) {
            return Err(Refusal::invalid(format!("Profile '{id}' does not exist."), format!("/data/{i}/id")));
        }
        ids.push(id);
    }
    let Some(list) = account.lists.get_mut(list_id) else { return Err(Refusal::not_found("list vanished")) };
    let now = SystemTime::now();
    for id in ids {
        if op == Operation::AddToList {
            list.members.entry(id).or_insert(now);
        } else {
            list.members.remove(&id);
        }
    }
    Ok((StatusCode::NO_CONTENT, None))
}

fn create_event(account: &mut Account, ctx: &Ctx<'_>, body: &Value) -> Answer {
    only(&ctx.query, &[])?;
    expect_type(body, "/data", "event")?;
    let attributes = object(body, "/data/attributes")?;
    only_keys(
        attributes,
        &["properties", "time", "value", "value_currency", "unique_id", "metric", "profile"],
        "/data/attributes",
        "event",
    )?;
    object(body, "/data/attributes/properties")?;
    let metric = at(body, "/data/attributes/metric/data/attributes/name")?.as_str().unwrap_or("");
    if metric.is_empty() || metric.chars().count() >= 128 {
        return Err(Refusal::invalid(
            "Metric names are 1 to 127 characters.",
            "/data/attributes/metric/data/attributes/name",
        ));
    }
    let email = email_at(body, "/data/attributes/profile/data/attributes/email")?;
    refused_for(ctx, &email, "/data/attributes/profile/data/attributes/email")?;
    let unique = attributes.get("unique_id").and_then(Value::as_str).unwrap_or("").to_owned();
    let key = (metric.to_owned(), email.clone(), unique);
    if account.event_keys.insert(key) {
        account.upsert(&ProfileUpsert { email, ..ProfileUpsert::default() });
        account.events.push(body["data"]["attributes"].clone());
    }
    Ok((StatusCode::ACCEPTED, None))
}

/// Bulk events: the whole batch is checked first and refused as one (400, pointing at the bad
/// event), as Klaviyo does; accepted events are recorded like single ones, deduplicated the same way.
fn create_events_bulk(account: &mut Account, ctx: &Ctx<'_>, body: &Value) -> Answer {
    only(&ctx.query, &[])?;
    expect_type(body, "/data", "event-bulk-create-job")?;
    let entries = at(body, "/data/attributes/events-bulk-create/data")?
        .as_array()
        .ok_or_else(|| Refusal::invalid("'data' must be an array.", "/data/attributes/events-bulk-create/data"))?;
    let total: usize = entries
        .iter()
        .map(|e| e.pointer("/attributes/events/data").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if entries.is_empty() || total > 1000 {
        return Err(Refusal::invalid(
            "A bulk request takes 1 to 1,000 events.",
            "/data/attributes/events-bulk-create/data",
        ));
    }
    let mut accepted = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let base = format!("/data/attributes/events-bulk-create/data/{i}");
        expect_type(body, &base, "event-bulk-create")?;
        let email = email_at(body, &format!("{base}/attributes/profile/data/attributes/email"))?;
        refused_for(ctx, &email, &format!("{base}/attributes/profile/data/attributes/email"))?;
        let events = at(body, &format!("{base}/attributes/events/data"))?
            .as_array()
            .ok_or_else(|| Refusal::invalid("'data' must be an array.", &format!("{base}/attributes/events/data")))?;
        for (j, event) in events.iter().enumerate() {
            let pointer = format!("{base}/attributes/events/data/{j}");
            expect_type(body, &pointer, "event")?;
            let attributes = object(body, &format!("{pointer}/attributes"))?;
            only_keys(
                attributes,
                &["properties", "time", "value", "value_currency", "unique_id", "metric", "backfill"],
                &format!("{pointer}/attributes"),
                "event",
            )?;
            object(body, &format!("{pointer}/attributes/properties"))?;
            let name_at = format!("{pointer}/attributes/metric/data/attributes/name");
            let metric = at(body, &name_at)?.as_str().unwrap_or("");
            if metric.is_empty() || metric.chars().count() >= 128 {
                return Err(Refusal::invalid("Metric names are 1 to 127 characters.", &name_at));
            }
            let mut recorded = event["attributes"].clone();
            recorded["profile"] = entry["attributes"]["profile"].clone();
            let unique = attributes.get("unique_id").and_then(Value::as_str).unwrap_or("").to_owned();
            accepted.push(((metric.to_owned(), email.clone(), unique), recorded));
        }
    }
    for (key, recorded) in accepted {
        let email = key.1.clone();
        if account.event_keys.insert(key) {
            account.upsert(&ProfileUpsert { email, ..ProfileUpsert::default() });
            account.events.push(recorded);
        }
    }
    Ok((StatusCode::ACCEPTED, None))
}

/// The `refuse_events_for` fault.
fn refused_for(ctx: &Ctx<'_>, email: &str, pointer: &str) -> Result<(), Refusal> {
    match &ctx.faults.refuse_events_for {
        Some(bad) if bad.eq_ignore_ascii_case(email) => {
            Err(Refusal::invalid(format!("The event for '{email}' is invalid."), pointer))
        }
        _ => Ok(()),
    }
}

/// The request log keeps only a hint of a key (`Klaviyo-API-Key pk_…abcd`): someone may paste a
/// real key into a demo.
fn redact(name: &str, value: &str) -> String {
    if name != "authorization" {
        return value.to_owned();
    }
    match value.rsplit_once(' ') {
        Some((scheme, key)) if key.len() > 8 => {
            let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            let head: String = key.chars().take(3).collect();
            format!("{scheme} {head}…{tail}")
        }
        _ => "(redacted)".to_owned(),
    }
}
