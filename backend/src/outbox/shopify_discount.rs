//! Job kind: affiliates' discount codes in the merchant's Shopify store.
//!
//! Each campaign with a discount is one basic code discount in Shopify that holds every affiliate's
//! code, so codes go 250 to a call (`discountRedeemCodeBulkAdd`) and new terms are one update. A
//! row says "look at this affiliate's code": what should be (an approved affiliate has a code in
//! the campaign's discount, anyone else has none) is compared with what Shopify holds, the
//! difference is sent, and the result is read back from Shopify before the row is done:
//!
//! - a code Shopify refuses (taken by another discount, invalid) is followed by the pattern's next
//!   candidate, and the row's note tells the merchant; after [`MAX_CANDIDATES`] it stops;
//! - a code typed in by the merchant (today's behaviour) is left to them;
//! - throttling waits as Shopify's cost bucket says, within the claim's lease.

use super::runner::{Job, RunnerSettings};
use crate::services::discounts::{discount_input, terms_of, title};
use crate::services::shop::{ShopConnections, ShopError};
use crate::shopify::documents::{
    Document, CODES_ADD, CODES_ADDED, CODES_REMOVE, CODES_STATUS, CODE_LOOKUP, DISCOUNT_ACTIVATE, DISCOUNT_CREATE,
    DISCOUNT_DEACTIVATE, DISCOUNT_UPDATE, JOB,
};
use crate::shopify::{ShopDomain, ShopifyError};
use crate::store::discounts::{self as store, ClaimedCode, Outcome, TermsRow};
use crate::store::{now_ms, Claim, Db, DbResult};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::domain::discount::{DiscountTerms, MAX_CANDIDATES};
use shared::domain::{AffiliateState, CampaignId, MerchantId};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Shopify's limit of codes per bulk call.
const BULK: usize = 250;
/// Codes per page of a bulk creation's report: 100 cost about 400 points (250 would pass the
/// 1,000-point limit of a single query).
const REPORT_PAGE: i64 = 100;
/// Tries before a row stops for the merchant.
const MAX_ATTEMPTS: i64 = 10;
/// While Shopify isn't connected (or the app is uninstalled), rows are looked at hourly; a
/// reconnect makes them due at once.
const WAIT_MS: i64 = 3_600_000;

pub struct DiscountJob {
    pub db: Db,
    pub shop: ShopConnections,
    pub lease: Duration,
}

impl DiscountJob {
    pub fn runner(lease: Duration) -> RunnerSettings {
        RunnerSettings {
            claim_limit: 1_000,
            per_merchant: BULK as i64,
            slots: 2,
            per_merchant_slots: 1,
            lease,
            idle_poll: Duration::from_secs(2),
        }
    }
}

impl Job for DiscountJob {
    type Item = ClaimedCode;
    type Group = CampaignId;
    const NAME: &'static str = "discount";
    const TABLE: &'static str = "affiliate_discounts";

    fn wake(&self) -> &'static Notify {
        &super::DISCOUNTS
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedCode>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedCode) -> i64 {
        item.id
    }

    fn group(item: &ClaimedCode) -> (MerchantId, CampaignId) {
        (item.merchant_id, item.campaign_id)
    }

    async fn work(&self, token: &str, merchant: MerchantId, campaign: CampaignId, rows: Vec<ClaimedCode>) {
        // Work stops a third of the lease before it ends; what is left is due again at once.
        let deadline = Instant::now() + self.lease - self.lease / 3;
        let mut pass = Pass { job: self, token, merchant, campaign, deadline, shop: None };
        if let Err(error) = pass.run(rows).await {
            tracing::warn!(%error, merchant.id = %merchant, "could not save discount code outcomes; rows return after the lease");
        }
        super::changed(merchant);
    }
}

/// What a Shopify call came to inside a pass.
enum Failed {
    /// Not connected, uninstalled, or a refusal no retry fixes soon: rows wait with this message.
    Wait(String),
    /// Worth trying again with backoff.
    Retry(String),
    /// Out of time in this claim.
    Late,
}

