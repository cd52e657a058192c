//! `cargo bench -p server --bench reconcile`: the daily check of every synced affiliate against
//! Klaviyo (the reconcile), against the fake Klaviyo with the spec's rate limits.
//!
//! 100,000 affiliates (`BENCH_AFFILIATES`) are seeded as synced: approved, their sync Succeeded, and
//! subscribed members of the list in the fake; one in a hundred then unsubscribes in Klaviyo. The
//! server starts with its runners and the pass that connecting scheduled. Measured: the time until
//! the pass has finished, the drift it found, the calls it made, and the most calls of one kind in
//! any second and any minute against the spec's limit (the pass may use at most half).
//!
//! Engine: SQLite unless TEST_DATABASE_URL names a PostgreSQL server.

#[path = "../tests/common/seed.rs"]
mod seed;

use fakes::klaviyo::world::{Faults, ProfileUpsert};
use fakes::klaviyo::{Fake, PersonAction};
use server::startup::Application;
use server::store::Db;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

#[tokio::main]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n: usize = if smoke {
        300
    } else {
        std::env::var("BENCH_AFFILIATES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let fake = Fake::with_faults(Faults::default()).serve(listener).expect("fake");
    let database_url = seed::fresh_database("reconcile").await;
    let engine = if database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let config = seed::config(database_url, &fake.base_url, server::outbox::Settings::default());
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, n).await;

    // Synced, as a past sync left them: approved, Succeeded, subscribed members of the list.
    let now = server::store::now_ms();
    exec(
        &services.db,
        &format!(
            "UPDATE affiliates SET state = 'approved', decided_at = {now} WHERE merchant_id = {}",
            seeded.merchant
        ),
    )
    .await;
    exec(
        &services.db,
        &format!(
            "INSERT INTO klaviyo_syncs (merchant_id, affiliate_id, list_id, state, created_at, updated_at, in_list_at)
             SELECT merchant_id, id, '{}', 'succeeded', {now}, {now}, {now} FROM affiliates WHERE merchant_id = {}",
            seed::LIST,
            seeded.merchant
        ),
    )
    .await;
    let unsubscribed = n / 100;
    {
        let mut world = fake.fake.world.lock().expect("world");
        let account = world.accounts.get_mut(seed::ACCOUNT).expect("account");
        for i in 0..n {
            let (id, _) = account.upsert(&ProfileUpsert { email: seed::email(i), ..ProfileUpsert::default() });
            if let Some(p) = account.profiles.get_mut(&id) {
                p.consent = "SUBSCRIBED".into();
                p.consent_at = Some(SystemTime::now());
            }
            if let Some(list) = account.lists.get_mut(seed::LIST) {
                list.members.insert(id, SystemTime::now());
            }
        }
        for i in (0..n).step_by(100).take(unsubscribed) {
            account.person_acts(PersonAction::Unsubscribe { email: seed::email(i) });
        }
        world.log.clear();
    }

    let start = Instant::now();
    tokio::spawn(app.run_until_stopped());
    let deadline = start + Duration::from_secs(1_800);
    let health = loop {
        let health = server::store::sync::health(&services.db, seeded.merchant).await.expect("health");
        if health.checked_at.is_some() {
            break health;
        }
        assert!(Instant::now() < deadline, "the pass did not finish: {health:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = start.elapsed();
    assert_eq!(health.drifted as usize, unsubscribed, "{health:?}");

    let mut by_operation: BTreeMap<String, Vec<SystemTime>> = BTreeMap::new();
    if let Ok(world) = fake.fake.world.lock() {
        for e in &world.log {
            by_operation.entry(e.operation.clone().unwrap_or_else(|| e.path.clone())).or_default().push(e.at);
        }
    }
    println!(
        "reconcile ({engine}, {n} synced affiliates, {unsubscribed} unsubscribed in Klaviyo): pass finished in {:.1} s \
         ({:.0} affiliates/s), {} found changed",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        health.drifted
    );
    for (operation, times) in &by_operation {
        println!(
            "reconcile calls: {operation}: {} (most in one second {}, in one minute {})",
            times.len(),
            most_within(times, Duration::from_secs(1)),
            most_within(times, Duration::from_secs(60))
        );
    }
    println!("spec limit for list members and profiles reads: 75/s, 750/min; the pass may use half (37/s, 375/min)");
}

/// The most calls in any window of `width`.
fn most_within(times: &[SystemTime], width: Duration) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut most = 0;
    let mut first = 0;
    for (i, t) in sorted.iter().enumerate() {
        while t.duration_since(sorted[first]).unwrap_or_default() >= width {
            first += 1;
        }
        most = most.max(i + 1 - first);
    }
    most
}

async fn exec(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .expect("statement runs");
}
