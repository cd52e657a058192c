//! The fake Klaviyo as a process, for the demo and the browser tests; see `fakes::klaviyo::cli`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backend::telemetry::init();
    fakes::klaviyo::cli::main(std::env::args().skip(1)).await
}
