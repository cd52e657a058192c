//! `fake-klaviyo [--addr 127.0.0.1:3100] [--demo] [--job-delay-ms 500] [--no-rate-limits]`: the
//! `fake-klaviyo` binary of this crate (`cargo run -p fakes --bin fake-klaviyo -- --demo`).

use super::{seed_demo, world::Faults, Fake, DEMO_KEY, DEMO_KEY_NO_SUBSCRIPTIONS, DEMO_KEY_OTHER_ACCOUNT};
use anyhow::{anyhow, bail};

const USAGE: &str = "usage: fake-klaviyo [--addr HOST:PORT] [--demo] [--job-delay-ms N] [--no-rate-limits]";

pub async fn main(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let mut addr = std::env::var("FAKE_KLAVIYO_ADDR").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let mut demo = false;
    let mut faults = Faults::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or_else(|| anyhow!("--addr needs HOST:PORT; {USAGE}"))?,
            "--demo" => demo = true,
            "--job-delay-ms" => {
                faults.job_delay_ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| anyhow!("--job-delay-ms needs a number; {USAGE}"))?
            }
            "--no-rate-limits" => faults.rate_limits_off = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    let fake = Fake::with_faults(faults);
    if demo {
        seed_demo(&fake);
    }
    let listener =
        tokio::net::TcpListener::bind(&addr).await.map_err(|e| anyhow!("could not listen on {addr}: {e}"))?;
    let running = fake.serve(listener)?;
    println!("fake Klaviyo listening on {}", running.base_url);
    if demo {
        println!("demo keys: {DEMO_KEY} (all permissions), {DEMO_KEY_NO_SUBSCRIPTIONS} (no Subscriptions), {DEMO_KEY_OTHER_ACCOUNT} (another account)");
    }
    tokio::select! {
        _ = running.task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
