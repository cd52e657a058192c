//! `GET /api/sync/events`: server-sent events with the signed-in merchant's sync health and the
//! syncs that changed, so the queue and affiliate pages update without a reload. Changes made by this
//! instance's worker arrive at once; those made by other instances are picked up within a second.

use super::auth::{MerchantSession, NotSignedIn};
use super::AppState;
use crate::clock::now_ms;
use crate::services::sync::FeedCursor;
use crate::services::Services;
use app::api::views::SyncHealth;
use app::domain::MerchantId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the feed looks at the database when nothing was signalled.
const POLL: Duration = Duration::from_secs(1);
/// The first message repeats the last few seconds, covering what changed while the page loaded.
const BACKLOG_MS: i64 = 5_000;

pub async fn stream(State(state): State<AppState>, session: Result<MerchantSession, NotSignedIn>) -> Response {
    let session = match session {
        Ok(session) => session,
        Err(NotSignedIn::Missing) => {
            return (StatusCode::UNAUTHORIZED, "Sign in to follow sync status.").into_response()
        }
        Err(NotSignedIn::Failed) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let feed = Feed {
        rx: crate::outbox::subscribe(),
        services: state.services.clone(),
        token: session.token,
        merchant: session.merchant,
        cursor: FeedCursor::new(now_ms(), BACKLOG_MS),
        last_health: None,
        polls: 0,
    };
    Sse::new(updates(feed)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

struct Feed {
    services: Services,
    rx: broadcast::Receiver<MerchantId>,
    /// The session the feed was opened with; checked again now and then, so a feed ends with it.
    token: String,
    merchant: MerchantId,
    cursor: FeedCursor,
    last_health: Option<SyncHealth>,
    polls: u64,
}

/// Polls between session checks.
const SESSION_CHECK_EVERY: u64 = 30;

impl Feed {
    /// Waits for a signal about this merchant, or the poll interval.
    async fn wait(&mut self) {
        let deadline = tokio::time::sleep(POLL);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                received = self.rx.recv() => match received {
                    Ok(m) if m == self.merchant => return,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return deadline.await,
                },
            }
        }
    }
}

fn updates(feed: Feed) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(feed, |mut feed| async move {
        loop {
            if feed.polls > 0 {
                feed.wait().await;
            }
            feed.polls += 1;
            if feed.polls % SESSION_CHECK_EVERY == 0
                && !matches!(feed.services.accounts.lookup(&feed.token).await, Ok(Some(row)) if row.merchant_id == feed.merchant)
            {
                return None;
            }
            let update = match feed.cursor.next(&feed.services.db, feed.merchant).await {
                Ok(update) => update,
                Err(error) => {
                    tracing::warn!(%error, "sync feed: could not read changes");
                    continue;
                }
            };
            if update.changed.is_empty() && feed.last_health.as_ref() == Some(&update.health) {
                continue;
            }
            feed.last_health = Some(update.health.clone());
            let event = Event::default().event("sync").json_data(&update).unwrap_or_else(|_| Event::default());
            return Some((Ok(event), feed));
        }
    })
}
