//! Chaos: approvals synced by real server processes while the fake Klaviyo throttles, fails,
//! drops connections and loses accepted jobs, and the servers are killed with SIGKILL at random
//! moments and restarted. At the end every affiliate is SUBSCRIBED in the list exactly once, no
//! profile is duplicated or regressed, and no sync is stuck.
//!
//! Short by default (CI): 200 approvals and one kill. `scripts/chaos.sh` runs the full size
//! (CHAOS_APPROVALS=2000 CHAOS_KILLS=3). With TEST_DATABASE_URL (PostgreSQL), two server instances
//! share the queue.

#[path = "common/seed.rs"]
mod seed;

use app::domain::affiliate::Decision;
use base64::Engine as _;
use fakes::klaviyo::world::Faults;
use fakes::klaviyo::Fake;
use leptos::config::LeptosOptions;
use rand::{Rng, SeedableRng};
use server::config::{Config, SecretKey};
use server::startup::Application;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: [u8; 32] = [9; 32];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Instance {
    child: Child,
}

fn start(database_url: &str, klaviyo: &str, n: usize) -> Instance {
    let log = std::env::temp_dir().join(format!("rekomi-chaos-{}-{n}.log", std::process::id()));
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", database_url)
        .env("REKOMI_ADDR", "127.0.0.1:0")
        .env("REKOMI_SECRET_KEY", base64::engine::general_purpose::STANDARD.encode(SECRET))
        .env("KLAVIYO_API_BASE", klaviyo)
        .env("REKOMI_SYNC_LEASE_SECS", "5")
        .env("REKOMI_SYNC_VERIFY_SECS", "5")
        .env("REKOMI_SYNC_MAX_ATTEMPTS", "30")
        .env("LEPTOS_OUTPUT_NAME", "rekomi")
        .env("RUST_LOG", "warn,server::outbox=info")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("the server binary starts");
    Instance { child }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_survive_faults_lost_jobs_and_sigkill() {
    let approvals = env_number("CHAOS_APPROVALS", 200);
    let kills = env_number("CHAOS_KILLS", 1);
    let postgres = std::env::var("TEST_DATABASE_URL").is_ok();
    let instances = if postgres { 2 } else { 1 };

    // About one request in five fails: throttled, 503, or a dropped connection; one accepted job
    // in ten is silently lost.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let faults = Faults {
        throttle_rate: 0.08,
        server_error_rate: 0.06,
        drop_rate: 0.06,
        job_drop_rate: 0.1,
        job_delay_ms: 300,
        ..Faults::default()
    };
    let fake = Fake::with_faults(Faults::default()).serve(listener).expect("fake Klaviyo");

    // This process seeds and approves; it runs no worker, so only the spawned servers sync.
    let database_url = seed::fresh_database("chaos").await;
    let config = Config {
        database_url: database_url.clone(),
        addr: "127.0.0.1:0".parse().expect("address"),
        public_url: None,
        trust_proxy: false,
        auth_per_minute: 0,
        apply_per_minute: 0,
        secret_key: SecretKey(SECRET),
        klaviyo_api_base: fake.base_url.clone(),
        shopify_api_base: None,
        klaviyo_tests_per_minute: 0,
        api_per_minute: 0,
        test_hooks: false,
        webhooks_allow_private: false,
        sync: server::outbox::Settings { worker: false, ..server::outbox::Settings::default() },
        leptos: LeptosOptions::builder().output_name("rekomi").build(),
    };
    let app = Application::build(config).await.expect("builds");
    let services = app.services().clone();
    let seeded = seed::seed(&services, &fake.fake, approvals).await;
    fake.fake.world.lock().expect("world").faults = faults;

    let mut servers: Vec<Instance> = (0..instances).map(|n| start(&database_url, &fake.base_url, n)).collect();
    let started = Instant::now();
    // Approvals arrive in bursts of 1 to 100 over a few seconds; kills land at random moments
    // among them and after them.
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut kill_at: Vec<Duration> =
        (0..kills).map(|_| Duration::from_millis(rng.gen_range(500..6_000))).collect::<Vec<_>>();
    kill_at.sort();
    let mut pending = seeded.affiliates.as_slice();
    let mut restarts = 0;
    while !pending.is_empty() || !kill_at.is_empty() {
        if kill_at.first().is_some_and(|at| started.elapsed() >= *at) {
            kill_at.remove(0);
            let victim = rng.gen_range(0..servers.len());
            servers[victim].child.kill().expect("SIGKILL");
            let _ = servers[victim].child.wait();
            servers[victim] = start(&database_url, &fake.base_url, victim + 10 * (restarts + 1));
            restarts += 1;
            eprintln!("chaos: killed and restarted instance {victim} at {:?}", started.elapsed());
        }
        if !pending.is_empty() {
            let take = rng.gen_range(1..=100).min(pending.len());
            let (now, rest) = pending.split_at(take);
            server::services::affiliates::decide(&services.db, seeded.merchant, "chaos", now, Decision::Approve, None)
                .await
                .expect("approved");
            pending = rest;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(20..150))).await;
    }
    assert_eq!(restarts, kills);

    // Everything settles, faults and all.
    let deadline = Instant::now() + Duration::from_secs(240);
    let counts = loop {
        let counts = seed::counts(&services.db).await;
        if counts.get("succeeded").copied().unwrap_or(0) == approvals as i64 {
            break counts;
        }
        assert!(Instant::now() < deadline, "not settled after 4 minutes: {counts:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("chaos: {approvals} approvals settled in {:?} with {kills} kill(s): {counts:?}", started.elapsed());
    drop(servers);

    let world = fake.fake.world.lock().expect("world");
    let account = &world.accounts[seed::ACCOUNT];
    let list = &account.lists[seed::LIST];
    assert_eq!(account.profiles.len(), approvals, "one profile per affiliate, no duplicates");
    let mut emails: Vec<&str> = account.profiles.values().map(|p| p.email.as_str()).collect();
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), approvals, "no email twice");
    for i in 0..approvals {
        let profile = account.profile_by_email(&seed::email(i)).expect("every affiliate has a profile");
        assert_eq!(profile.consent, "SUBSCRIBED", "{} regressed or never subscribed", profile.email);
        assert!(list.members.contains_key(&profile.id), "{} is in the list", profile.email);
        assert_eq!(profile.first_name.as_deref(), Some("Affiliate"));
    }
    assert_eq!(list.members.len(), approvals, "each affiliate in the list exactly once");
}
