//! Every Klaviyo call a sync makes goes through [`Calls::run`]: paced inside the account's limits,
//! retried in place a few times when the failure is retryable (honouring `Retry-After`), and
//! logged against each affiliate it covered.

use crate::klaviyo::pace::Pacer;
use crate::klaviyo::{KlaviyoError, Operation};
use crate::store::now_ms;
use crate::store::sync::LogRow;
use backon::{BackoffBuilder, ExponentialBuilder};
use shared::domain::MerchantId;
use std::future::Future;
use std::time::Duration;

/// The longest `Retry-After` waited out in place; a longer one ends the attempt, and the rows are
/// rescheduled for then instead of holding their lease.
const MAX_IN_PLACE_WAIT: Duration = Duration::from_secs(20);

pub struct Calls {
    pacer: Pacer,
    account: String,
    merchant: MerchantId,
    pub log: Vec<LogRow>,
    /// Writes Klaviyo accepted: each proves the key holds every permission that call needs.
    pub accepted_writes: Vec<Operation>,
    /// Background work (the reconcile): paced within half of each limit.
    background: bool,
}

impl Calls {
    pub fn new(pacer: Pacer, account: String, merchant: MerchantId) -> Self {
        Self { pacer, account, merchant, log: Vec::new(), accepted_writes: Vec::new(), background: false }
    }

    /// Calls for background work: half of each limit at most, and nothing logged per affiliate.
    pub fn background(pacer: Pacer, account: String, merchant: MerchantId) -> Self {
        Self { background: true, ..Self::new(pacer, account, merchant) }
    }

    /// Runs `call` for the syncs `ids`, up to four attempts.
    pub async fn run<T, F, Fut>(&mut self, op: Operation, ids: &[i64], mut call: F) -> Result<T, KlaviyoError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, KlaviyoError>>,
    {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(4))
            .with_max_times(3)
            .with_jitter()
            .build();
        loop {
            if self.background {
                self.pacer.ready_background(&self.account, op).await;
            } else {
                self.pacer.ready(&self.account, op).await;
            }
            let result = call().await;
            self.record(op, ids, result.as_ref().err());
            let error = match result {
                Ok(value) => {
                    if op.method() != reqwest::Method::GET && !self.accepted_writes.contains(&op) {
                        self.accepted_writes.push(op);
                    }
                    return Ok(value);
                }
                Err(error) => error,
            };
            if !error.is_retryable_when_idempotent() || error.retry_after().is_some_and(|wait| wait > MAX_IN_PLACE_WAIT)
            {
                return Err(error);
            }
            let Some(planned) = backoff.next() else { return Err(error) };
            // Klaviyo's windows reset on the second; a little slack avoids landing just before.
            let wait = error.retry_after().map_or(planned, |wait| wait.max(planned) + Duration::from_millis(50));
            tokio::time::sleep(wait).await;
        }
    }

    fn record(&mut self, op: Operation, ids: &[i64], error: Option<&KlaviyoError>) {
        if ids.is_empty() {
            return;
        }
        let status = match error {
            Some(e) => e.status(),
            None => Some(success_status(op)),
        };
        self.log.push(LogRow {
            merchant_id: self.merchant,
            sync_ids: ids.to_vec(),
            at: now_ms(),
            endpoint: format!("{} {}", op.method(), op.template()),
            status: status.map(i64::from),
            error_code: error.map(|e| e.code().to_owned()),
            error: error.map(ToString::to_string),
        });
    }
}

/// The status a successful call of this kind answers with (the client only returns data).
fn success_status(op: Operation) -> u16 {
    match op {
        Operation::Subscribe | Operation::Unsubscribe | Operation::CreateBulkImportJob | Operation::CreateEvent => 202,
        Operation::AddToList | Operation::RemoveFromList => 204,
        Operation::CreateProfile => 201,
        _ => 200,
    }
}
