//! The client against the fake: every call it can make, the errors it classifies, and the spec
//! check of every request it sent.

use crate::{all_scopes, harness, harness_with, Harness, FULL_KEY};
use fakes::klaviyo::world::Faults;
use serde_json::json;
use server::klaviyo::wire::{NewEvent, ProfileFields};
use server::klaviyo::{KlaviyoError, Operation};
use std::time::Duration;

fn fields(email: &str, first: Option<&str>, last: Option<&str>) -> ProfileFields {
    let mut properties = serde_json::Map::new();
    properties.insert("Rekomi affiliate".into(), json!(true));
    ProfileFields {
        email: email.into(),
        first_name: first.map(Into::into),
        last_name: last.map(Into::into),
        properties,
    }
}

#[tokio::test]
async fn every_request_the_client_builds_matches_the_spec() {
    let h = harness().await;
    h.account("ACC1", 25, &[(FULL_KEY, all_scopes())]);
    let key = Harness::key(FULL_KEY);

    let account = h.client.account(&key).await.expect("account");
    assert_eq!((account.id.as_str(), account.name.as_str()), ("ACC1", "Shop ACC1"));
    let lists = h.client.all_lists(&key).await.expect("lists");
    assert_eq!(lists.len(), 25, "three pages of 10, 10 and 5");
    assert!(lists.windows(2).all(|w| w[0].name <= w[1].name), "sorted by name");
    assert_eq!(lists[2].opt_in_process.as_deref(), Some("double_opt_in"));
    let single = h.client.list(&key, "ACC1L000").await.expect("one list");
    assert_eq!(single.opt_in_process.as_deref(), Some("single_opt_in"));
    h.client.probe_lists(&key).await.expect("lists probe");
    h.client.probe_profiles(&key).await.expect("profiles probe");
    h.client.probe_subscriptions(&key).await.expect("subscriptions probe");

    let created =
        h.client.import_profile(&key, &fields("ana@example.com", Some("Ana"), Some("Silva"))).await.expect("import");
    assert!(created.created);
    let updated =
        h.client.import_profile(&key, &fields("ana@example.com", Some("Ana"), None)).await.expect("re-import");
    assert_eq!((updated.id.as_str(), updated.created), (created.id.as_str(), false), "matched on email: no duplicate");

    let rows = vec![fields("bo@example.com", Some("Bo"), None), fields("not-an-email", None, None)];
    let job = h.client.create_bulk_import(&key, &rows, Some("ACC1L001")).await.expect("bulk import");
    assert_eq!(job.total_count, 2);
    let polled = h.client.bulk_import_job(&key, &job.id).await.expect("job status");
    assert_eq!(polled.status, server::klaviyo::wire::BulkJobStatus::Complete);
    let errors = h.client.bulk_import_errors(&key, &job.id).await.expect("import errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].email.as_deref(), Some("not-an-email"));

    let emails = vec!["ana@example.com".to_owned(), "cy@example.com".to_owned()];
    h.client.subscribe(&key, "ACC1L000", &emails, "Rekomi affiliate program").await.expect("subscribe");
    let members = h.client.list_members(&key, "ACC1L000", &emails).await.expect("read-back");
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m.consent.as_deref() == Some("SUBSCRIBED")));
    let everywhere = h.client.profiles_by_email(&key, &emails).await.expect("profiles");
    assert_eq!(everywhere.len(), 2);

    h.client.add_to_list(&key, "ACC1L003", std::slice::from_ref(&created.id)).await.expect("add to list");
    assert_eq!(h.client.list_members(&key, "ACC1L003", &emails).await.expect("members").len(), 1);
    h.client.remove_from_list(&key, "ACC1L003", std::slice::from_ref(&created.id)).await.expect("remove from list");
    h.client.unsubscribe(&key, "ACC1L000", &["cy@example.com".to_owned()]).await.expect("unsubscribe");
    let after = h.client.list_members(&key, "ACC1L000", &["cy@example.com".to_owned()]).await.expect("read");
    assert_eq!(after[0].consent.as_deref(), Some("UNSUBSCRIBED"));
    assert!(after[0].suppressions.contains(&"UNSUBSCRIBE".to_owned()));

    let event = NewEvent {
        metric: "Affiliate Approved".into(),
        email: "ana@example.com".into(),
        unique_id: "affiliate-approved:1".into(),
        properties: serde_json::Map::from_iter([("program".to_owned(), json!("Spring"))]),
        value: Some(12.5),
        value_currency: Some("USD".into()),
    };
    h.client.create_event(&key, &event).await.expect("event");
    h.client.create_event(&key, &event).await.expect("the same event again");
    assert_eq!(h.state("ACC1").await["events"].as_array().map(Vec::len), Some(1), "unique_id dedupes retries");

    let checked = h.assert_log_matches_spec(true).await;
    assert!(checked >= 22, "checked {checked} exchanges");
}

