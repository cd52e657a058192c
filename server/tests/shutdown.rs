//! No click is lost on SIGTERM: the real server binary answers a burst of tracking-link clicks (the
//! writer still holds the last ones in memory), is sent SIGTERM right after the last answer, and the
//! database then holds every click.

#[path = "common/seed.rs"]
mod seed;

use base64::Engine as _;
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use server::startup::Application;
use server::store::Db;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: [u8; 32] = [5; 32];
const CLICKS: usize = 1_500;
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

async fn count(db: &Db) -> i64 {
    let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM clicks";
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect("count"),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect("count"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_every_queued_click_before_exiting() {
    // Seed through the library (migrations, a merchant, a campaign, one approved affiliate).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let fake = Fake::with_faults(Faults::default()).serve(listener).expect("fake");
    let database_url = seed::fresh_database("shutdown").await;
    let config = seed::config(
        database_url.clone(),
        &fake.base_url,
        server::outbox::Settings { worker: false, ..server::outbox::Settings::default() },
    );
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, 1).await;
    let approve = "UPDATE affiliates SET state = 'approved', referral_code = 'sigterm-code' WHERE merchant_id = $1";
    match &services.db {
        Db::Sqlite(pool) => sqlx::query(approve).bind(seeded.merchant).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::query(approve).bind(seeded.merchant).execute(pool).await.map(|_| ()),
    }
    .expect("approved");
    drop(app);

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", &database_url)
        .env("REKOMI_ADDR", format!("127.0.0.1:{port}"))
        .env("REKOMI_SECRET_KEY", base64::engine::general_purpose::STANDARD.encode(SECRET))
        .env("KLAVIYO_API_BASE", &fake.base_url)
        .env("LEPTOS_OUTPUT_NAME", "rekomi")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut tasks = Vec::new();
    for worker in 0..25 {
        let (client, url) = (client.clone(), format!("{base}/r/sigterm-code"));
        tasks.push(tokio::spawn(async move {
            for i in (worker..CLICKS).step_by(25) {
                let response = client
                    .get(&url)
                    // No cookie and a user agent of its own: a new visitor each time.
                    .header("user-agent", format!("{UA}.{i}"))
                    .send()
                    .await
                    .expect("answered");
                assert_eq!(response.status(), reqwest::StatusCode::FOUND);
            }
        }));
    }
    for task in tasks {
        task.await.expect("clicks sent");
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let exited = tokio::task::spawn_blocking(move || child.wait()).await.expect("waits").expect("exit status");
    assert!(exited.success(), "a graceful exit: {exited:?}");
    let db = Db::connect(&database_url).await.expect("reopens");
    assert_eq!(count(&db).await, CLICKS as i64, "every answered click is in the database");
}
