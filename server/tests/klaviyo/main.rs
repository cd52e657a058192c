//! The Klaviyo client against the fake Klaviyo, and the fake against Klaviyo's own contract. Every
//! request the client sends and every answer the fake gives is validated against the official
//! OpenAPI document.

mod client;
mod fake;
mod spec;

use fakes::klaviyo::{world::Faults, AccountSpec, Fake, KeySpec, ListSpec};
use serde_json::Value;
use server::klaviyo::Client;
use std::collections::HashMap;

pub struct Harness {
    pub base: String,
    pub fake: Fake,
    pub client: Client,
    pub http: reqwest::Client,
}

pub const FULL_KEY: &str = "pk_test_full_access_key_00000000001";

pub async fn harness() -> Harness {
    harness_with(Faults { job_delay_ms: 0, ..Faults::default() }).await
}

pub async fn harness_with(faults: Faults) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let running = Fake::with_faults(faults).serve(listener).expect("serves");
    let client = Client::new(&running.base_url).expect("client");
    Harness { base: running.base_url, fake: running.fake, client, http: reqwest::Client::new() }
}

impl Harness {
    /// An account with `lists` lists (every third double opt-in) and a key per scope set.
    pub fn account(&self, id: &str, lists: usize, keys: &[(&str, &[&str])]) -> Value {
        self.fake.add_account(AccountSpec {
            id: Some(id.into()),
            name: format!("Shop {id}"),
            test_account: false,
            keys: keys
                .iter()
                .map(|(key, scopes)| KeySpec {
                    key: (*key).into(),
                    scopes: scopes.iter().map(|s| (*s).into()).collect(),
                })
                .collect(),
            lists: (0..lists)
                .map(|i| ListSpec {
                    id: Some(format!("{id}L{i:03}")),
                    name: format!("List {i:03}"),
                    double_opt_in: i % 3 == 2,
                })
                .collect(),
        })
    }

    pub fn key(raw: &str) -> app::domain::klaviyo::PrivateKey {
        app::domain::klaviyo::PrivateKey::parse(raw).expect("test keys are well formed")
    }

    pub async fn log(&self) -> Vec<Value> {
        self.http.get(format!("{}/_fake/requests", self.base)).send().await.expect("log").json().await.expect("json")
    }

    pub async fn set_faults(&self, faults: Value) {
        let status =
            self.http.put(format!("{}/_fake/faults", self.base)).json(&faults).send().await.expect("faults").status();
        assert!(status.is_success());
    }

    pub async fn state(&self, account: &str) -> Value {
        self.http
            .get(format!("{}/_fake/accounts/{account}", self.base))
            .send()
            .await
            .expect("state")
            .json()
            .await
            .expect("json")
    }

    /// Validates every logged request and answer against the spec; returns how many were checked.
    pub async fn assert_log_matches_spec(&self, requests_too: bool) -> usize {
        let spec = spec::spec();
        let log = self.log().await;
        let mut problems = Vec::new();
        for exchange in &log {
            let method = exchange["method"].as_str().unwrap_or("");
            let path = exchange["path"].as_str().unwrap_or("");
            let status = exchange["status"].as_u64().unwrap_or(0) as u16;
            if status == 0 || exchange["edge"] == true {
                continue; // a dropped connection has no answer; the edge's HTML is not the API's
            }
            if requests_too {
                let headers: HashMap<String, String> =
                    serde_json::from_value(exchange["headers"].clone()).unwrap_or_default();
                problems.extend(spec.check_request(
                    method,
                    path,
                    exchange["query"].as_str(),
                    &headers,
                    exchange.get("body").filter(|b| !b.is_null()),
                ));
            }
            problems.extend(spec.check_response(
                method,
                path,
                status,
                exchange.get("response").filter(|b| !b.is_null()),
            ));
        }
        assert!(problems.is_empty(), "{} spec violations:\n{}", problems.len(), problems.join("\n"));
        log.len()
    }
}

pub fn all_scopes() -> &'static [&'static str] {
    &["*"]
}