#[tokio::test]
async fn a_next_link_on_another_host_is_followed_on_the_configured_base_only() {
    let h = harness_with(Faults {
        job_delay_ms: 0,
        next_link_origin: Some("http://127.0.0.1:9".into()),
        ..Faults::default()
    })
    .await;
    h.account("ACC2", 35, &[(FULL_KEY, all_scopes())]);
    let lists = h.client.all_lists(&Harness::key(FULL_KEY)).await.expect("lists from the configured base");
    assert_eq!(lists.len(), 35);
    assert_eq!(h.log().await.len(), 4, "four pages, all requested from the fake");
}

#[tokio::test]
async fn refusals_are_classified() {
    let h = harness().await;
    h.account("ACC3", 1, &[(FULL_KEY, all_scopes()), ("pk_test_lists_only_key_000000000001", &["lists:read"])]);
    let key = Harness::key(FULL_KEY);

    let unknown = h.client.account(&Harness::key("pk_test_nobody_knows_this_key_00001")).await;
    assert_eq!(unknown, Err(KlaviyoError::BadKey { operation: Operation::GetAccounts }));
    let scoped = h.client.probe_profiles(&Harness::key("pk_test_lists_only_key_000000000001")).await;
    assert_eq!(scoped, Err(KlaviyoError::MissingScope { operation: Operation::GetProfiles }));
    assert_eq!(h.client.list(&key, "GONE").await, Err(KlaviyoError::NotFound { operation: Operation::GetList }));

    match h.client.subscribe(&key, "ACC3L000", &["ok@example.com".into(), "nope".into()], "x").await {
        Err(KlaviyoError::Invalid { pointer: Some(pointer), .. }) => {
            assert_eq!(pointer, "/data/attributes/profiles/data/1/attributes/email")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let too_many: Vec<String> = (0..1001).map(|i| format!("a{i}@example.com")).collect();
    let before = h.log().await.len();
    assert!(matches!(h.client.subscribe(&key, "ACC3L000", &too_many, "x").await, Err(KlaviyoError::Invalid { .. })));
    assert_eq!(h.log().await.len(), before, "refused before any request");

    // Accounts is the XS tier: one a second.
    h.client.account(&key).await.expect("first account read");
    let throttled = h.client.account(&key).await.expect_err("second read in the same second");
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(1)));
    assert!(throttled.is_retryable());

    h.set_faults(json!({"server_error_rate": 1.0})).await;
    assert!(matches!(h.client.probe_lists(&key).await, Err(KlaviyoError::Server { status: 503, .. })));
    h.set_faults(json!({"edge_challenge_rate": 1.0})).await;
    let edge = h.client.probe_lists(&key).await.expect_err("edge page");
    assert!(matches!(edge, KlaviyoError::Edge { status: 403, .. }) && edge.is_retryable(), "{edge:?}");
    h.set_faults(json!({"drop_rate": 1.0})).await;
    assert!(matches!(h.client.probe_lists(&key).await, Err(KlaviyoError::Transport { .. })));
    h.set_faults(json!({"throttle_rate": 1.0})).await;
    assert!(matches!(h.client.probe_lists(&key).await, Err(KlaviyoError::Throttled { .. })));
    h.set_faults(json!({})).await;
    h.assert_log_matches_spec(false).await;
}
