//! The fake's memory: accounts, keys and their scopes, lists, profiles, consent, pending jobs and
//! the rate-limit windows. Everything sits behind one mutex; the fake serves tests and demos.

use backend::klaviyo::{ApiScope, Operation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    pub email: String,
    pub phone_number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub properties: Map<String, Value>,
    /// NEVER_SUBSCRIBED, SUBSCRIBED or UNSUBSCRIBED.
    pub consent: String,
    pub consent_at: Option<SystemTime>,
    pub double_optin: Option<bool>,
    pub custom_source: Option<String>,
    /// Global suppressions (UNSUBSCRIBE, USER_SUPPRESSED, HARD_BOUNCE, …).
    pub suppressions: Vec<String>,
    pub created: SystemTime,
    pub updated: SystemTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List {
    pub id: String,
    pub name: String,
    pub double_opt_in: bool,
    pub created: SystemTime,
    pub updated: SystemTime,
    /// profile id → when it joined.
    pub members: BTreeMap<String, SystemTime>,
    /// Profiles sent a confirmation mail, not yet confirmed (double opt-in).
    pub awaiting_confirmation: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportJob {
    pub id: String,
    pub created: SystemTime,
    pub total: usize,
    pub completed: usize,
    pub failed: usize,
    pub status: &'static str,
    pub errors: Vec<ImportRowError>,
    #[serde(skip)]
    pub apply_at: Instant,
    #[serde(skip)]
    pub rows: Vec<(usize, ProfileUpsert)>,
    pub list_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportRowError {
    pub id: String,
    pub code: String,
    pub detail: String,
    pub pointer: String,
    pub email: Option<String>,
}

/// The fields a profile upsert may set. `None` leaves a field alone; `Some(None)` clears it (null).
#[derive(Debug, Clone, Default)]
pub struct ProfileUpsert {
    pub email: String,
    pub phone_number: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub properties: Map<String, Value>,
    pub unset: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum PendingChange {
    Subscribe { emails: Vec<String>, list_id: Option<String>, custom_source: Option<String> },
    Unsubscribe { emails: Vec<String>, list_id: Option<String> },
}

#[derive(Debug, Clone)]
pub struct PendingJob {
    pub apply_at: Instant,
    pub change: PendingChange,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub test_account: bool,
    pub lists: BTreeMap<String, List>,
    pub profiles: BTreeMap<String, Profile>,
    #[serde(skip)]
    pub by_email: HashMap<String, String>,
    pub import_jobs: BTreeMap<String, ImportJob>,
    #[serde(skip)]
    pub pending: Vec<PendingJob>,
    /// Events recorded, keyed by (metric, profile email, unique_id) so duplicates count once.
    pub events: Vec<Value>,
    #[serde(skip)]
    pub event_keys: BTreeSet<(String, String, String)>,
}

impl Account {
    pub fn new(id: String, name: String, test_account: bool) -> Self {
        Self {
            id,
            name,
            test_account,
            lists: BTreeMap::new(),
            profiles: BTreeMap::new(),
            by_email: HashMap::new(),
            import_jobs: BTreeMap::new(),
            pending: Vec::new(),
            events: Vec::new(),
            event_keys: BTreeSet::new(),
        }
    }

    pub fn add_list(&mut self, id: Option<String>, name: &str, double_opt_in: bool) -> String {
        let id = id.unwrap_or_else(|| super::jsonapi::random_id(6));
        let now = SystemTime::now();
        self.lists.insert(
            id.clone(),
            List {
                id: id.clone(),
                name: name.to_owned(),
                double_opt_in,
                created: now,
                updated: now,
                members: BTreeMap::new(),
                awaiting_confirmation: BTreeSet::new(),
            },
        );
        id
    }

    pub fn profile_by_email(&self, email: &str) -> Option<&Profile> {
        self.by_email.get(&email.to_lowercase()).and_then(|id| self.profiles.get(id))
    }

    /// The profile that already holds `phone` when it is not the one `email` names: Klaviyo answers
    /// 409 `duplicate_profile` for that.
    pub fn phone_conflict(&self, email: &str, phone: &str) -> Option<String> {
        let holder = self.profiles.values().find(|p| p.phone_number.as_deref() == Some(phone))?;
        (holder.email != email.to_lowercase()).then(|| holder.id.clone())
    }

    /// Creates the profile if needed; returns its id and whether it was created.
    fn ensure_profile(&mut self, email: &str) -> (String, bool) {
        let email = email.to_lowercase();
        if let Some(id) = self.by_email.get(&email) {
            return (id.clone(), false);
        }
        let id = format!("01{}", super::jsonapi::random_id(24).to_uppercase());
        let now = SystemTime::now();
        self.profiles.insert(
            id.clone(),
            Profile {
                id: id.clone(),
                email: email.clone(),
                phone_number: None,
                first_name: None,
                last_name: None,
                properties: Map::new(),
                consent: "NEVER_SUBSCRIBED".into(),
                consent_at: None,
                double_optin: None,
                custom_source: None,
                suppressions: Vec::new(),
                created: now,
                updated: now,
            },
        );
        self.by_email.insert(email, id.clone());
        (id, true)
    }

    /// profile-import semantics: matched on email, only given fields change, null clears,
    /// properties merge per key.
    pub fn upsert(&mut self, change: &ProfileUpsert) -> (String, bool) {
        let (id, created) = self.ensure_profile(&change.email);
        if let Some(profile) = self.profiles.get_mut(&id) {
            if change.phone_number.is_some() {
                profile.phone_number = change.phone_number.clone();
            }
            if let Some(first) = &change.first_name {
                profile.first_name = first.clone();
            }
            if let Some(last) = &change.last_name {
                profile.last_name = last.clone();
            }
            for (k, v) in &change.properties {
                profile.properties.insert(k.clone(), v.clone());
            }
            for k in &change.unset {
                profile.properties.remove(k);
            }
            profile.updated = SystemTime::now();
        }
        (id, created)
    }

    /// Applies jobs whose time has come.
    pub fn settle(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|j| j.apply_at <= now);
        self.pending = later;
        for job in due {
            self.apply(job.change);
        }
        let due_imports: Vec<String> = self
            .import_jobs
            .values()
            .filter(|j| j.status != "complete" && j.apply_at <= now)
            .map(|j| j.id.clone())
            .collect();
        for id in due_imports {
            self.finish_import(&id);
        }
    }

    fn apply(&mut self, change: PendingChange) {
        let now = SystemTime::now();
        match change {
            PendingChange::Subscribe { emails, list_id, custom_source } => {
                let double = list_id.as_ref().and_then(|l| self.lists.get(l)).is_some_and(|l| l.double_opt_in);
                for email in emails {
                    let (id, _) = self.ensure_profile(&email);
                    let already = self.profiles.get(&id).is_some_and(|p| p.consent == "SUBSCRIBED");
                    if double && !already {
                        if let Some(list) = list_id.as_ref().and_then(|l| self.lists.get_mut(l)) {
                            list.awaiting_confirmation.insert(id.clone());
                        }
                        continue;
                    }
                    if let Some(p) = self.profiles.get_mut(&id) {
                        subscribe_profile(p, false, custom_source.clone(), now);
                    }
                    if let Some(list) = list_id.as_ref().and_then(|l| self.lists.get_mut(l)) {
                        list.members.entry(id).or_insert(now);
                    }
                }
            }
            PendingChange::Unsubscribe { emails, list_id } => {
                for email in emails {
                    let Some(id) = self.by_email.get(&email.to_lowercase()).cloned() else { continue };
                    if let Some(p) = self.profiles.get_mut(&id) {
                        p.consent = "UNSUBSCRIBED".into();
                        p.consent_at = Some(now);
                        if !p.suppressions.iter().any(|s| s == "UNSUBSCRIBE") {
                            p.suppressions.push("UNSUBSCRIBE".into());
                        }
                        p.updated = now;
                    }
                    if let Some(list) = list_id.as_ref().and_then(|l| self.lists.get_mut(l)) {
                        list.awaiting_confirmation.remove(&id);
                    }
                }
            }
        }
    }

    /// Something done in Klaviyo's screens (see [`super::PersonAction`]); false when the profile
    /// or list is unknown.
    pub fn person_acts(&mut self, action: super::PersonAction) -> bool {
        use super::PersonAction as A;
        let now = SystemTime::now();
        let email = match &action {
            A::Unsubscribe { email }
            | A::Suppress { email, .. }
            | A::RemoveFromList { email, .. }
            | A::Delete { email }
            | A::Resubscribe { email, .. } => email.to_lowercase(),
        };
        let Some(id) = self.by_email.get(&email).cloned() else { return false };
        match action {
            A::Unsubscribe { .. } => {
                let Some(p) = self.profiles.get_mut(&id) else { return false };
                p.consent = "UNSUBSCRIBED".into();
                p.consent_at = Some(now);
                if !p.suppressions.iter().any(|s| s == "UNSUBSCRIBE") {
                    p.suppressions.push("UNSUBSCRIBE".into());
                }
                p.updated = now;
            }
            A::Suppress { reason, .. } => {
                let Some(p) = self.profiles.get_mut(&id) else { return false };
                let reason = reason.unwrap_or_else(|| "USER_SUPPRESSED".into());
                if !p.suppressions.contains(&reason) {
                    p.suppressions.push(reason);
                }
                p.updated = now;
            }
            A::RemoveFromList { list_id, .. } => {
                let Some(list) = self.lists.get_mut(&list_id) else { return false };
                if list.members.remove(&id).is_none() {
                    return false;
                }
            }
            A::Delete { .. } => {
                self.profiles.remove(&id);
                self.by_email.remove(&email);
                for list in self.lists.values_mut() {
                    list.members.remove(&id);
                    list.awaiting_confirmation.remove(&id);
                }
            }
            A::Resubscribe { list_id, .. } => {
                let Some(list) = self.lists.get_mut(&list_id) else { return false };
                list.members.entry(id.clone()).or_insert(now);
                let Some(p) = self.profiles.get_mut(&id) else { return false };
                subscribe_profile(p, false, None, now);
            }
        }
        true
    }

    /// The affiliate clicked the confirmation link of a double opt-in list.
    pub fn confirm(&mut self, list_id: &str, email: &str) -> bool {
        let Some(id) = self.by_email.get(&email.to_lowercase()).cloned() else { return false };
        let Some(list) = self.lists.get_mut(list_id) else { return false };
        if !list.awaiting_confirmation.remove(&id) {
            return false;
        }
        let now = SystemTime::now();
        list.members.entry(id.clone()).or_insert(now);
        if let Some(p) = self.profiles.get_mut(&id) {
            subscribe_profile(p, true, None, now);
        }
        true
    }

    fn finish_import(&mut self, job_id: &str) {
        let Some(job) = self.import_jobs.get_mut(job_id) else { return };
        let rows = std::mem::take(&mut job.rows);
        let list_ids = job.list_ids.clone();
        let mut completed = 0;
        for (_, row) in &rows {
            let (id, _) = self.upsert(row);
            for list_id in &list_ids {
                if let Some(list) = self.lists.get_mut(list_id) {
                    list.members.entry(id.clone()).or_insert_with(SystemTime::now);
                }
            }
            completed += 1;
        }
        if let Some(job) = self.import_jobs.get_mut(job_id) {
            job.completed = completed;
            job.status = "complete";
        }
    }
}

fn subscribe_profile(p: &mut Profile, double_optin: bool, source: Option<String>, now: SystemTime) {
    p.consent = "SUBSCRIBED".into();
    p.consent_at = Some(now);
    p.double_optin = Some(double_optin);
    if source.is_some() {
        p.custom_source = source;
    }
    // The subscribe job lifts these suppressions (spec); bounces and spam complaints stay.
    p.suppressions.retain(|s| !matches!(s.as_str(), "UNSUBSCRIBE" | "SPAM_REPORT" | "USER_SUPPRESSED"));
    p.updated = now;
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub account_id: String,
    pub scopes: BTreeSet<ApiScope>,
    pub revoked: bool,
}

/// Knobs for tests and benchmarks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of API requests answered 429 before anything else happens.
    pub throttle_rate: f64,
    /// Share answered 503 with a JSON:API body.
    pub server_error_rate: f64,
    /// Share answered 403 with Cloudflare's HTML challenge page.
    pub edge_challenge_rate: f64,
    /// Share whose connection is dropped mid-answer.
    pub drop_rate: f64,
    /// Added to every API answer.
    pub latency_ms: u64,
    /// Subscribe, unsubscribe and import jobs are accepted (202) and never applied.
    pub jobs_never_apply: bool,
    /// Share of accepted jobs (subscribe, unsubscribe, import) silently lost: 202, then nothing.
    pub job_drop_rate: f64,
    /// How long accepted jobs take to apply.
    pub job_delay_ms: u64,
    /// Build `links.next` on this origin instead of the fake's own (to prove clients ignore it).
    pub next_link_origin: Option<String>,
    /// Turn the per-account rate limits off (load tests that measure Rekomi, not the limits).
    pub rate_limits_off: bool,
    /// The next this many API requests are answered 500 (Klaviyo's JSON:API `server_error`), then
    /// the fake behaves again: a transient outage at a chosen moment.
    pub internal_errors_next: u32,
    /// Events about this email are refused as invalid (400), alone or in a bulk call, which
    /// refuses the whole batch as Klaviyo does.
    pub refuse_events_for: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            throttle_rate: 0.0,
            server_error_rate: 0.0,
            edge_challenge_rate: 0.0,
            drop_rate: 0.0,
            latency_ms: 0,
            jobs_never_apply: false,
            job_drop_rate: 0.0,
            job_delay_ms: 500,
            next_link_origin: None,
            rate_limits_off: false,
            internal_errors_next: 0,
            refuse_events_for: None,
        }
    }
}

