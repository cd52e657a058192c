//! Proactive pacing: per Klaviyo account and operation, two token buckets from the spec's
//! `x-klaviyo-ratelimit` (burst per second, steady per minute). Waiting here before a call keeps a
//! sync under Klaviyo's limits instead of learning them from 429s. All apps on a merchant's account
//! share Klaviyo's quota, so a 429 can still come; the caller honours its `Retry-After`.

use super::Operation;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

struct Buckets {
    burst: DefaultDirectRateLimiter,
    steady: DefaultDirectRateLimiter,
}

impl Buckets {
    /// The operation's limits divided by `share` (1: all of them; 2: half, for background work).
    fn for_operation(operation: Operation, share: u32) -> Self {
        let limit = operation.rate_limit();
        let per_second = NonZeroU32::new(limit.burst_per_second / share).unwrap_or(NonZeroU32::MIN);
        let per_minute = NonZeroU32::new(limit.steady_per_minute / share).unwrap_or(NonZeroU32::MIN);
        Self {
            burst: RateLimiter::direct(Quota::per_second(per_second)),
            steady: RateLimiter::direct(Quota::per_minute(per_minute)),
        }
    }
}

/// Buckets by (Klaviyo account id, operation).
type BucketMap = HashMap<(String, Operation), Arc<Buckets>>;

/// One set of buckets per (Klaviyo account, operation), created on first use; background work
/// (the daily reconcile) also passes a second set at half the limits, so it never takes more than
/// half of any limit and live syncs and events always have the rest.
#[derive(Clone, Default)]
pub struct Pacer {
    buckets: Arc<Mutex<BucketMap>>,
    background: Arc<Mutex<BucketMap>>,
}

impl Pacer {
    /// Waits until `operation` may be called for `account` without exceeding either limit.
    pub async fn ready(&self, account: &str, operation: Operation) {
        let Some(buckets) = Self::buckets(&self.buckets, account, operation, 1) else { return };
        buckets.steady.until_ready().await;
        buckets.burst.until_ready().await;
    }

    /// [`ready`](Self::ready) for background work: within half of each limit first.
    pub async fn ready_background(&self, account: &str, operation: Operation) {
        if let Some(half) = Self::buckets(&self.background, account, operation, 2) {
            half.steady.until_ready().await;
            half.burst.until_ready().await;
        }
        self.ready(account, operation).await;
    }

    fn buckets(map: &Mutex<BucketMap>, account: &str, operation: Operation, share: u32) -> Option<Arc<Buckets>> {
        let mut map = map.lock().ok()?;
        Some(
            map.entry((account.to_owned(), operation))
                .or_insert_with(|| Arc::new(Buckets::for_operation(operation, share)))
                .clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn paces_the_accounts_call_to_one_a_second_per_account() {
        let pacer = Pacer::default();
        let start = Instant::now();
        pacer.ready("A", Operation::GetAccounts).await;
        pacer.ready("B", Operation::GetAccounts).await;
        pacer.ready("A", Operation::GetLists).await;
        assert!(start.elapsed() < Duration::from_millis(200), "other accounts and operations do not wait");
        pacer.ready("A", Operation::GetAccounts).await;
        assert!(start.elapsed() >= Duration::from_millis(900), "the second account read waits about a second");
    }

    #[tokio::test]
    async fn background_work_gets_at_most_half_of_a_limit() {
        let pacer = Pacer::default();
        let start = Instant::now();
        for _ in 0..5 {
            pacer.ready_background("A", Operation::AddToList).await; // half of 10/s
        }
        assert!(start.elapsed() < Duration::from_millis(200));
        pacer.ready_background("A", Operation::AddToList).await;
        assert!(start.elapsed() >= Duration::from_millis(100), "the sixth background call waits");
        let live = Instant::now();
        for _ in 0..4 {
            pacer.ready("A", Operation::AddToList).await;
        }
        assert!(live.elapsed() < Duration::from_millis(100), "live calls still have the other half");
    }

    #[tokio::test]
    async fn lets_a_burst_through_then_spreads_the_rest() {
        let pacer = Pacer::default();
        let start = Instant::now();
        for _ in 0..10 {
            pacer.ready("A", Operation::AddToList).await; // 10/s burst
        }
        assert!(start.elapsed() < Duration::from_millis(200));
        pacer.ready("A", Operation::AddToList).await;
        assert!(start.elapsed() >= Duration::from_millis(50), "the eleventh waits for a token");
    }
}
