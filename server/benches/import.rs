//! `cargo bench --bench import`: a Rewardful CSV of 100,000 affiliates (BENCH_ROWS).
//!
//! 1. Parse and validate only (the CSV reader and every cell's domain type), with the process's
//!    peak memory before and after, for the file and for a tenth of it: what the reader adds must
//!    not grow with the file.
//! 2. The dry run as the upload runs it: parse, validate, plan against the database, store the file
//!    and the report.
//! 3. The confirmation: every row written in one transaction (affiliates, audit entries, Klaviyo
//!    sync outbox rows).
//!
//! Engine: SQLite unless TEST_DATABASE_URL names a PostgreSQL server.

#[path = "../tests/common/seed.rs"]
mod seed;

use app::api::views::{ConsentMode, ImportProgress};
use app::domain::rewardful::Reader;
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use server::services::imports::{self, Upload};
use server::startup::Application;
use std::time::Instant;

fn csv(rows: usize) -> Vec<u8> {
    let mut out = String::with_capacity(rows * 130);
    out.push_str("Affiliate First Name,Affiliate Last Name,Affiliate Email,Token,PayPal Email,state,Imported ID,created_at,visitors,leads,conversions\n");
    for i in 0..rows {
        let state = match i % 20 {
            0 => "disabled",
            1 => "suspicious",
            _ => "active",
        };
        out.push_str(&format!(
            "Ana{i},van der Berg,import{i:07}@example.com,tok{i:07},pay{i:07}@example.com,{state},rw_{i},2024-03-01T09:30:00Z,{},{},{}\n",
            i % 500,
            i % 50,
            i % 7
        ));
    }
    out.into_bytes()
}

/// Peak resident memory since the last reset, in MiB (Linux).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Parses and validates every row; returns (valid rows, seconds, MiB the peak grew by).
fn parse_only(file: &[u8]) -> (usize, f64, f64) {
    reset_peak();
    let before = peak_mib();
    let start = Instant::now();
    let mut reader = Reader::new(file).expect("header");
    let mut valid = 0;
    while let Some(row) = reader.next_row().expect("file") {
        valid += usize::from(row.is_ok());
    }
    (valid, start.elapsed().as_secs_f64(), peak_mib() - before)
}

#[tokio::main]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let rows =
        if smoke { 2_000 } else { std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000) };

    let big = csv(rows);
    let small = csv(rows / 10);
    let (valid_small, secs_small, grew_small) = parse_only(&small);
    let (valid, secs, grew) = parse_only(&big);
    assert_eq!((valid, valid_small), (rows, rows / 10));
    println!(
        "parse + validate: {rows} rows ({:.1} MB) in {secs:.2} s ({:.0} rows/s); peak memory +{grew:.1} MiB \
         (a tenth of the file: {secs_small:.2} s, +{grew_small:.1} MiB)",
        big.len() as f64 / 1e6,
        rows as f64 / secs
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let fake = Fake::with_faults(Faults::default()).serve(listener).expect("fake");
    let database_url = seed::fresh_database("import").await;
    let engine = if database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let config = seed::config(
        database_url,
        &fake.base_url,
        server::outbox::Settings { worker: false, ..server::outbox::Settings::default() },
    );
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, 0).await;
    let campaign = server::store::campaigns::list(&services.db, seeded.merchant).await.expect("campaigns")[0].id;
    let quiet = |_: ImportProgress| {};

    let start = Instant::now();
    let upload = Upload {
        merchant: seeded.merchant,
        actor: "bench",
        campaign,
        consent: ConsentMode::Elsewhere,
        filename: "rewardful.csv",
    };
    let report = imports::check(&services.db, upload, bytes::Bytes::from(big), &quiet).await.expect("dry run");
    let dry = start.elapsed().as_secs_f64();
    assert_eq!(report.create, rows as u64);

    let start = Instant::now();
    let done = imports::confirm(&services.db, &services.invites, seeded.merchant, "bench", report.id, &quiet)
        .await
        .expect("imported");
    let apply = start.elapsed().as_secs_f64();
    assert_eq!(done.create, rows as u64);
    println!("[{engine}] dry run (parse, validate, plan, store): {dry:.2} s; import in one transaction: {apply:.2} s");
}