impl Faults {
    /// Decides whether this accepted job is lost.
    pub fn drops_job(&self) -> bool {
        use rand::Rng;
        rand::thread_rng().gen_bool(self.job_drop_rate.clamp(0.0, 1.0))
    }
}

/// One request and its answer, as the fake saw them.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub raw_body: Option<String>,
    pub status: u16,
    pub response: Option<Value>,
    pub operation: Option<String>,
    /// Answered by the simulated Cloudflare edge (HTML), which the spec does not describe.
    pub edge: bool,
    /// When the fake answered.
    pub at: SystemTime,
}

/// Fixed windows per account and operation: a one-second burst window and a one-minute steady one.
#[derive(Debug, Clone, Copy)]
struct Windows {
    second_start: Instant,
    second_count: u32,
    minute_start: Instant,
    minute_count: u32,
}

/// What a rate-limit check decided.
pub enum Pace {
    /// Allowed; the steady window's limit, what remains, and seconds until it resets.
    Allowed {
        limit: u32,
        remaining: u32,
        reset: u64,
    },
    Throttled {
        retry_after: u64,
    },
}

#[derive(Default)]
pub struct World {
    pub base_url: String,
    pub accounts: BTreeMap<String, Account>,
    pub keys: HashMap<String, Grant>,
    pub faults: Faults,
    pub log: Vec<Exchange>,
    windows: HashMap<(String, Operation), Windows>,
}

