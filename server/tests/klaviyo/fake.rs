//! The fake against Klaviyo's contract (NOTES §10): check order, 202 jobs, double opt-in, rate
//! limits, pagination, upserts; and every answer it gave validated against the spec.

use crate::{all_scopes, harness, harness_with, spec, Harness, FULL_KEY};
use fakes::klaviyo::world::Faults;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use server::klaviyo::{ApiScope, Operation};
use std::time::Duration;

const SCOPELESS_KEY: &str = "pk_test_accounts_read_only_00000001";

async fn send(h: &Harness, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> Response {
    let mut request = h.http.request(method, format!("{}{path}", h.base)).header("revision", "2026-07-15");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/vnd.api+json").body(body.to_string());
    }
    request.send().await.expect("the fake answers")
}

async fn error_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON:API error");
    (status, body["errors"][0].clone())
}

fn full() -> Option<&'static str> {
    Some("Klaviyo-API-Key pk_test_full_access_key_00000000001")
}

fn subscribe_body(list: &str, attributes: Value) -> Value {
    json!({"data": {"type": "profile-subscription-bulk-create-job",
        "attributes": {"profiles": {"data": [{"type": "profile", "attributes": attributes}]}},
        "relationships": {"list": {"data": {"type": "list", "id": list}}}}})
}

fn consent(email: &str) -> Value {
    json!({"email": email, "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}})
}

#[tokio::test]
async fn checks_auth_then_scope_then_validation() {
    let h = harness().await;
    h.account("F1", 1, &[(FULL_KEY, all_scopes()), (SCOPELESS_KEY, &["accounts:read"])]);
    let bad_body = Some(json!({"data": {}}));
    let path = "/api/profile-subscription-bulk-create-jobs";

    let (status, error) = error_of(send(&h, Method::POST, path, None, bad_body.clone()).await).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("not_authenticated")));
    let (status, error) = error_of(send(&h, Method::POST, path, Some("Bearer pk_x"), bad_body.clone()).await).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("not_authenticated")));
    let wrong = Some("Klaviyo-API-Key pk_test_wrong_key_000000000000001");
    let (status, error) = error_of(send(&h, Method::POST, path, wrong, bad_body.clone()).await).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("authentication_failed")));
    let scopeless = Some("Klaviyo-API-Key pk_test_accounts_read_only_00000001");
    let (status, error) = error_of(send(&h, Method::POST, path, scopeless, bad_body.clone()).await).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("permission_denied")), "scope before validation");
    assert_eq!(error["detail"], "You do not have permission to perform this action.");
    let (status, error) = error_of(send(&h, Method::POST, path, full(), bad_body).await).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid")));

    let no_revision = h
        .http
        .get(format!("{}/api/lists", h.base))
        .header("authorization", full().unwrap_or(""))
        .send()
        .await
        .expect("answers");
    assert_eq!(no_revision.status(), 400);
    h.assert_log_matches_spec(false).await;
}

#[tokio::test]
async fn subscribe_refuses_names_and_consented_at_like_klaviyo() {
    let h = harness().await;
    h.account("F2", 1, &[(FULL_KEY, all_scopes())]);
    let path = "/api/profile-subscription-bulk-create-jobs";
    let mut with_name = consent("ana@example.com");
    with_name["last_name"] = json!("Silva");
    let (status, error) =
        error_of(send(&h, Method::POST, path, full(), Some(subscribe_body("F2L000", with_name))).await).await;
    assert_eq!(status, 400);
    assert_eq!(error["detail"], "'last_name' is not a valid field for the resource 'profile'.");
    assert_eq!(error["source"]["pointer"], "/data/attributes/profiles/data/0/attributes/last_name");

    let mut dated = consent("ana@example.com");
    dated["subscriptions"]["email"]["marketing"]["consented_at"] = json!("2026-01-01T00:00:00Z");
    let (status, error) =
        error_of(send(&h, Method::POST, path, full(), Some(subscribe_body("F2L000", dated))).await).await;
    assert_eq!(status, 400);
    assert!(error["source"]["pointer"].as_str().is_some_and(|p| p.ends_with("/consented_at")));

    let ok = send(&h, Method::POST, path, full(), Some(subscribe_body("F2L000", consent("ana@example.com")))).await;
    assert_eq!(ok.status(), 202);
    assert!(ok.bytes().await.expect("body").is_empty(), "202 with no body");
    h.assert_log_matches_spec(false).await;
}

