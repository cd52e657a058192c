//! Klaviyo words the merchant sees: a private key (checked before any call), the scopes as Klaviyo's
//! key screen names them, and a list's opt-in process.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Klaviyo private API key. It never leaves the server after it is pasted: no `Serialize`, and
/// `Debug` shows only the hint.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Paste your Klaviyo private API key.")]
    Empty,
    #[error(
        "That looks like your public API key (site ID). Rekomi needs a private key: in Klaviyo open Settings → \
         API keys → Create Private API Key; it starts with pk_."
    )]
    PublicKey,
    #[error("A Klaviyo private API key starts with pk_. Copy it again from Settings → API keys in Klaviyo.")]
    NoPrefix,
    #[error("This key is cut short or has extra characters; copy it again from Settings → API keys in Klaviyo.")]
    Malformed,
}

impl PrivateKey {
    /// Accepts `pk_` followed by letters and digits, after trimming what copy-paste adds.
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        let key = raw.trim().trim_matches(|c| c == '"' || c == '\'');
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key.len() == 6 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(KeyError::PublicKey);
        }
        let Some(rest) = key.strip_prefix("pk_") else { return Err(KeyError::NoPrefix) };
        let well_formed =
            (20..=120).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(KeyError::Malformed);
        }
        Ok(Self(key.to_owned()))
    }

    /// The secret itself, for the `Authorization` header and for sealing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the merchant may see again: `pk_…` and the last four characters.
    pub fn hint(&self) -> String {
        let tail: String = self.0.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("pk_…{tail}")
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.hint())
    }
}

/// A permission as Klaviyo's API-key screen offers it. "Full" means read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyScope {
    AccountsRead,
    ListsFull,
    ProfilesFull,
    SubscriptionsFull,
    EventsFull,
}

impl KeyScope {
    /// What Rekomi asks for, in the order Klaviyo's key screen lists them.
    pub const REQUIRED: [KeyScope; 5] = [
        KeyScope::AccountsRead,
        KeyScope::ListsFull,
        KeyScope::ProfilesFull,
        KeyScope::SubscriptionsFull,
        KeyScope::EventsFull,
    ];

    pub fn label(self) -> &'static str {
        match self {
            KeyScope::AccountsRead => "Accounts Read",
            KeyScope::ListsFull => "Lists Full",
            KeyScope::ProfilesFull => "Profiles Full",
            KeyScope::SubscriptionsFull => "Subscriptions Full",
            KeyScope::EventsFull => "Events Full",
        }
    }

    /// What Rekomi needs the permission for, in the merchant's terms.
    pub fn purpose(self) -> &'static str {
        match self {
            KeyScope::AccountsRead => "to confirm which Klaviyo account the key belongs to",
            KeyScope::ListsFull => "to show your lists and add approved affiliates to one",
            KeyScope::ProfilesFull => "to create or update each affiliate's profile (email, name)",
            KeyScope::SubscriptionsFull => "to record each affiliate's email marketing consent",
            KeyScope::EventsFull => "to send invites and program events that trigger your Klaviyo flows",
        }
    }
}

/// Joins scope labels the way a sentence does: "A", "A and B", "A, B and C".
pub fn scope_list(scopes: &[KeyScope]) -> String {
    let labels: Vec<&str> = scopes.iter().map(|s| s.label()).collect();
    match labels.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The message for a key that lacks scopes, naming each one as Klaviyo's key screen does.
pub fn missing_scopes_message(scopes: &[KeyScope]) -> String {
    let noun = if scopes.len() == 1 { "permission" } else { "permissions" };
    format!(
        "This key is missing the {} {noun}. In Klaviyo, open Settings → API keys, edit the key (or create a new \
         one) with Accounts Read, Lists Full, Profiles Full, Subscriptions Full and Events Full, then paste it here.",
        scope_list(scopes)
    )
}

/// How far a scope has been proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScopeState {
    /// A live call that needs it succeeded.
    Verified,
    /// A live call that needs it was refused.
    Missing,
    /// The read half is verified; the write half can only be proven by a write, which the first
    /// sync makes.
    ReadVerifiedWritePending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeCheck {
    pub scope: KeyScope,
    pub state: ScopeState,
}

/// A list's opt-in process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptIn {
    Single,
    Double,
}

impl OptIn {
    pub fn from_klaviyo(raw: &str) -> Option<Self> {
        match raw {
            "single_opt_in" => Some(OptIn::Single),
            "double_opt_in" => Some(OptIn::Double),
            _ => None,
        }
    }

    pub fn as_klaviyo(self) -> &'static str {
        match self {
            OptIn::Single => "single_opt_in",
            OptIn::Double => "double_opt_in",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OptIn::Single => "Single opt-in",
            OptIn::Double => "Double opt-in",
        }
    }
}

/// Shown wherever a double opt-in list is chosen or picked.
pub const DOUBLE_OPT_IN_WARNING: &str = "This list uses double opt-in: Klaviyo emails each affiliate a confirmation \
     link, and they appear in the list only after they click it. Until then Rekomi shows them as \"Awaiting \
     confirmation\". Pick a single opt-in list if affiliates should land in it straight away.";

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "pk_0123456789abcdef0123456789abcdef01";

    #[test]
    fn accepts_a_private_key_and_trims_paste_noise() {
        let key = PrivateKey::parse(&format!("  \"{GOOD}\"\n")).expect("valid");
        assert_eq!(key.expose(), GOOD);
        assert_eq!(key.hint(), "pk_…ef01");
        assert_eq!(format!("{key:?}"), "PrivateKey(pk_…ef01)");
    }

    #[test]
    fn names_what_is_wrong_with_a_key() {
        assert_eq!(PrivateKey::parse("   "), Err(KeyError::Empty));
        assert_eq!(PrivateKey::parse("AbC123"), Err(KeyError::PublicKey));
        assert_eq!(PrivateKey::parse("sk_0123456789abcdef0123456789"), Err(KeyError::NoPrefix));
        assert_eq!(PrivateKey::parse("pk_short"), Err(KeyError::Malformed));
        assert_eq!(PrivateKey::parse("pk_0123456789abcdef01234 56789"), Err(KeyError::Malformed));
    }

    #[test]
    fn lists_scopes_as_a_sentence() {
        assert_eq!(scope_list(&[KeyScope::SubscriptionsFull]), "Subscriptions Full");
        assert_eq!(
            scope_list(&[KeyScope::ListsFull, KeyScope::SubscriptionsFull]),
            "Lists Full and Subscriptions Full"
        );
        assert_eq!(
            missing_scopes_message(&[KeyScope::SubscriptionsFull]),
            "This key is missing the Subscriptions Full permission. In Klaviyo, open Settings → API keys, edit the \
             key (or create a new one) with Accounts Read, Lists Full, Profiles Full, Subscriptions Full and Events \
             Full, then paste it here."
        );
    }
}
