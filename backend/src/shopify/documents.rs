//! Every GraphQL document Rekomi sends to Shopify, in one table. `fakes` checks each against
//! Shopify's schema file (fields, arguments, input types) in a test, and the fake Shopify refuses
//! anything else, so a document that Shopify would refuse can't ship.

/// A named GraphQL document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Document {
    pub name: &'static str,
    pub text: &'static str,
}

/// The shop's name, currency and plan, and the scopes the app's token holds.
pub const SHOP_INFO: Document = Document {
    name: "ShopInfo",
    text: "query ShopInfo {
  shop { id name myshopifyDomain currencyCode plan { publicDisplayName partnerDevelopment shopifyPlus } }
  currentAppInstallation { id accessScopes { handle } }
}",
};

/// The shop's webhook subscriptions made through the API (not those in an app's TOML).
pub const WEBHOOK_LIST: Document = Document {
    name: "WebhookList",
    text: "query WebhookList($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic uri format createdAt }
    pageInfo { hasNextPage endCursor }
  }
}",
};

pub const WEBHOOK_CREATE: Document = Document {
    name: "WebhookCreate",
    text: "mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { uri: $uri, format: JSON }) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}",
};

pub const WEBHOOK_DELETE: Document = Document {
    name: "WebhookDelete",
    text: "mutation WebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}",
};

/// All of them, for the schema test.
pub const ALL: [Document; 4] = [SHOP_INFO, WEBHOOK_LIST, WEBHOOK_CREATE, WEBHOOK_DELETE];