#[tokio::test]
async fn jobs_apply_after_the_delay_and_double_opt_in_waits_for_confirmation() {
    let h = harness_with(Faults { job_delay_ms: 300, ..Faults::default() }).await;
    h.account("F3", 3, &[(FULL_KEY, all_scopes())]); // F3L002 is double opt-in
    let key = Harness::key(FULL_KEY);
    let emails = vec!["ana@example.com".to_owned()];
    h.client.subscribe(&key, "F3L000", &emails, "Rekomi").await.expect("single");
    h.client.subscribe(&key, "F3L002", &emails, "Rekomi").await.expect("double");
    assert!(h.client.list_members(&key, "F3L000", &emails).await.expect("read").is_empty(), "202 is not done");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let single = h.client.list_members(&key, "F3L000", &emails).await.expect("read");
    assert_eq!(single[0].consent.as_deref(), Some("SUBSCRIBED"));

    // Already subscribed from the single opt-in list, so the double opt-in list takes her at once.
    assert_eq!(h.client.list_members(&key, "F3L002", &emails).await.expect("read").len(), 1);
    let fresh = vec!["bo@example.com".to_owned()];
    h.client.subscribe(&key, "F3L002", &fresh, "Rekomi").await.expect("double");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(h.client.list_members(&key, "F3L002", &fresh).await.expect("read").is_empty(), "awaiting confirmation");
    let profile = h.client.profiles_by_email(&key, &fresh).await.expect("read");
    assert_eq!(profile[0].consent.as_deref(), Some("NEVER_SUBSCRIBED"));
    let confirmed = h
        .http
        .post(format!("{}/_fake/confirm", h.base))
        .json(&json!({"list_id": "F3L002", "email": "bo@example.com"}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(confirmed.status(), 204);
    let member = h.client.list_members(&key, "F3L002", &fresh).await.expect("read");
    assert_eq!(member[0].consent.as_deref(), Some("SUBSCRIBED"));
}

#[tokio::test]
async fn jobs_that_never_apply_stay_unapplied() {
    let h = harness_with(Faults { job_delay_ms: 0, jobs_never_apply: true, ..Faults::default() }).await;
    h.account("F4", 1, &[(FULL_KEY, all_scopes())]);
    let key = Harness::key(FULL_KEY);
    let emails = vec!["ana@example.com".to_owned()];
    h.client.subscribe(&key, "F4L000", &emails, "Rekomi").await.expect("accepted");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(h.client.list_members(&key, "F4L000", &emails).await.expect("read").is_empty());
}

#[tokio::test]
async fn throttles_per_the_spec_limits_with_retry_after_and_no_ratelimit_headers() {
    let h = harness().await;
    h.account("F5", 0, &[(FULL_KEY, all_scopes())]);
    let first = send(&h, Method::GET, "/api/accounts", full(), None).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["ratelimit-limit"], "15");
    assert_eq!(first.headers()["ratelimit-remaining"], "14");
    let second = send(&h, Method::GET, "/api/accounts/", full(), None).await;
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "1");
    assert!(second.headers().get("ratelimit-limit").is_none());
    let (_, error) = error_of(second).await;
    assert_eq!(error["code"], "throttled");
    assert_eq!(error["detail"], "Request was throttled. Expected available in 1 second.");
    h.assert_log_matches_spec(false).await;
}

