//! The fake Klaviyo on its own; see `server::fake_klaviyo::cli`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    server::fake_klaviyo::cli::main(std::env::args().skip(1)).await
}