/// The log keeps the most recent exchanges only.
const LOG_LIMIT: usize = 20_000;

impl World {
    pub fn record(&mut self, exchange: Exchange) {
        if self.log.len() >= LOG_LIMIT {
            self.log.drain(..LOG_LIMIT / 2);
        }
        self.log.push(exchange);
    }

    pub fn pace(&mut self, account: &str, operation: Operation, now: Instant) -> Pace {
        let limit = operation.rate_limit();
        let w = self.windows.entry((account.to_owned(), operation)).or_insert(Windows {
            second_start: now,
            second_count: 0,
            minute_start: now,
            minute_count: 0,
        });
        if now.duration_since(w.second_start) >= Duration::from_secs(1) {
            w.second_start = now;
            w.second_count = 0;
        }
        if now.duration_since(w.minute_start) >= Duration::from_secs(60) {
            w.minute_start = now;
            w.minute_count = 0;
        }
        let minute_reset = 60_u64.saturating_sub(now.duration_since(w.minute_start).as_secs()).max(1);
        if self.faults.rate_limits_off {
            return Pace::Allowed { limit: limit.steady_per_minute, remaining: limit.steady_per_minute, reset: 60 };
        }
        if w.minute_count >= limit.steady_per_minute {
            return Pace::Throttled { retry_after: minute_reset };
        }
        if w.second_count >= limit.burst_per_second {
            return Pace::Throttled { retry_after: 1 };
        }
        w.second_count += 1;
        w.minute_count += 1;
        Pace::Allowed {
            limit: limit.steady_per_minute,
            remaining: limit.steady_per_minute - w.minute_count,
            reset: minute_reset,
        }
    }

    pub fn settle_all(&mut self, now: Instant) {
        for account in self.accounts.values_mut() {
            account.settle(now);
        }
    }
}