impl From<ShopifyError> for Failed {
    fn from(e: ShopifyError) -> Self {
        match e {
            ShopifyError::MissingScopes(scopes) => Failed::Wait(format!(
                "The Shopify app lacks {}: add it in the Dev Dashboard, release, reinstall, then reconnect.",
                scopes.join(", ")
            )),
            ShopifyError::Unauthorized | ShopifyError::NotInstalled | ShopifyError::BadCredentials => {
                Failed::Wait("Shopify no longer accepts Rekomi's app: reconnect the store (Settings → Shopify).".into())
            }
            ShopifyError::Unavailable(_) => Failed::Wait("The store is paused, frozen or closed.".into()),
            e if e.is_transient() => Failed::Retry(format!("Shopify didn't answer properly ({e}); trying again.")),
            e => Failed::Wait(format!("Shopify refused the request: {e}.")),
        }
    }
}

struct Pass<'a> {
    job: &'a DiscountJob,
    token: &'a str,
    merchant: MerchantId,
    campaign: CampaignId,
    deadline: Instant,
    shop: Option<(ShopDomain, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserError {
    message: String,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    discount_code_basic_create: NodePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodePayload {
    code_discount_node: Option<Node>,
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: String,
    code_discount: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Added {
    discount_redeem_code_bulk_add: AddPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddPayload {
    bulk_creation: Option<IdDone>,
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct IdDone {
    id: String,
    done: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddedReport {
    discount_redeem_code_bulk_creation: Option<Creation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Creation {
    codes: CreationCodes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreationCodes {
    nodes: Vec<CreationCode>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreationCode {
    code: String,
    errors: Vec<UserError>,
    discount_redeem_code: Option<RedeemCode>,
}

#[derive(Deserialize)]
struct RedeemCode {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Removed {
    discount_code_redeem_code_bulk_delete: RemovePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemovePayload {
    job: Option<IdDone>,
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct JobAnswer {
    job: Option<IdDone>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lookup {
    code_discount_node_by_code: Option<Node>,
}

fn words(errors: &[UserError]) -> String {
    errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
}

/// A refusal of the code itself (another can be tried), not of the request.
fn code_refused(errors: &[UserError]) -> bool {
    errors.iter().any(|e| {
        matches!(e.code.as_deref(), Some("TAKEN" | "INVALID" | "TOO_LONG" | "TOO_SHORT" | "DUPLICATE"))
            || e.message.to_ascii_lowercase().contains("unique")
    })
}

/// What a row needs.
enum Want<'r> {
    Add(&'r ClaimedCode, String),
    Remove(&'r ClaimedCode),
}

impl Pass<'_> {
    fn db(&self) -> &Db {
        &self.job.db
    }

    /// Runs a document, waiting out throttling (as the cost bucket says) until the deadline.
    async fn call<T: DeserializeOwned>(&mut self, document: Document, variables: Value) -> Result<T, Failed> {
        let (shop, token) = match &self.shop {
            Some(found) => found.clone(),
            None => {
                let found = match self.job.shop.token(self.merchant).await {
                    Ok(found) => found,
                    Err(ShopError::NotConnected) => {
                        return Err(Failed::Wait("Connect your Shopify store (Settings → Shopify).".into()))
                    }
                    Err(ShopError::Uninstalled) => {
                        return Err(Failed::Wait(
                            "The Rekomi app was uninstalled from the store: reconnect it (Settings → Shopify).".into(),
                        ))
                    }
                    Err(ShopError::Shopify(e)) => return Err(e.into()),
                    Err(e) => return Err(Failed::Retry(e.to_string())),
                };
                self.shop = Some(found.clone());
                found
            }
        };
        loop {
            match self.job.shop.api.graphql::<T>(&shop, &token, document, variables.clone()).await {
                Err(ShopifyError::Throttled { retry_after_ms }) => {
                    let wait = Duration::from_millis(retry_after_ms.clamp(100, 20_000));
                    if Instant::now() + wait > self.deadline {
                        return Err(Failed::Late);
                    }
                    tokio::time::sleep(wait).await;
                }
                other => return other.map_err(Failed::from),
            }
        }
    }

    async fn run(&mut self, rows: Vec<ClaimedCode>) -> DbResult<()> {
        let now = now_ms();
        let terms_row = store::terms(self.db(), self.merchant, self.campaign).await?;
        let terms = terms_row.as_ref().and_then(terms_of);
        let (Some(row), Some(terms)) = (terms_row, terms) else {
            // The campaign's discount was removed: its codes stay as they are in Shopify.
            for r in &rows {
                self.save(r, &Outcome::Removed { state: "removed" }, None, None).await?;
            }
            return Ok(());
        };
        let connected = crate::store::shop::get(self.db(), self.merchant).await?;
        let shop_domain = connected.as_ref().map(|c| c.shop_domain.clone()).unwrap_or_default();
        // Bring the campaign's discount in line first: made, updated, switched off or on.
        let discount = match self.ensure_discount(&row, &terms, &shop_domain, &rows, now).await {
            Ok(d) => d,
            Err(failed) => return self.not_now(&rows, failed).await,
        };
        let Some(Discount { id: discount_id, first }) = discount else {
            // The campaign's codes are switched off: the discount is deactivated as a whole.
            for r in &rows {
                self.save(
                    r,
                    &Outcome::Removed { state: "paused" },
                    Some("Codes are switched off for this campaign."),
                    None,
                )
                .await?;
            }
            return Ok(());
        };
        let mut wants = Vec::new();
        for r in &rows {
            if let Some((made_for, code, redeem)) = &first {
                if *made_for == r.id {
                    let outcome = Outcome::Active { code, redeem_id: Some(redeem), discount_id: &discount_id };
                    self.save(r, &outcome, None, None).await?;
                    continue;
                }
            }
            let approved = r.affiliate_state == AffiliateState::Approved;
            // In a discount in Shopify (active, or kept while the campaign's codes are off).
            let in_shop = r.discount_id.is_some() && matches!(r.state.as_str(), "active" | "paused");
            let here = in_shop && r.discount_id.as_deref() == Some(discount_id.as_str());
            match (approved, here, in_shop) {
                (true, true, _) => {
                    let code = r.code.clone().unwrap_or_default();
                    let outcome =
                        Outcome::Active { code: &code, redeem_id: r.redeem_id.as_deref(), discount_id: &discount_id };
                    self.save(r, &outcome, None, None).await?;
                }
                (true, false, moved) => {
                    // A code typed in by the merchant is theirs; Rekomi doesn't make it in Shopify.
                    if r.code.is_none() && r.coupon_code.is_some() {
                        let note = "The code was typed in by you; Rekomi leaves it as it is in Shopify.";
                        self.save(r, &Outcome::Typed, Some(note), None).await?;
                        continue;
                    }
                    if moved {
                        // In an older discount (the campaign's was made again): out of there first.
                        wants.push(Want::Remove(r));
                    }
                    match self.candidate(&terms, r).await? {
                        Some(code) => wants.push(Want::Add(r, code)),
                        None => {
                            let error = format!(
                                "Shopify refused {MAX_CANDIDATES} codes from the pattern; change the pattern or type a code for this affiliate."
                            );
                            self.save(r, &Outcome::NotYet { due: None }, None, Some(&error)).await?;
                        }
                    }
                }
                (false, _, true) => wants.push(Want::Remove(r)),
                (false, _, false) => self.save(r, &Outcome::Removed { state: "removed" }, None, None).await?,
            }
        }
        let removals: Vec<&ClaimedCode> =
            wants.iter().filter_map(|w| if let Want::Remove(r) = w { Some(*r) } else { None }).collect();
        let adds: Vec<(&ClaimedCode, String)> =
            wants.iter().filter_map(|w| if let Want::Add(r, c) = w { Some((*r, c.clone())) } else { None }).collect();
        let moving: Vec<i64> = adds.iter().map(|(r, _)| r.id).collect();
        let mut adds = adds;
        if let Err(failed) = self.remove(&removals, &moving).await {
            let left: Vec<ClaimedCode> = removals.iter().map(|r| (*r).clone()).collect();
            self.not_now(&left, failed).await?;
            // A code still in its old discount gets no second one until it is out.
            adds.retain(|(r, _)| !left.iter().any(|l| l.id == r.id));
        }
        for chunk in adds.chunks(BULK) {
            if let Err(failed) = self.add(&discount_id, chunk).await {
                let left: Vec<ClaimedCode> = chunk.iter().map(|(r, _)| (*r).clone()).collect();
                self.not_now(&left, failed).await?;
            }
        }
        Ok(())
    }

    /// The code to try for a row: the pattern's `candidate`th, skipping any another affiliate of
    /// the merchant already answers to.
    async fn candidate(&self, terms: &DiscountTerms, r: &ClaimedCode) -> DbResult<Option<String>> {
        let Some(referral) = r.referral_code.as_deref() else { return Ok(None) };
        let mut n = r.candidate;
        while n < MAX_CANDIDATES {
            match terms.pattern.candidate(referral, n) {
                Some(code) if !store::code_taken(self.db(), self.merchant, r.affiliate_id, &code).await? => {
                    return Ok(Some(code))
                }
                _ => n += 1,
            }
        }
        Ok(None)
    }

    async fn save(
        &self,
        r: &ClaimedCode,
        outcome: &Outcome<'_>,
        note: Option<&str>,
        error: Option<&str>,
    ) -> DbResult<()> {
        store::save(self.db(), self.token, r, outcome, note, error, now_ms()).await
    }

    /// Rows that couldn't be done now: due again (backoff, an hour while disconnected, at once
    /// when the claim ran out of time), or stopped after too many tries.
    async fn not_now(&self, rows: &[ClaimedCode], failed: Failed) -> DbResult<()> {
        let now = now_ms();
        for r in rows {
            let (due, error) = match &failed {
                Failed::Late => (Some(now), None),
                Failed::Wait(message) => (Some(now + WAIT_MS), Some(message.as_str())),
                Failed::Retry(message) if r.attempts + 1 < MAX_ATTEMPTS => {
                    let wait = super::klaviyo_sync::plan::retry_delay(r.attempts + 1, None);
                    (Some(now + i64::try_from(wait.as_millis()).unwrap_or(300_000)), Some(message.as_str()))
                }
                Failed::Retry(message) => (None, Some(message.as_str())),
            };
            let outcome =
                if error.is_none() { Outcome::Next { candidate: r.candidate } } else { Outcome::NotYet { due } };
            self.save(r, &outcome, None, error).await?;
        }
        Ok(())
    }
}

/// The campaign's discount in Shopify; `first` is the row whose code it was made with.
struct Discount {
    id: String,
    first: Option<(i64, String, String)>,
}

impl Pass<'_> {
    /// Makes the campaign's discount when Shopify has none in this shop (with the first row that
    /// needs a code), sends new terms, and switches it off or on with the campaign's setting.
    /// `None`: the codes are switched off.
    async fn ensure_discount(
        &mut self,
        row: &TermsRow,
        terms: &DiscountTerms,
        shop: &str,
        rows: &[ClaimedCode],
        now: i64,
    ) -> Result<Option<Discount>, Failed> {
        let name = crate::store::campaigns::name_and_currency(self.db(), self.merchant, self.campaign)
            .await
            .map_err(|e| Failed::Retry(e.to_string()))?
            .map(|(name, _)| name)
            .unwrap_or_default();
        let title = title(&name);
        let current = row.shopify_id.clone().filter(|_| row.shop_domain.as_deref() == Some(shop));
        if let Some(id) = current {
            if row.synced_version != row.version {
                let input = discount_input(terms, &title, None, now);
                let updated: Value = self.call(DISCOUNT_UPDATE, json!({ "id": id, "input": input })).await?;
                let payload = &updated["discountCodeBasicUpdate"];
                if payload["codeDiscountNode"].is_null() {
                    let errors: Vec<UserError> =
                        serde_json::from_value(payload["userErrors"].clone()).unwrap_or_default();
                    if errors.iter().any(|e| e.message.to_ascii_lowercase().contains("does not exist")) {
                        // Deleted in the Shopify admin: made again below on the next pass.
                        self.forget_discount().await?;
                        return Err(Failed::Retry(
                            "The campaign's discount was deleted in Shopify; making it again.".into(),
                        ));
                    }
                    let message = format!("Shopify refused the campaign's discount: {}", words(&errors));
                    self.discount_error(&message).await?;
                    return Err(Failed::Wait(message));
                }
                self.switch(&id, row.enabled).await?;
                store::discount_synced(self.db(), self.campaign, &id, shop, row.version, now_ms())
                    .await
                    .map_err(|e| Failed::Retry(e.to_string()))?;
            }
            return Ok(row.enabled.then_some(Discount { id, first: None }));
        }
        if !row.enabled {
            return Ok(None);
        }
        // Made with the first row that needs a code; a refused code moves that row to its next.
        let Some(first) = rows
            .iter()
            .find(|r| r.affiliate_state == AffiliateState::Approved && !(r.code.is_none() && r.coupon_code.is_some()))
        else {
            return Err(Failed::Wait("No approved affiliate needs a code yet.".into()));
        };
        let mut first = first.clone();
        loop {
            let code = match self.candidate(terms, &first).await.map_err(|e| Failed::Retry(e.to_string()))? {
                Some(code) => code,
                None => {
                    let message = "Shopify refused every code tried for the campaign's first affiliate.".to_owned();
                    self.discount_error(&message).await?;
                    return Err(Failed::Wait(message));
                }
            };
            let input = discount_input(terms, &title, Some(&code), now);
            let created: Created = self.call(DISCOUNT_CREATE, json!({ "input": input })).await?;
            let payload = created.discount_code_basic_create;
            if let Some(node) = payload.code_discount_node {
                // Read back from the answer: the code Shopify holds in the new discount.
                let redeem = node
                    .code_discount
                    .as_ref()
                    .and_then(|d| d["codes"]["nodes"].as_array())
                    .and_then(|nodes| nodes.iter().find(|n| n["code"].as_str() == Some(code.as_str())))
                    .and_then(|n| n["id"].as_str())
                    .map(str::to_owned);
                let Some(redeem) = redeem else {
                    return Err(Failed::Retry("Shopify's answer didn't hold the new code.".into()));
                };
                store::discount_synced(self.db(), self.campaign, &node.id, shop, row.version, now_ms())
                    .await
                    .map_err(|e| Failed::Retry(e.to_string()))?;
                return Ok(Some(Discount { id: node.id, first: Some((first.id, code, redeem)) }));
            }
            if code_refused(&payload.user_errors) && first.candidate + 1 < MAX_CANDIDATES {
                let note = format!("Shopify refused {code} ({}); trying the next code.", words(&payload.user_errors));
                first.candidate += 1;
                store::save(
                    self.db(),
                    self.token,
                    &first,
                    &Outcome::Next { candidate: first.candidate },
                    Some(&note),
                    None,
                    now_ms(),
                )
                .await
                .map_err(|e| Failed::Retry(e.to_string()))?;
                // The row's lease was given up by the save: it is due again and done in a later pass.
                return Err(Failed::Late);
            }
            let message = format!("Shopify refused the campaign's discount: {}", words(&payload.user_errors));
            self.discount_error(&message).await?;
            return Err(Failed::Wait(message));
        }
    }

    async fn switch(&mut self, id: &str, enabled: bool) -> Result<(), Failed> {
        let document = if enabled { DISCOUNT_ACTIVATE } else { DISCOUNT_DEACTIVATE };
        let _: Value = self.call(document, json!({ "id": id })).await?;
        Ok(())
    }

    async fn discount_error(&self, message: &str) -> Result<(), Failed> {
        store::discount_error(self.db(), self.campaign, message, now_ms())
            .await
            .map_err(|e| Failed::Retry(e.to_string()))
    }

    async fn forget_discount(&self) -> Result<(), Failed> {
        store::discount_forgotten(self.db(), self.campaign).await.map_err(|e| Failed::Retry(e.to_string()))
    }

    /// Adds up to 250 codes, waits for Shopify's bulk creation, and reads what it made code by code.
    async fn add(&mut self, discount_id: &str, chunk: &[(&ClaimedCode, String)]) -> Result<(), Failed> {
        let codes: Vec<Value> = chunk.iter().map(|(_, code)| json!({ "code": code })).collect();
        let added: Added = self.call(CODES_ADD, json!({ "discountId": discount_id, "codes": codes })).await?;
        let payload = added.discount_redeem_code_bulk_add;
        let Some(creation) = payload.bulk_creation else {
            if payload.user_errors.iter().any(|e| e.message.to_ascii_lowercase().contains("does not exist")) {
                self.forget_discount().await?;
                return Err(Failed::Retry("The campaign's discount was deleted in Shopify; making it again.".into()));
            }
            return Err(Failed::Wait(format!("Shopify refused the codes: {}", words(&payload.user_errors))));
        };
        // Wait for Shopify's bulk creation, asking only whether it is done (a cheap query).
        let mut polls = 0u32;
        let status = loop {
            let status: Value = self.call(CODES_STATUS, json!({ "id": creation.id })).await?;
            let status = status["discountRedeemCodeBulkCreation"].clone();
            if status.is_null() {
                return Err(Failed::Retry("Shopify lost the bulk creation; trying again.".into()));
            }
            if creation.done || status["done"].as_bool() == Some(true) {
                break status;
            }
            polls += 1;
            if Instant::now() + Duration::from_millis(500) > self.deadline || polls > 60 {
                return Err(Failed::Late);
            }
            tokio::time::sleep(Duration::from_millis(250 * u64::from(polls.min(4)))).await;
        };
        // Shopify made every code (its own count, read back): each is in the discount.
        if status["failedCount"].as_i64() == Some(0) && status["importedCount"].as_i64() == Some(chunk.len() as i64) {
            for (r, code) in chunk {
                let note = (r.candidate > 0).then(|| format!("Made {code} (an earlier choice was refused)."));
                let outcome = Outcome::Active { code, redeem_id: None, discount_id };
                self.save(r, &outcome, note.as_deref(), None).await.map_err(|e| Failed::Retry(e.to_string()))?;
            }
            return Ok(());
        }
        // Some were refused: the report says which, code by code.
        let mut results: HashMap<String, CreationCode> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let report: AddedReport =
                self.call(CODES_ADDED, json!({ "id": creation.id, "first": REPORT_PAGE, "after": after })).await?;
            let Some(report) = report.discount_redeem_code_bulk_creation else {
                return Err(Failed::Retry("Shopify lost the bulk creation; trying again.".into()));
            };
            for node in report.codes.nodes {
                results.insert(node.code.to_ascii_uppercase(), node);
            }
            match report.codes.page_info {
                PageInfo { has_next_page: true, end_cursor: Some(cursor) } => after = Some(cursor),
                _ => break,
            }
        }
        for (r, code) in chunk {
            let saved = match results.get(&code.to_ascii_uppercase()) {
                Some(CreationCode { discount_redeem_code: Some(made), .. }) => {
                    let outcome = Outcome::Active { code, redeem_id: Some(&made.id), discount_id };
                    let note = (r.candidate > 0).then(|| format!("Made {code} (an earlier choice was refused)."));
                    self.save(r, &outcome, note.as_deref(), None).await
                }
                Some(CreationCode { errors, .. }) if code_refused(errors) => {
                    let note = format!("Shopify refused {code} ({}); trying the next code.", words(errors));
                    self.save(r, &Outcome::Next { candidate: r.candidate + 1 }, Some(&note), None).await
                }
                Some(CreationCode { errors, .. }) => {
                    let error = format!("Shopify refused {code}: {}", words(errors));
                    self.save(r, &Outcome::NotYet { due: None }, None, Some(&error)).await
                }
                None => {
                    let wait = super::klaviyo_sync::plan::retry_delay(r.attempts + 1, None);
                    let due = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(60_000);
                    let error = format!("Shopify's report didn't mention {code}; checking again.");
                    self.save(r, &Outcome::NotYet { due: Some(due) }, None, Some(&error)).await
                }
            };
            saved.map_err(|e| Failed::Retry(e.to_string()))?;
        }
        Ok(())
    }

    /// Takes codes out of the discounts holding them, waits for Shopify's job, and reads each code
    /// back (gone: `codeDiscountNodeByCode` finds nothing). Rows in `moving` get a new code next,
    /// so only their Shopify ids are cleared here.
    async fn remove(&mut self, rows: &[&ClaimedCode], moving: &[i64]) -> Result<(), Failed> {
        let mut by_discount: HashMap<String, Vec<&ClaimedCode>> = HashMap::new();
        for r in rows {
            if let Some(discount) = &r.discount_id {
                by_discount.entry(discount.clone()).or_default().push(r);
            }
        }
        for (discount, rows) in by_discount {
            for chunk in rows.chunks(BULK) {
                // Codes made in bulk have no id recorded: Shopify's lookup by code gives it.
                let mut ids: Vec<String> = Vec::new();
                for r in chunk {
                    match &r.redeem_id {
                        Some(id) => ids.push(id.clone()),
                        None => {
                            let code = r.code.clone().unwrap_or_default();
                            let found: Lookup = self.call(CODE_LOOKUP, json!({ "code": code })).await?;
                            let id = found
                                .code_discount_node_by_code
                                .filter(|n| n.id == discount)
                                .and_then(|n| n.code_discount)
                                .and_then(|d| d["codes"]["nodes"][0]["id"].as_str().map(str::to_owned));
                            // Not in the discount: already gone (read back below like the others).
                            ids.extend(id);
                        }
                    }
                }
                if ids.is_empty() {
                    for r in chunk.iter().filter(|r| !moving.contains(&r.id)) {
                        self.save(r, &Outcome::Removed { state: "removed" }, None, None)
                            .await
                            .map_err(|e| Failed::Retry(e.to_string()))?;
                    }
                    continue;
                }
                let removed: Removed = self.call(CODES_REMOVE, json!({ "discountId": discount, "ids": ids })).await?;
                let payload = removed.discount_code_redeem_code_bulk_delete;
                if let Some(mut job) = payload.job {
                    let mut polls = 0u32;
                    while !job.done {
                        polls += 1;
                        if Instant::now() + Duration::from_millis(500) > self.deadline || polls > 60 {
                            return Err(Failed::Late);
                        }
                        tokio::time::sleep(Duration::from_millis(250 * u64::from(polls.min(4)))).await;
                        let answer: JobAnswer = self.call(JOB, json!({ "id": job.id })).await?;
                        match answer.job {
                            Some(next) => job = next,
                            None => break,
                        }
                    }
                } else if !payload.user_errors.iter().any(|e| e.message.to_ascii_lowercase().contains("does not exist"))
                {
                    return Err(Failed::Wait(format!(
                        "Shopify refused to remove codes: {}",
                        words(&payload.user_errors)
                    )));
                }
                for r in chunk {
                    let code = r.code.clone().unwrap_or_default();
                    let found: Lookup = self.call(CODE_LOOKUP, json!({ "code": code })).await?;
                    let still = found.code_discount_node_by_code.is_some_and(|n| n.id == discount);
                    if still {
                        return Err(Failed::Retry(format!("{code} is still in Shopify; trying again.")));
                    }
                    if !moving.contains(&r.id) {
                        self.save(r, &Outcome::Removed { state: "removed" }, None, None)
                            .await
                            .map_err(|e| Failed::Retry(e.to_string()))?;
                    }
                }
            }
        }
        Ok(())
    }
}
