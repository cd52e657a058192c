//! Every Klaviyo call Rekomi makes: its method and path, the scopes the spec's `x-klaviyo-scopes`
//! requires, and the spec's `x-klaviyo-ratelimit`. A test checks this table against the spec.

use reqwest::Method;
use shared::domain::klaviyo::KeyScope;

/// A scope as the API names it (`lists:write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiScope {
    AccountsRead,
    ListsRead,
    ListsWrite,
    ProfilesRead,
    ProfilesWrite,
    SubscriptionsRead,
    SubscriptionsWrite,
    EventsRead,
    EventsWrite,
}

impl ApiScope {
    pub const ALL: [ApiScope; 9] = [
        ApiScope::AccountsRead,
        ApiScope::ListsRead,
        ApiScope::ListsWrite,
        ApiScope::ProfilesRead,
        ApiScope::ProfilesWrite,
        ApiScope::SubscriptionsRead,
        ApiScope::SubscriptionsWrite,
        ApiScope::EventsRead,
        ApiScope::EventsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::AccountsRead => "accounts:read",
            ApiScope::ListsRead => "lists:read",
            ApiScope::ListsWrite => "lists:write",
            ApiScope::ProfilesRead => "profiles:read",
            ApiScope::ProfilesWrite => "profiles:write",
            ApiScope::SubscriptionsRead => "subscriptions:read",
            ApiScope::SubscriptionsWrite => "subscriptions:write",
            ApiScope::EventsRead => "events:read",
            ApiScope::EventsWrite => "events:write",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The permission on Klaviyo's key screen that grants this scope ("Full" grants read and write).
    pub fn key_scope(self) -> Option<KeyScope> {
        match self {
            ApiScope::AccountsRead => Some(KeyScope::AccountsRead),
            ApiScope::ListsRead | ApiScope::ListsWrite => Some(KeyScope::ListsFull),
            ApiScope::ProfilesRead | ApiScope::ProfilesWrite => Some(KeyScope::ProfilesFull),
            ApiScope::SubscriptionsRead | ApiScope::SubscriptionsWrite => Some(KeyScope::SubscriptionsFull),
            ApiScope::EventsRead | ApiScope::EventsWrite => Some(KeyScope::EventsFull),
        }
    }
}

/// Requests per second (burst) and per minute (steady), per Klaviyo account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst_per_second: u32,
    pub steady_per_minute: u32,
}

const XS: RateLimit = RateLimit { burst_per_second: 1, steady_per_minute: 15 };
const M: RateLimit = RateLimit { burst_per_second: 10, steady_per_minute: 150 };
const L: RateLimit = RateLimit { burst_per_second: 75, steady_per_minute: 750 };
const XL: RateLimit = RateLimit { burst_per_second: 350, steady_per_minute: 3500 };

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    GetAccounts,
    GetLists,
    GetList,
    GetListProfiles,
    GetProfiles,
    GetSuppressionJobs,
    ProfileImport,
    /// Create-only; Rekomi uses profile-import, but the fake answers it (409 on a duplicate) as
    /// Klaviyo does, for tests of that path.
    CreateProfile,
    CreateBulkImportJob,
    GetBulkImportJob,
    GetBulkImportErrors,
    Subscribe,
    Unsubscribe,
    AddToList,
    RemoveFromList,
    GetEvents,
    CreateEvent,
    /// Up to 1,000 events in one call (`POST /api/event-bulk-create-jobs`).
    CreateEventBulk,
}

impl Operation {
    pub const ALL: [Operation; 18] = [
        Operation::GetAccounts,
        Operation::GetLists,
        Operation::GetList,
        Operation::GetListProfiles,
        Operation::GetProfiles,
        Operation::GetSuppressionJobs,
        Operation::ProfileImport,
        Operation::CreateProfile,
        Operation::CreateBulkImportJob,
        Operation::GetBulkImportJob,
        Operation::GetBulkImportErrors,
        Operation::Subscribe,
        Operation::Unsubscribe,
        Operation::AddToList,
        Operation::RemoveFromList,
        Operation::GetEvents,
        Operation::CreateEvent,
        Operation::CreateEventBulk,
    ];

    pub fn method(self) -> Method {
        use Operation::*;
        match self {
            GetAccounts | GetLists | GetList | GetListProfiles | GetProfiles | GetSuppressionJobs
            | GetBulkImportJob | GetBulkImportErrors | GetEvents => Method::GET,
            ProfileImport | CreateProfile | CreateBulkImportJob | Subscribe | Unsubscribe | AddToList | CreateEvent
            | CreateEventBulk => Method::POST,
            RemoveFromList => Method::DELETE,
        }
    }

