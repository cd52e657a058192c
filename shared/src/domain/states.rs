//! The states of the outbox's messages and of payouts, and how every state enum is stored: as the
//! text of [`as_str`](PayoutState::as_str), read back through `parse`, so a value the code does not
//! know fails the read loudly instead of turning into a default.

use serde::{Deserialize, Serialize};

/// Declares a state enum with its stored text and label.
macro_rules! state_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|s| s.as_str() == raw)
            }

            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }
        }
    };
}

state_enum!(
    /// A queued Klaviyo event.
    EventState {
        Queued => "queued", "Queued";
        Retrying => "retrying", "Retrying";
        /// Klaviyo accepted it (202).
        Sent => "sent", "Sent";
        Failed => "failed", "Failed";
    }
);

state_enum!(
    /// A queued delivery to a merchant's webhook endpoint.
    DeliveryState {
        Queued => "queued", "Queued";
        Retrying => "retrying", "Retrying";
        /// The endpoint answered 2xx.
        Delivered => "delivered", "Delivered";
        Failed => "failed", "Failed";
    }
);

state_enum!(
    /// An uploaded Rewardful import: checked and ready, imported, or turned down by the merchant.
    ImportState {
        Ready => "ready", "Ready";
        Imported => "imported", "Imported";
        Rejected => "rejected", "Rejected";
    }
);

state_enum!(
    /// What changed in Klaviyo after Rekomi made an affiliate's membership true, as the reconcile
    /// job (or a later sync) read it. Klaviyo is the source of truth for consent: Rekomi never
    /// undoes any of these on its own.
    Drift {
        /// The person unsubscribed (consent UNSUBSCRIBED).
        Unsubscribed => "unsubscribed", "Unsubscribed in Klaviyo";
        /// Email marketing is blocked (a suppression such as a hard bounce or spam complaint).
        Suppressed => "suppressed", "Suppressed in Klaviyo";
        /// Still subscribed, but taken out of the list in Klaviyo.
        Removed => "removed", "Removed from the list in Klaviyo";
        /// The profile no longer exists in Klaviyo.
        Deleted => "deleted", "Deleted in Klaviyo";
    }
);

impl Drift {
    /// What it means for the merchant, and what Rekomi does about it.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Unsubscribed => {
                "They unsubscribed in Klaviyo. Rekomi never subscribes them again; only they can, with fresh consent."
            }
            Self::Suppressed => {
                "Klaviyo blocks email marketing to this address (a bounce, a spam complaint or a suppression). Rekomi \
                 leaves it that way."
            }
            Self::Removed => {
                "Still subscribed, but removed from the list in Klaviyo. Rekomi won't add them back on its own; \
                 \"Re-sync\" does, if that removal was a mistake."
            }
            Self::Deleted => {
                "The profile was deleted in Klaviyo (perhaps a data-privacy request there). Rekomi never creates it \
                 again, nor sends events that would; if the person subscribes again through your own forms, the \
                 next check sees them back."
            }
        }
    }
}

/// A payout run, and each payout in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayoutState {
    Open,
    Paid,
    Cancelled,
}

impl PayoutState {
    pub const ALL: [Self; 3] = [Self::Open, Self::Paid, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Paid => "Paid",
            Self::Cancelled => "Cancelled",
        }
    }
}

/// Stores a state enum as its text on both engines; reading an unknown text is an error.
#[cfg(feature = "ssr")]
macro_rules! stored_as_text {
    ($ty:ty, $what:literal) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.as_str().to_owned(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                <$ty>::parse(raw).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), raw).into())
            }
        }
    };
}

#[cfg(feature = "ssr")]
mod stored {
    use super::super::commission::CommissionState;
    use super::super::{AffiliateState, SyncState};
    use super::{DeliveryState, Drift, EventState, ImportState, PayoutState};
    stored_as_text!(AffiliateState, "affiliate state");
    stored_as_text!(SyncState, "sync state");
    stored_as_text!(CommissionState, "commission state");
    stored_as_text!(PayoutState, "payout state");
    stored_as_text!(EventState, "event state");
    stored_as_text!(DeliveryState, "delivery state");
    stored_as_text!(ImportState, "import state");
    stored_as_text!(Drift, "Klaviyo drift");
}
