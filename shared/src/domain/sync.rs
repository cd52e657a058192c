//! A Klaviyo sync's life cycle, per (affiliate, list): Queued → Sending → Verifying → Succeeded |
//! Awaiting confirmation | Retrying | Failed, or Blocked when Rekomi must not subscribe the person.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Queued,
    Sending,
    Verifying,
    Succeeded,
    /// Subscribed to a double opt-in list; Klaviyo waits for the affiliate to click its mail.
    AwaitingConfirmation,
    /// A retryable failure; the next attempt is scheduled.
    Retrying,
    /// Stopped: a permanent refusal, or retries used up. "Retry now" starts over.
    Failed,
    /// Deliberately not subscribed: no consent recorded, or the person opted out in Klaviyo.
    Blocked,
}

impl SyncState {
    pub const ALL: [Self; 8] = [
        Self::Queued,
        Self::Sending,
        Self::Verifying,
        Self::Succeeded,
        Self::AwaitingConfirmation,
        Self::Retrying,
        Self::Failed,
        Self::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Verifying => "verifying",
            Self::Succeeded => "succeeded",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::Sending => "Sending",
            Self::Verifying => "Verifying",
            Self::Succeeded => "In Klaviyo",
            Self::AwaitingConfirmation => "Awaiting confirmation",
            Self::Retrying => "Retrying",
            Self::Failed => "Failed",
            Self::Blocked => "Not subscribed",
        }
    }

    /// Still moving without anyone's help.
    pub fn in_progress(self) -> bool {
        matches!(self, Self::Queued | Self::Sending | Self::Verifying | Self::Retrying)
    }

    /// "Retry now" makes sense: the sync stopped, or waits for its next attempt.
    pub fn retryable(self) -> bool {
        matches!(self, Self::Failed | Self::Retrying | Self::AwaitingConfirmation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_stored_names() {
        for state in SyncState::ALL {
            assert_eq!(SyncState::parse(state.as_str()), Some(state));
        }
        assert_eq!(SyncState::parse("done"), None);
    }
}