    /// The path as the spec writes it, `{id}` and all.
    pub fn template(self) -> &'static str {
        use Operation::*;
        match self {
            GetAccounts => "/api/accounts",
            GetLists => "/api/lists",
            GetList => "/api/lists/{id}",
            GetListProfiles => "/api/lists/{id}/profiles",
            GetProfiles => "/api/profiles",
            GetSuppressionJobs => "/api/profile-suppression-bulk-create-jobs",
            ProfileImport => "/api/profile-import",
            CreateProfile => "/api/profiles",
            CreateBulkImportJob => "/api/profile-bulk-import-jobs",
            GetBulkImportJob => "/api/profile-bulk-import-jobs/{job_id}",
            GetBulkImportErrors => "/api/profile-bulk-import-jobs/{id}/import-errors",
            Subscribe => "/api/profile-subscription-bulk-create-jobs",
            Unsubscribe => "/api/profile-subscription-bulk-delete-jobs",
            AddToList | RemoveFromList => "/api/lists/{id}/relationships/profiles",
            GetEvents | CreateEvent => "/api/events",
            CreateEventBulk => "/api/event-bulk-create-jobs",
        }
    }

    /// The path with its one parameter (if any) filled in; ids are percent-encoded.
    pub fn path(self, id: Option<&str>) -> String {
        let template = self.template();
        match (template.find('{'), id) {
            (Some(start), Some(id)) => {
                let end = template[start..].find('}').map_or(template.len(), |e| start + e + 1);
                let encoded = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
                format!("{}{encoded}{}", &template[..start], &template[end..])
            }
            _ => template.to_owned(),
        }
    }

    pub fn scopes(self) -> &'static [ApiScope] {
        use ApiScope::*;
        use Operation::*;
        match self {
            GetAccounts => &[AccountsRead],
            GetLists | GetList => &[ListsRead],
            GetListProfiles | GetBulkImportJob => &[ListsRead, ProfilesRead],
            GetProfiles | GetBulkImportErrors => &[ProfilesRead],
            GetSuppressionJobs => &[SubscriptionsRead],
            ProfileImport | CreateProfile => &[ProfilesWrite],
            CreateBulkImportJob | AddToList | RemoveFromList => &[ListsWrite, ProfilesWrite],
            Subscribe | Unsubscribe => &[ListsWrite, ProfilesWrite, SubscriptionsWrite],
            GetEvents => &[EventsRead],
            CreateEvent | CreateEventBulk => &[EventsWrite],
        }
    }

    pub fn rate_limit(self) -> RateLimit {
        use Operation::*;
        match self {
            GetAccounts => XS,
            CreateBulkImportJob | GetBulkImportJob | GetBulkImportErrors | AddToList | RemoveFromList
            | CreateEventBulk => M,
            CreateEvent | GetEvents => XL,
            GetLists | GetList | GetListProfiles | GetProfiles | GetSuppressionJobs | ProfileImport | CreateProfile
            | Subscribe | Unsubscribe => L,
        }
    }

    /// The key-screen permissions a 403 on this call points at: every permission that grants one of
    /// its scopes, since Klaviyo's answer does not say which one was missing.
    pub fn suspect_key_scopes(self) -> Vec<KeyScope> {
        let mut scopes: Vec<KeyScope> = self.scopes().iter().filter_map(|s| s.key_scope()).collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// A short name for logs and messages.
    pub fn describe(self) -> &'static str {
        use Operation::*;
        match self {
            GetAccounts => "read the account",
            GetLists => "read lists",
            GetList => "read a list",
            GetListProfiles => "read list members",
            GetProfiles => "read profiles",
            GetSuppressionJobs => "read suppression jobs",
            ProfileImport => "create or update a profile",
            CreateProfile => "create a profile",
            CreateBulkImportJob => "import profiles",
            GetBulkImportJob => "read an import job",
            GetBulkImportErrors => "read import errors",
            Subscribe => "subscribe profiles",
            Unsubscribe => "unsubscribe profiles",
            AddToList => "add profiles to a list",
            RemoveFromList => "remove profiles from a list",
            GetEvents => "read events",
            CreateEvent => "record an event",
            CreateEventBulk => "record events in bulk",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_encodes_the_path_parameter() {
        assert_eq!(Operation::GetList.path(Some("Y6nRLr")), "/api/lists/Y6nRLr");
        assert_eq!(Operation::AddToList.path(Some("a/b")), "/api/lists/a%2Fb/relationships/profiles");
        assert_eq!(Operation::GetLists.path(None), "/api/lists");
    }

    #[test]
    fn a_subscribe_refusal_suspects_three_permissions() {
        assert_eq!(
            Operation::Subscribe.suspect_key_scopes(),
            vec![KeyScope::ListsFull, KeyScope::ProfilesFull, KeyScope::SubscriptionsFull]
        );
    }
}
