//! `fake-klaviyo [--addr 127.0.0.1:3100] [--demo] [--job-delay-ms 500]`: a fake Klaviyo API for
//! tests, demos and benchmarks. With `--demo` it starts with a demo account and prints its keys.

use server::fake_klaviyo::{self, world::Faults, Fake};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let mut addr = std::env::var("FAKE_KLAVIYO_ADDR").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let mut demo = false;
    let mut faults = Faults::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or_else(|| anyhow::anyhow!("--addr needs an address"))?,
            "--demo" => demo = true,
            "--job-delay-ms" => {
                faults.job_delay_ms = args.next().and_then(|v| v.parse().ok()).ok_or_else(|| anyhow::anyhow!("--job-delay-ms needs a number"))?
            }
            "--no-rate-limits" => faults.rate_limits_off = true,
            other => anyhow::bail!("unknown argument {other:?}; usage: fake-klaviyo [--addr HOST:PORT] [--demo] [--job-delay-ms N] [--no-rate-limits]"),
        }
    }
    let fake = Fake::with_faults(faults);
    if demo {
        fake_klaviyo::seed_demo(&fake);
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let running = fake.serve(listener)?;
    println!("fake Klaviyo listening on {}", running.base_url);
    if demo {
        println!(
            "demo keys: {} (all scopes), {} (no Subscriptions), {} (another account)",
            fake_klaviyo::DEMO_KEY,
            fake_klaviyo::DEMO_KEY_NO_SUBSCRIPTIONS,
            fake_klaviyo::DEMO_KEY_OTHER_ACCOUNT
        );
    }
    tokio::select! {
        _ = running.task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
