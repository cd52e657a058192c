//! Rate limits in memory per instance: per client address (sign-up and log-in, public
//! applications) and per merchant (Klaviyo key checks), on one keyed limiter.
//!
//! With several instances behind a load balancer each keeps its own counts, so the effective limit
//! is per instance; that still stops the scripted guessing these limits exist for.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Attempts per minute per key, refilled evenly.
pub struct KeyedRateLimiter<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K> {
    /// `per_minute` attempts per key; 0 turns the limit off (load tests).
    pub fn per_minute(per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self { limiter, clock: DefaultClock::default() }
    }

    /// `Err(seconds)` to wait when the key used up its attempts.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets keys whose limit has fully refilled, so memory stays bounded.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Per client: an IPv4 address or an IPv6 /64.
pub struct IpRateLimiter(KeyedRateLimiter<IpAddr>);

impl IpRateLimiter {
    /// `per_minute` attempts per address, refilled evenly; 0 turns the limit off (load tests).
    pub fn per_minute(per_minute: u32) -> Self {
        Self(KeyedRateLimiter::per_minute(per_minute))
    }

    /// `Err(seconds)` to wait when the address used up its attempts.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.0.check(&subscriber(ip))
    }

    pub fn forget_idle(&self) {
        self.0.forget_idle();
    }
}

/// The unit one subscriber controls: an IPv4 address, or the /64 of an IPv6 one (an ISP hands each
/// customer at least a /64, so counting single IPv6 addresses would let one client rotate freely).
fn subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
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
    fn an_ipv6_client_is_limited_by_its_64_prefix() {
        let limiter = IpRateLimiter::per_minute(1);
        let first: IpAddr = "2001:db8:1:2::1".parse().expect("literal");
        let neighbour: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("literal");
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().expect("literal");
        assert!(limiter.check(first).is_ok());
        assert!(limiter.check(neighbour).is_err(), "same /64");
        assert!(limiter.check(elsewhere).is_ok(), "another /64");
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = IpRateLimiter::per_minute(0);
        assert!((0..1000).all(|_| limiter.check([127, 0, 0, 1].into()).is_ok()));
    }
}
