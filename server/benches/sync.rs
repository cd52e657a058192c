//! `cargo bench --bench sync`: how fast approvals become verified Klaviyo subscriptions, against
//! the fake Klaviyo with the spec's rate limits and a 2 s job-apply delay (Klaviyo's jobs are not
//! instant either).
//!
//! 1. Latency: single approvals, one at a time, from the approval's commit to the sync read back
//!    as Succeeded (p50, p95, max).
//! 2. Throughput: 10,000 approvals (bulk approve, 1,000 per decision) until all are verified.
//!
//! Sizes: BENCH_SINGLE (default 20), BENCH_BULK (default 10000). Engine: SQLite unless
//! TEST_DATABASE_URL names a PostgreSQL server.

#[path = "../tests/common/seed.rs"]
mod seed;

use app::domain::affiliate::Decision;
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use server::startup::Application;
use std::time::{Duration, Instant};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; anything else (cargo test --benches) runs a smoke-sized pass.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let single = if smoke { 2 } else { env_number("BENCH_SINGLE", 20) };
    let bulk = if smoke { 50 } else { env_number("BENCH_BULK", 10_000) };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let fake = Fake::with_faults(Faults { job_delay_ms: 2_000, ..Faults::default() }).serve(listener).expect("fake");
    let database_url = seed::fresh_database("bench").await;
    let engine = if database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let config = seed::config(database_url, &fake.base_url, server::outbox::Settings::default());
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, single + bulk).await;
    tokio::spawn(app.run_until_stopped());
    let (singles, rest) = seeded.affiliates.split_at(single);

    // 1. One approval at a time.
    let mut latencies = Vec::with_capacity(single);
    for id in singles {
        let start = Instant::now();
        server::services::affiliates::decide(&services.db, seeded.merchant, "bench", &[*id], Decision::Approve, None)
            .await
            .expect("approved");
        wait_until_succeeded(&services.db, latencies.len() as i64 + 1, Duration::from_secs(60)).await;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "sync/single ({engine}, {single} approvals, 2 s job delay): p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        pct(0.5).as_secs_f64(),
        pct(0.95).as_secs_f64(),
        latencies.last().copied().unwrap_or_default().as_secs_f64()
    );

    // 2. Bulk approval, as the queue's "approve selected" does it (1,000 per decision).
    let start = Instant::now();
    for chunk in rest.chunks(1_000) {
        server::services::affiliates::decide(&services.db, seeded.merchant, "bench", chunk, Decision::Approve, None)
            .await
            .expect("approved");
    }
    let approved = start.elapsed();
    let total = (single + bulk) as i64;
    wait_until_succeeded(&services.db, total, Duration::from_secs(300)).await;
    let elapsed = start.elapsed();
    // And both of each approval's messages out: the subscription above, the event here.
    let deadline = Instant::now() + Duration::from_secs(300);
    while events_sent(&services.db).await < total {
        assert!(Instant::now() < deadline, "not all approval events were sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events_done = start.elapsed();
    let calls = fake.fake.world.lock().map(|w| w.log.len()).unwrap_or(0);
    let throttled = fake.fake.world.lock().map(|w| w.log.iter().filter(|e| e.status == 429).count()).unwrap_or(0);
    println!(
        "sync/bulk ({engine}, {bulk} approvals): approvals committed in {:.2} s, all verified Succeeded in {:.2} s \
         ({:.0} affiliates/s); Klaviyo calls (last 20,000 kept): {calls}, of which 429: {throttled}",
        approved.as_secs_f64(),
        elapsed.as_secs_f64(),
        bulk as f64 / elapsed.as_secs_f64()
    );
    let mut by_operation = std::collections::BTreeMap::<String, usize>::new();
    if let Ok(world) = fake.fake.world.lock() {
        for exchange in &world.log {
            *by_operation.entry(exchange.operation.clone().unwrap_or_else(|| exchange.path.clone())).or_default() += 1;
        }
    }
    println!("sync/bulk calls by operation: {by_operation:?}");
    println!(
        "sync/bulk events ({engine}): all {total} `Rekomi Affiliate Approved` events accepted by Klaviyo {:.2} s after \
         the first bulk approval",
        events_done.as_secs_f64()
    );
}

async fn events_sent(db: &server::store::Db) -> i64 {
    let sql = "SELECT COUNT(*) FROM klaviyo_events WHERE state = 'sent'";
    match db {
        server::store::Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        server::store::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count")
}

async fn wait_until_succeeded(db: &server::store::Db, expected: i64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let counts = seed::counts(db).await;
        if counts.get("succeeded").copied().unwrap_or(0) >= expected {
            return;
        }
        assert!(Instant::now() < deadline, "not all verified within {limit:?}: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
