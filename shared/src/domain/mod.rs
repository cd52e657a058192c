//! Types that parse at the boundary. Holding one means it was checked; nothing here does I/O, so the
//! same rules run in the browser (instant feedback) and on the server (the verdict).

pub mod affiliate;
pub mod branding;
pub mod campaign;
pub mod clock;
pub mod commission;
pub mod discount;
pub mod email;
pub mod fields;
pub mod ids;
pub mod klaviyo;
pub mod lifecycle;
pub mod money;
pub mod password;
pub mod person_name;
pub mod questions;
pub mod rewardful;
pub mod slug;
pub mod states;
pub mod sync;
pub mod text;
pub mod tracking;

pub use affiliate::{AffiliateState, ApplicationForm, ReferralCode};
pub use campaign::{CampaignForm, CommissionRule};
pub use email::Email;
pub use fields::FieldErrors;
pub use ids::{AffiliateId, CampaignId, ImportId, InviteId, MerchantId, PayoutRunId, UserId, WebhookEndpointId};
pub use money::{Currency, Money, Rate};
pub use person_name::PersonName;
pub use slug::Slug;
pub use states::{DeliveryState, Drift, EventState, ImportState, PayoutState};
pub use sync::SyncState;
