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
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Live feeds one session may hold open: a tab holds one (a closed one is noticed at the next
/// keep-alive, within 15 s), so this allows many tabs and stops a
/// script from opening thousands (each polls the database).
pub const MAX_PER_SESSION: usize = 16;

/// Open feeds per session token, in this process.
static OPEN: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// One of a session's feed slots, given back when the feed ends (the client went away and the
/// next write failed, or the session ended).
struct Slot(String);

impl Slot {
    fn take(token: &str) -> Option<Slot> {
        let mut open = OPEN.lock().ok()?;
        let count = open.entry(token.to_owned()).or_insert(0);
        if *count >= MAX_PER_SESSION {
            return None;
        }
        *count += 1;
        Some(Slot(token.to_owned()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = OPEN.lock() {
            if let Some(count) = open.get_mut(&self.0) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.0);
                }
            }
        }
    }
}

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
    let Some(slot) = Slot::take(&session.token) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, "15")],
            "Too many live views are open for this sign-in; close a tab or two.",
        )
            .into_response();
    };
    let feed = Feed {
        _slot: slot,
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
    _slot: Slot,
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
