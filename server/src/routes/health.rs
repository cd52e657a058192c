//! `GET /healthz`: the process is up and the database answers.

use crate::startup::AppState;
use crate::store::on_engine;
use axum::extract::State;
use axum::http::StatusCode;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = on_engine!(&state.services.db, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()));
    match ping {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::error!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