#[tokio::test]
async fn paginates_with_the_spec_page_sizes_and_absolute_next_links() {
    let h = harness().await;
    h.account("F6", 12, &[(FULL_KEY, all_scopes())]);
    let too_big = send(&h, Method::GET, "/api/lists?page%5Bsize%5D=11", full(), None).await;
    assert_eq!(error_of(too_big).await.0, 400);
    let page: Value = send(&h, Method::GET, "/api/lists?sort=name", full(), None).await.json().await.expect("json");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(10));
    let next = page["links"]["next"].as_str().expect("a next link");
    assert!(next.starts_with(&format!("{}/api/lists?", h.base)), "{next}");
    let last: Value = h
        .http
        .get(next)
        .header("revision", "2026-07-15")
        .header("authorization", full().unwrap_or(""))
        .send()
        .await
        .expect("page 2")
        .json()
        .await
        .expect("json");
    assert_eq!(last["data"].as_array().map(Vec::len), Some(2));
    assert!(last["links"].get("next").is_none(), "the last page omits next");
    h.assert_log_matches_spec(false).await;
}

#[tokio::test]
async fn profile_import_upserts_merges_properties_and_reports_duplicates() {
    let h = harness().await;
    h.account("F7", 0, &[(FULL_KEY, all_scopes())]);
    let import = |attributes: Value, meta: Option<Value>| {
        let mut data = json!({"type": "profile", "attributes": attributes});
        if let Some(meta) = meta {
            data["meta"] = meta;
        }
        json!({"data": data})
    };
    let created = send(&h, Method::POST, "/api/profile-import", full(),
        Some(import(json!({"email": "ana@example.com", "first_name": "Ana", "phone_number": "+15005550006", "properties": {"a": 1, "b": 2}}), None))).await;
    assert_eq!(created.status(), 201);
    let updated = send(
        &h,
        Method::POST,
        "/api/profile-import",
        full(),
        Some(import(
            json!({"email": "ANA@example.com", "first_name": null, "properties": {"b": 3}}),
            Some(json!({"patch_properties": {"unset": ["a"]}})),
        )),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let profile: Value = updated.json().await.expect("json");
    assert_eq!(profile["data"]["attributes"]["first_name"], Value::Null, "null clears");
    assert_eq!(profile["data"]["attributes"]["properties"], json!({"b": 3}), "per-key merge, unset removes");

    let create = |attributes: Value| json!({"data": {"type": "profile", "attributes": attributes}});
    let duplicate =
        send(&h, Method::POST, "/api/profiles", full(), Some(create(json!({"email": "ana@example.com"})))).await;
    let (status, error) = error_of(duplicate).await;
    assert_eq!((status, error["code"].as_str()), (409, Some("duplicate_profile")));
    assert_eq!(error["meta"]["duplicate_profile_id"], profile["data"]["id"]);
    let fresh = send(&h, Method::POST, "/api/profiles", full(), Some(create(json!({"email": "cy@example.com"})))).await;
    assert_eq!(fresh.status(), 201);

    let clash = send(
        &h,
        Method::POST,
        "/api/profile-import",
        full(),
        Some(import(json!({"email": "bo@example.com", "phone_number": "+15005550006"}), None)),
    )
    .await;
    let (status, error) = error_of(clash).await;
    assert_eq!((status, error["code"].as_str()), (409, Some("duplicate_profile")));
    assert_eq!(error["meta"]["duplicate_profile_id"], profile["data"]["id"]);
    h.assert_log_matches_spec(false).await;
}

#[test]
fn the_operation_table_matches_the_spec_scopes_and_rate_limits() {
    let spec = spec::spec();
    for op in Operation::ALL {
        let (_, operation) =
            spec.operation(op.method().as_str(), op.template()).unwrap_or_else(|| panic!("{op:?} is in the spec"));
        let scopes: Vec<ApiScope> = operation["x-klaviyo-scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .map(|s| ApiScope::parse(s.as_str().unwrap_or("")).unwrap_or_else(|| panic!("{op:?}: unknown scope {s}")))
            .collect();
        assert_eq!(scopes, op.scopes(), "{op:?} scopes");
        let limit = op.rate_limit();
        assert_eq!(operation["x-klaviyo-ratelimit"]["burst"], format!("{}/s", limit.burst_per_second), "{op:?} burst");
        assert_eq!(
            operation["x-klaviyo-ratelimit"]["steady"],
            format!("{}/m", limit.steady_per_minute),
            "{op:?} steady"
        );
    }
}
