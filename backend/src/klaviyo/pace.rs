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

/// Background work's bucket: one GCRA whose burst and rate are chosen so that no window of a second
/// holds more than half the burst limit and no window of a minute more than half the steady limit.
/// (A bucket per window would not do: a minute bucket of n lets n through at once and n more within
/// the minute.) With burst `b` and rate `r` per second: `b + r <= half burst`, `b + 60 r <= half steady`.
fn background_quota(operation: Operation) -> Quota {
    let limit = operation.rate_limit();
    let half_burst = f64::from((limit.burst_per_second / 2).max(1));
    let half_steady = f64::from((limit.steady_per_minute / 2).max(1));
    // The largest burst both windows allow, then the rate the minute window leaves.
    let burst = ((half_burst - half_steady / 60.0) * 60.0 / 59.0).floor().max(1.0);
    let rate = ((half_steady - burst) / 60.0).max(1.0 / 60.0);
    let burst = NonZeroU32::new(burst as u32).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(std::time::Duration::from_secs_f64(1.0 / rate))
        .map_or_else(|| Quota::per_minute(NonZeroU32::MIN), |q| q.allow_burst(burst))
}

impl Buckets {
    fn for_operation(operation: Operation) -> Self {
        let limit = operation.rate_limit();
        let per_second = NonZeroU32::new(limit.burst_per_second).unwrap_or(NonZeroU32::MIN);
        let per_minute = NonZeroU32::new(limit.steady_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            burst: RateLimiter::direct(Quota::per_second(per_second)),
            steady: RateLimiter::direct(Quota::per_minute(per_minute)),
        }
    }
}

/// Buckets by (Klaviyo account id, operation).
type BucketMap = HashMap<(String, Operation), Arc<Buckets>>;
type BackgroundMap = HashMap<(String, Operation), Arc<DefaultDirectRateLimiter>>;

/// One set of buckets per (Klaviyo account, operation), created on first use; background work
/// (the daily reconcile) also passes a second set at half the limits, so it never takes more than
/// half of any limit and live syncs and events always have the rest.
#[derive(Clone, Default)]
pub struct Pacer {
    buckets: Arc<Mutex<BucketMap>>,
    background: Arc<Mutex<BackgroundMap>>,
}

impl Pacer {
    /// Waits until `operation` may be called for `account` without exceeding either limit.
    pub async fn ready(&self, account: &str, operation: Operation) {
        let buckets = {
            let Ok(mut map) = self.buckets.lock() else { return };
            map.entry((account.to_owned(), operation))
                .or_insert_with(|| Arc::new(Buckets::for_operation(operation)))
                .clone()
        };
        buckets.steady.until_ready().await;
        buckets.burst.until_ready().await;
    }

    /// [`ready`](Self::ready) for background work: within half of each limit first
    /// ([`background_quota`]), then in the shared buckets like any call.
    pub async fn ready_background(&self, account: &str, operation: Operation) {
        let half = self.background.lock().ok().map(|mut map| {
            map.entry((account.to_owned(), operation))
                .or_insert_with(|| Arc::new(RateLimiter::direct(background_quota(operation))))
                .clone()
        });
        if let Some(half) = half {
            half.until_ready().await;
        }
        self.ready(account, operation).await;
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

    #[test]
    fn background_quotas_stay_within_half_of_both_windows() {
        for op in Operation::ALL {
            let limit = op.rate_limit();
            let q = background_quota(op);
            let burst = f64::from(q.burst_size().get());
            let rate = 1.0 / q.replenish_interval().as_secs_f64();
            if limit.burst_per_second >= 2 {
                assert!(burst + rate <= f64::from(limit.burst_per_second / 2) + 1e-3, "{op:?} per second");
            }
            assert!(burst + 60.0 * rate <= f64::from(limit.steady_per_minute / 2) + 1e-3, "{op:?} per minute");
        }
    }

    #[tokio::test]
    async fn background_work_gets_at_most_half_of_a_limit() {
        let pacer = Pacer::default();
        let start = Instant::now();
        for _ in 0..3 {
            pacer.ready_background("A", Operation::AddToList).await; // a burst of 3 of 10/s, 150/min
        }
        assert!(start.elapsed() < Duration::from_millis(200));
        pacer.ready_background("A", Operation::AddToList).await;
        assert!(start.elapsed() >= Duration::from_millis(500), "the fourth background call waits");
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
