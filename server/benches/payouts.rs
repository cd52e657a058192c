//! `cargo bench --bench payouts`: a payout run at the scale of a large program.
//!
//! BENCH_AFFILIATES approved affiliates (default 10,000) with BENCH_LINES approved commission lines
//! each (default 10: 100,000 lines) are inserted in bulk; then, timed: creating the run (sums per
//! affiliate and currency, lines attached), exporting the PayPal file, and marking the run paid
//! (lines locked, one `Rekomi Payout Sent` event and one `payout.paid` delivery queued per payout).
//! Checks that every line is paid and every payout announced once. Engine: SQLite unless
//! TEST_DATABASE_URL names a PostgreSQL server.

#[path = "../tests/common/seed.rs"]
mod seed;

use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use server::services::payouts::{self, Created, FileKind};
use server::startup::Application;
use server::store::{now_ms, Db};
use std::time::Instant;

macro_rules! on_engine_any {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Approved affiliates with `lines` approved commissions each, one conversion per line.
async fn seed_lines(db: &Db, merchant: app::domain::MerchantId, lines: usize) {
    let now = now_ms();
    on_engine_any!(db, |pool| {
        sqlx::query(
            "UPDATE affiliates SET state = 'approved', referral_code = 'c' || CAST(id AS TEXT) WHERE merchant_id = $1",
        )
        .bind(merchant)
        .execute(pool)
        .await
        .expect("approve");
        let campaign: i64 = sqlx::query_scalar("SELECT id FROM campaigns WHERE merchant_id = $1")
            .bind(merchant)
            .fetch_one(pool)
            .await
            .expect("c");
        let affiliates: Vec<i64> = sqlx::query_scalar("SELECT id FROM affiliates WHERE merchant_id = $1 ORDER BY id")
            .bind(merchant)
            .fetch_all(pool)
            .await
            .expect("ids");
        let rows: Vec<(i64, usize)> = affiliates.iter().flat_map(|a| (0..lines).map(move |n| (*a, n))).collect();
        for chunk in rows.chunks(1_000) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO conversions (merchant_id, campaign_id, affiliate_id, order_id, channel, via, subtotal_minor,
                     currency, ordered_at, created_at) ",
            );
            q.push_values(chunk, |mut b, (a, n)| {
                b.push_bind(merchant)
                    .push_bind(campaign)
                    .push_bind(*a)
                    .push_bind(format!("O-{a}-{n}"))
                    .push_bind("api")
                    .push_bind("link")
                    .push_bind(10_000_i64)
                    .push_bind("USD")
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(pool).await.expect("conversions");
        }
        sqlx::query(
            "INSERT INTO commissions (merchant_id, campaign_id, affiliate_id, conversion_id, amount_minor, original_minor,
                 currency, rule, state, approve_at, created_at)
             SELECT merchant_id, campaign_id, affiliate_id, id, 1000, 1000, currency, '10 % of 100.00 USD', 'approved', $2, $2
             FROM conversions WHERE merchant_id = $1",
        )
        .bind(merchant)
        .bind(now)
        .execute(pool)
        .await
        .expect("commissions");
    });
}

async fn count(db: &Db, sql: &str, merchant: app::domain::MerchantId) -> i64 {
    on_engine_any!(db, |pool| sqlx::query_scalar(sql).bind(merchant).fetch_one(pool).await.expect("count"))
}

#[tokio::main]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let affiliates = if smoke { 200 } else { env("BENCH_AFFILIATES", 10_000) };
    let lines = if smoke { 3 } else { env("BENCH_LINES", 10) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let fake = Fake::with_faults(Faults::default()).serve(listener).expect("fake");
    let database_url = seed::fresh_database("payouts").await;
    let engine = if database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let config = seed::config(
        database_url,
        &fake.base_url,
        server::outbox::Settings { worker: false, ..server::outbox::Settings::default() },
    );
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, affiliates).await;
    let merchant = seeded.merchant;
    seed_lines(&services.db, merchant, lines).await;
    println!("payouts on {engine}: {affiliates} affiliates × {lines} approved lines = {} lines", affiliates * lines);

    let started = Instant::now();
    let run = match payouts::open_run(&services.db, merchant, "bench", now_ms()).await.expect("run") {
        Created::Run(id) => id,
        Created::NothingDue => panic!("everything is due"),
    };
    let created = started.elapsed();
    let started = Instant::now();
    let (_, file) = payouts::file(&services, merchant, run.get(), FileKind::PayPal, Some("USD")).await.expect("file");
    let exported = started.elapsed();
    let started = Instant::now();
    assert!(payouts::pay_run(&services.db, merchant, run, "BENCH-1", now_ms()).await.expect("paid"));
    let paid = started.elapsed();

    assert_eq!(file.lines().count(), affiliates, "one PayPal row per affiliate");
    let paid_lines =
        count(&services.db, "SELECT COUNT(*) FROM commissions WHERE merchant_id = $1 AND state = 'paid'", merchant)
            .await;
    assert_eq!(paid_lines as usize, affiliates * lines, "every line paid");
    let announced = count(
        &services.db,
        "SELECT COUNT(*) FROM klaviyo_events WHERE merchant_id = $1 AND metric = 'Rekomi Payout Sent'",
        merchant,
    )
    .await;
    assert_eq!(announced as usize, affiliates, "one event per payout");
    let per_second = |d: std::time::Duration| (affiliates * lines) as f64 / d.as_secs_f64();
    println!("  create run:   {:>8.0} ms ({:.0} lines/s)", created.as_secs_f64() * 1e3, per_second(created));
    println!(
        "  PayPal file:  {:>8.0} ms ({} rows, {} KB)",
        exported.as_secs_f64() * 1e3,
        affiliates,
        file.len() / 1024
    );
    println!("  mark paid:    {:>8.0} ms ({} events queued)", paid.as_secs_f64() * 1e3, announced);
}
