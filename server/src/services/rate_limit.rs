//! Per-IP rate limits (sign-up and log-in, public applications), in memory per instance.
//!
//! With several instances behind a load balancer each keeps its own counts, so the effective limit
//! is per instance; that still stops the scripted guessing these limits exist for.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub struct IpRateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

impl IpRateLimiter {
    /// `per_minute` attempts per address, refilled evenly; 0 turns the limit off (load tests).
    pub fn per_minute(per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self { limiter, clock: DefaultClock::default() }
    }

    /// `Err(seconds)` to wait when the address used up its attempts.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets addresses whose limit has fully refilled, so memory stays bounded.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_quota_and_says_how_long() {
        let limiter = IpRateLimiter::per_minute(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!(limiter.check(ip).is_ok());
        assert!(limiter.check(ip).is_ok());
        let wait = limiter.check(ip).expect_err("third attempt within the minute");
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(limiter.check([10, 0, 0, 2].into()).is_ok(), "other addresses are not affected");
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = IpRateLimiter::per_minute(0);
        assert!((0..1000).all(|_| limiter.check([127, 0, 0, 1].into()).is_ok()));
    }
}
