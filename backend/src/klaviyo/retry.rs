//! Retries for calls a merchant is waiting on: a couple of quick attempts, honouring Klaviyo's
//! `Retry-After` when it is short. Anything longer is reported instead of making the page hang.

use super::KlaviyoError;
use backon::{ExponentialBuilder, Retryable};
use std::future::Future;
use std::time::Duration;

/// Longest `Retry-After` an interactive call waits out.
const MAX_INTERACTIVE_WAIT: Duration = Duration::from_secs(2);

pub async fn interactive<T, F, Fut>(call: F) -> Result<T, KlaviyoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, KlaviyoError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(1))
        .with_max_times(2)
        .with_jitter();
    call.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e: &KlaviyoError| e.is_retryable() && e.retry_after().is_none_or(|wait| wait <= MAX_INTERACTIVE_WAIT))
        // `planned` is None once the attempts are used up, and must stay None or the retries never
        // end. Klaviyo's windows reset on the second; a little slack avoids landing just before it.
        .adjust(|e: &KlaviyoError, planned| {
            planned.map(|backoff| e.retry_after().map_or(backoff, |wait| wait + Duration::from_millis(50)))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::klaviyo::Operation;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_three_attempts_even_when_klaviyo_says_when() {
        let attempts = AtomicU32::new(0);
        let result: Result<(), _> = interactive(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async {
                Err(KlaviyoError::Throttled { operation: Operation::GetLists, retry_after: Duration::from_secs(1) })
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_wait_out_a_long_retry_after_or_retry_a_refusal() {
        for error in [
            KlaviyoError::Throttled { operation: Operation::GetLists, retry_after: Duration::from_secs(30) },
            KlaviyoError::MissingScope { operation: Operation::GetLists },
        ] {
            let attempts = AtomicU32::new(0);
            let _ = interactive(|| {
                attempts.fetch_add(1, Ordering::SeqCst);
                let error = error.clone();
                async move { Err::<(), _>(error) }
            })
            .await;
            assert_eq!(attempts.load(Ordering::SeqCst), 1, "{error:?}");
        }
    }
}
