use server::config::Config;
use server::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let config = Config::from_env()?;
    let app = Application::build(config).await?;
    tracing::info!(address = %app.address(), database = app.engine(), "Rekomi is listening");
    app.run_until_stopped().await
}
