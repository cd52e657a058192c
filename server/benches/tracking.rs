//! `cargo bench --bench tracking`: the tracking redirect and Shopify order ingestion under load.
//!
//! 1. Redirects: the same load (BENCH_CONCURRENCY clients for BENCH_SECONDS each) against a bare
//!    axum handler that only redirects, then against `/r/{code}` with every click recorded (each
//!    request a new visitor: no cookie, a user agent of its own, so none is a repeat). Reports requests/s, p50/p99 latency, the ratio,
//!    and checks that the database holds one click per request after a flush.
//! 2. Webhooks: BENCH_ORDERS signed `orders/paid` deliveries, each attributed, and checks that every
//!    one became a conversion.
//!
//! The load generator shares the machine (and its 2 cores) with the server, equally for both runs.
//! Engine: SQLite unless TEST_DATABASE_URL names a PostgreSQL server.

#[path = "../tests/common/seed.rs"]
mod seed;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use server::services::shopify::sign;
use server::startup::Application;
use server::store::Db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const UA: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const SECRET: &str = "bench-secret";

/// Runs `$body` on whichever pool `$db` holds.
macro_rules! on_engine_any {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

struct Stats {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// wrk (when installed: `scripts/bench.sh` installs it) with `bench/visitors.lua`, else the
/// in-process client below. Both runs of a comparison use the same one.
async fn load(url: String, duration: Duration, concurrency: u64) -> Stats {
    if let Some(stats) = wrk(&url, duration, concurrency).await {
        return stats;
    }
    client_load(url, duration, concurrency).await
}

/// Milliseconds from wrk's "1.23ms" / "850.00us" / "1.01s".
fn wrk_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * scale)
}

async fn wrk(url: &str, duration: Duration, concurrency: u64) -> Option<Stats> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/visitors.lua");
    let args = vec![
        "-t1".to_owned(),
        format!("-c{concurrency}"),
        format!("-d{}s", duration.as_secs()),
        "--latency".to_owned(),
        "-s".to_owned(),
        script.to_owned(),
        url.to_owned(),
    ];
    // Off the runtime's threads: they serve the requests.
    let output =
        tokio::task::spawn_blocking(move || std::process::Command::new("wrk").args(args).output()).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_owned)
    };
    let requests =
        text.lines().find(|l| l.contains("requests in")).and_then(|l| l.split_whitespace().next())?.parse().ok()?;
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    Some(Stats {
        requests,
        per_second: field("Requests/sec:")?.parse().ok()?,
        p50_ms: wrk_ms(&field("50%")?)?,
        p99_ms: wrk_ms(&field("99%")?)?,
    })
}

/// `concurrency` clients send GETs for `duration`; each request a new visitor cookie.
async fn client_load(url: String, duration: Duration, concurrency: u64) -> Stats {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let visitor = Arc::new(AtomicU64::new(rand::random::<u32>().into()));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, visitor) = (client.clone(), url.clone(), visitor.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let id = visitor.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                let response =
                    client.get(&url).header(header::USER_AGENT, format!("{UA}.{id}")).send().await.expect("answered");
                assert_eq!(response.status(), StatusCode::FOUND);
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as f64
            / 1000.0
    };
    Stats { requests: all.len() as u64, per_second: all.len() as f64 / elapsed, p50_ms: pct(0.50), p99_ms: pct(0.99) }
}

async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}");
    on_engine_any!(db, |pool| sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.expect("count"))
}

#[tokio::main]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let seconds = if smoke { 1 } else { env("BENCH_SECONDS", 10) };
    let concurrency = env("BENCH_CONCURRENCY", 32);
    let orders = if smoke { 300 } else { env("BENCH_ORDERS", 20_000) };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let fake = Fake::with_faults(Faults::default()).serve(listener).expect("fake");
    let database_url = seed::fresh_database("tracking").await;
    let engine = if database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let config = seed::config(
        database_url,
        &fake.base_url,
        server::outbox::Settings { worker: false, ..server::outbox::Settings::default() },
    );
    let app = Application::build(config).await.expect("builds");
    let address = format!("http://{}", app.address());
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, 1).await;
    on_engine_any!(&services.db, |pool| sqlx::query(
        "UPDATE affiliates SET state = 'approved', referral_code = 'bench-code' WHERE merchant_id = $1"
    )
    .bind(seeded.merchant)
    .execute(pool)
    .await
    .map(|_| ())
    .expect("approve"));
    let (slug, _) = server::store::tracking::shopify_status(&services.db, seeded.merchant).await.expect("slug");
    services.shopify.set(seeded.merchant, &slug, Some(SECRET)).await.expect("secret");
    tokio::spawn(app.run_until_stopped());

    let bare = Router::new().route(
        "/r/{code}",
        get(|Path(code): Path<String>| async move {
            (StatusCode::FOUND, [(header::LOCATION, format!("https://shop.example.com/?ref={code}"))])
        }),
    );
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let bare_address = format!("http://{}", bare_listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(bare_listener, bare).await });

    let duration = Duration::from_secs(seconds);
    let base = load(format!("{bare_address}/r/bench-code"), duration, concurrency).await;
    let ours = load(format!("{address}/r/bench-code"), duration, concurrency).await;
    services.tracker.flush().await;
    let clicks = count(&services.db, "clicks").await;
    println!(
        "redirect, bare axum:    {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} requests, {concurrency} clients)",
        base.per_second, base.p50_ms, base.p99_ms, base.requests
    );
    println!(
        "redirect, Rekomi [{engine}]: {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} requests; {clicks} clicks recorded)",
        ours.per_second, ours.p50_ms, ours.p99_ms, ours.requests
    );
    println!("ratio: {:.0} % of the bare handler", 100.0 * ours.per_second / base.per_second);
    // wrk counts the answers it read; requests still in flight when it stopped were served too.
    assert!(clicks >= ours.requests as i64, "every click is recorded: {clicks} < {}", ours.requests);

    // Webhooks: every order attributed to the one affiliate; concurrency clients in parallel.
    let client = reqwest::Client::new();
    let url = format!("{address}/webhooks/shopify/{slug}");
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders {
                    return latencies;
                }
                let body = format!(
                    r##"{{"id": {}, "name": "#{n}", "email": "buyer{n}@example.com", "currency": "USD", "subtotal_price": "49.90", "note_attributes": [{{"name": "rekomi_ref", "value": "bench-code.{}"}}]}}"##,
                    1_000_000 + n,
                    server::store::now_ms()
                );
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("x-shopify-topic", "orders/paid")
                    .header("x-shopify-hmac-sha256", sign(SECRET, body.as_bytes()))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("answered");
                assert_eq!(response.status(), StatusCode::OK);
                latencies.push(sent.elapsed().as_micros() as u64);
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or(0) as f64 / 1000.0;
    let conversions = count(&services.db, "conversions").await;
    println!(
        "webhooks [{engine}]: {orders} orders/paid in {elapsed:.2} s = {:.0} orders/s, p99 {p99:.2} ms; {conversions} conversions recorded",
        orders as f64 / elapsed
    );
    assert_eq!(conversions, orders as i64, "no order lost");
}
