//! Row ids that don't mix: a `CampaignId` is not an `AffiliateId`.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type))]
        #[cfg_attr(feature = "ssr", sqlx(transparent))]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A shop: the tenant every other row belongs to.
    MerchantId
);
id_type!(
    /// A person who signs in for a merchant.
    UserId
);
id_type!(
    /// One affiliate program of a merchant.
    CampaignId
);
id_type!(
    /// A person in a merchant's affiliate program, from application on.
    AffiliateId
);
id_type!(
    /// A personal invitation to join a campaign.
    InviteId
);
id_type!(
    /// An uploaded Rewardful file, from check to import.
    ImportId
);
id_type!(
    /// A payout run: the payouts of one period, exported and marked paid together.
    PayoutRunId
);
id_type!(
    /// A merchant's endpoint that receives webhook deliveries.
    WebhookEndpointId
);
