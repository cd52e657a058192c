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

/// A campaign's discount, made with its first code; more codes are added in bulk.
pub const DISCOUNT_CREATE: Document = Document {
    name: "DiscountCreate",
    text: "mutation DiscountCreate($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode {
      id
      codeDiscount { ... on DiscountCodeBasic { status codes(first: 1) { nodes { id code } } } }
    }
    userErrors { field message code }
  }
}",
};

/// New terms for a campaign's discount (its codes stay).
pub const DISCOUNT_UPDATE: Document = Document {
    name: "DiscountUpdate",
    text: "mutation DiscountUpdate($id: ID!, $input: DiscountCodeBasicInput!) {
  discountCodeBasicUpdate(id: $id, basicCodeDiscount: $input) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { status } } }
    userErrors { field message code }
  }
}",
};

/// Switches a campaign's discount off (the merchant turned the campaign's codes off).
pub const DISCOUNT_DEACTIVATE: Document = Document {
    name: "DiscountDeactivate",
    text: "mutation DiscountDeactivate($id: ID!) {
  discountCodeDeactivate(id: $id) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { status } } }
    userErrors { field message code }
  }
}",
};

pub const DISCOUNT_ACTIVATE: Document = Document {
    name: "DiscountActivate",
    text: "mutation DiscountActivate($id: ID!) {
  discountCodeActivate(id: $id) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { status } } }
    userErrors { field message code }
  }
}",
};

/// Affiliates' codes added to a campaign's discount, up to 250 at a time (Shopify's limit).
pub const CODES_ADD: Document = Document {
    name: "CodesAdd",
    text: "mutation CodesAdd($discountId: ID!, $codes: [DiscountRedeemCodeInput!]!) {
  discountRedeemCodeBulkAdd(discountId: $discountId, codes: $codes) {
    bulkCreation { id done }
    userErrors { field message code }
  }
}",
};

/// Whether a bulk add is done and how many codes Shopify refused (cheap: read first, so the code
/// by code report is read only when something was refused).
pub const CODES_STATUS: Document = Document {
    name: "CodesStatus",
    text: "query CodesStatus($id: ID!) {
  discountRedeemCodeBulkCreation(id: $id) { done codesCount importedCount failedCount }
}",
};

/// What a bulk add came to, code by code: the code Shopify made, or why it refused it.
pub const CODES_ADDED: Document = Document {
    name: "CodesAdded",
    text: "query CodesAdded($id: ID!, $first: Int!, $after: String) {
  discountRedeemCodeBulkCreation(id: $id) {
    done codesCount importedCount failedCount
    codes(first: $first, after: $after) {
      nodes { code errors { field message code } discountRedeemCode { id code } }
      pageInfo { hasNextPage endCursor }
    }
  }
}",
};

/// Codes taken out of a campaign's discount (affiliates disabled, banned or erased).
pub const CODES_REMOVE: Document = Document {
    name: "CodesRemove",
    text: "mutation CodesRemove($discountId: ID!, $ids: [ID!]) {
  discountCodeRedeemCodeBulkDelete(discountId: $discountId, ids: $ids) {
    job { id done }
    userErrors { field message code }
  }
}",
};

/// Whether an asynchronous job (a bulk delete) has finished.
pub const JOB: Document = Document { name: "JobDone", text: "query JobDone($id: ID!) { job(id: $id) { id done } }" };

/// Reads one code back: the discount that holds it and whether it is active.
pub const CODE_LOOKUP: Document = Document {
    name: "CodeLookup",
    text: "query CodeLookup($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount { ... on DiscountCodeBasic { status codes(first: 1, query: $code) { nodes { id code } } } }
  }
}",
};

/// An affiliate's customer account in the shop, by email.
pub const CUSTOMER_FIND: Document = Document {
    name: "CustomerFind",
    text: "query CustomerFind($email: String!) {
  customerByIdentifier(identifier: { emailAddress: $email }) { id }
}",
};

/// A customer account for an affiliate who has none (store credit needs one).
pub const CUSTOMER_CREATE: Document = Document {
    name: "CustomerCreate",
    text: "mutation CustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) {
    customer { id }
    userErrors { field message }
  }
}",
};

/// A payout as store credit on the customer's account in the shop's currency (made if needed).
pub const STORE_CREDIT: Document = Document {
    name: "StoreCredit",
    text: "mutation StoreCredit($id: ID!, $amount: MoneyInput!) {
  storeCreditAccountCredit(id: $id, creditInput: { creditAmount: $amount, notify: false }) {
    storeCreditAccountTransaction { id amount { amount currencyCode } }
    userErrors { field message code }
  }
}",
};

/// The customer's recent store credits: read before a credit is sent again after a lost answer.
pub const STORE_CREDIT_RECENT: Document = Document {
    name: "StoreCreditRecent",
    text: "query StoreCreditRecent($id: ID!) {
  customer(id: $id) {
    id
    storeCreditAccounts(first: 5) {
      nodes {
        id
        transactions(first: 25, reverse: true) {
          nodes { __typename amount { amount currencyCode } createdAt ... on StoreCreditAccountCreditTransaction { id } }
        }
      }
    }
  }
}",
};

/// Orders updated since a time, oldest first: what a webhook should have brought (reconcile and
/// backfill). Shaped after the `orders/paid` and `refunds/create` payloads Rekomi reads. Nested
/// lists are kept short so a page of 10 stays under Shopify's 1,000-point query cost.
pub const ORDERS_SINCE: Document = Document {
    name: "OrdersSince",
    text: "query OrdersSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id legacyResourceId name email processedAt updatedAt cancelledAt displayFinancialStatus
      currencyCode checkoutToken landingPageUrl discountCodes
      subtotalPriceSet { shopMoney { amount currencyCode } }
      customAttributes { key value }
      customer { defaultEmailAddress { emailAddress } }
      refunds(first: 3) {
        legacyResourceId
        refundLineItems(first: 5) { nodes { subtotalSet { shopMoney { amount currencyCode } } } }
        transactions(first: 3) { nodes { kind status amountSet { shopMoney { amount currencyCode } } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}",
};

/// All of them, for the schema test.
pub const ALL: [Document; 19] = [
    SHOP_INFO,
    WEBHOOK_LIST,
    WEBHOOK_CREATE,
    WEBHOOK_DELETE,
    DISCOUNT_CREATE,
    DISCOUNT_UPDATE,
    DISCOUNT_DEACTIVATE,
    DISCOUNT_ACTIVATE,
    CODES_ADD,
    CODES_ADDED,
    CODES_REMOVE,
    JOB,
    CODE_LOOKUP,
    CUSTOMER_FIND,
    CUSTOMER_CREATE,
    STORE_CREDIT,
    STORE_CREDIT_RECENT,
    ORDERS_SINCE,
    CODES_STATUS,
];
