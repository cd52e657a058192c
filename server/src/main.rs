use server::config::Config;
use server::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    // `server fake-klaviyo --demo`: the fake Klaviyo for demos and tests, from the same binary.
    if std::env::args().nth(1).as_deref() == Some("fake-klaviyo") {
        return server::fake_klaviyo::cli::main(std::env::args().skip(2)).await;
    }
    let config = Config::from_env()?;
    let app = Application::build(config).await?;
    tracing::info!(address = %app.address(), database = app.engine(), "Rekomi is listening");
    app.run_until_stopped().await
}
