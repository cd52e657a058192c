//! The fake Shopify as a process, for the demo and the browser tests; see `fakes::shopify::cli`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backend::telemetry::init();
    fakes::shopify::cli::main(std::env::args().skip(1)).await
}
