//! `fake-shopify [--addr 127.0.0.1:3200] [--demo] [--no-throttle]`: the `fake-shopify` binary of
//! this crate (`cargo run -p fakes --bin fake-shopify -- --demo`).

use super::{seed_demo, world::Faults, Fake, DEMO_CLIENT_ID, DEMO_CLIENT_ID_NO_DISCOUNTS, DEMO_SHOP};
use anyhow::{anyhow, bail};

const USAGE: &str = "usage: fake-shopify [--addr HOST:PORT] [--demo] [--no-throttle]";

pub async fn main(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let mut addr = std::env::var("FAKE_SHOPIFY_ADDR").unwrap_or_else(|_| "127.0.0.1:3200".into());
    let mut demo = false;
    let mut faults = Faults::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or_else(|| anyhow!("--addr needs HOST:PORT; {USAGE}"))?,
            "--demo" => demo = true,
            "--no-throttle" => faults.no_throttle = true,
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
    println!("fake Shopify listening on {}", running.base_url);
    if demo {
        println!("demo store {DEMO_SHOP}: client ids {DEMO_CLIENT_ID} (every scope), {DEMO_CLIENT_ID_NO_DISCOUNTS} (no write_discounts)");
    }
    tokio::select! {
        _ = running.task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
