//! Job kind: a webhook delivery. The merchant's endpoints hear about approvals, commissions and
//! payouts: deliveries are queued with the change that causes them (`outbox::webhook`), then POSTed
//! signed, retrying with backoff for a day. Every try is logged for the merchant, who can redeliver
//! any delivery by hand. A merchant's claimed deliveries go out side by side; an endpoint that never
//! answers holds up only its own merchant's slot (see the runner).
//!
//! Signature: `Rekomi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">` under the
//! endpoint's secret. Receivers recompute it over the raw body and refuse a `t` older than a few
//! minutes (a replay).

use super::runner::{Job, RunnerSettings};
use crate::secrets::Sealer;
use crate::store::webhooks::{self as store, Attempt, ClaimedDelivery};
use crate::store::{now_ms, Claim, Db, DbResult};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use shared::domain::lifecycle::SIGNATURE_HEADER;
use shared::domain::{DeliveryState, MerchantId};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Whose sealed secret this is: the AEAD's associated data, so a secret copied onto another
/// merchant's endpoint does not open.
pub fn secret_owner(merchant: shared::domain::MerchantId) -> String {
    format!("webhook-endpoint:{merchant}")
}

/// `t=…,v1=…` for a body sent at `unix_secs`.
pub fn signature(secret: &str, unix_secs: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={unix_secs},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Waits before try `attempts + 1`: 30 s doubling to a 2 h cap, with jitter, so a day holds
/// about 15 tries.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 12)).unwrap_or(12);
    let base = Duration::from_secs(30u64.saturating_mul(1u64 << exp)).min(Duration::from_secs(7_200));
    let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 5);
    base + Duration::from_millis(jitter)
}

/// IPv4 blocks IANA's special-purpose registry marks as not globally reachable (plus multicast and
/// the reserved 240/4): a merchant's endpoint must not reach the instance's own machine or network
/// (a delivery log would otherwise map what is behind Rekomi).
const V4_NOT_GLOBAL: [(u32, u8); 16] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10/8
    (0x6440_0000, 10), // 100.64/10 carrier-grade NAT
    (0x7f00_0000, 8),  // 127/8 loopback
    (0xa9fe_0000, 16), // 169.254/16 link local (cloud metadata)
    (0xac10_0000, 12), // 172.16/12
    (0xc000_0000, 24), // 192.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2/24 documentation
    (0xc058_6300, 24), // 192.88.99/24 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168/16
    (0xc612_0000, 15), // 198.18/15 benchmarking
    (0xc633_6400, 24), // 198.51.100/24 documentation
    (0xcb00_7100, 24), // 203.0.113/24 documentation
    (0xe000_0000, 4),  // 224/4 multicast
    (0xf000_0000, 4),  // 240/4 reserved, and the broadcast address
    (0xffff_ffff, 32), // 255.255.255.255
];

/// IPv6 blocks that are not globally reachable or that carry an IPv4 address a gateway would
/// reach on Rekomi's behalf (NAT64, 6to4, IPv4-compatible).
const V6_NOT_GLOBAL: [(u128, u8); 13] = [
    (0, 96),                                         // ::/96 unspecified, loopback, IPv4-compatible
    (0xffff_0000_0000, 96),                          // ::ffff:0:0/96 is checked as IPv4 below; kept for safety
    (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96), // 64:ff9b::/96 NAT64
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48), // 64:ff9b:1::/48 local-use NAT64
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // 100::/64 discard-only
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // 2001::/23 IETF protocol assignments (Teredo …)
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32 documentation
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16), // 2002::/16 6to4
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // 3fff::/20 documentation
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16), // 5f00::/16 segment routing
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // fc00::/7 unique local
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // fe80::/10 link local
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // ff00::/8 multicast
];

fn in_block<T>(ip: T, (net, len): (T, u8)) -> bool
where
    T: Copy + std::ops::Shr<u32, Output = T> + PartialEq,
{
    let bits = u32::try_from(std::mem::size_of::<T>() * 8).unwrap_or(128);
    let shift = bits - u32::from(len);
    // A /0 would shift by the whole width; no block here is that wide.
    shift < bits && (ip >> shift) == (net >> shift)
}

/// Whether a merchant's endpoint may not be delivered to at this address.
pub fn private_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => V4_NOT_GLOBAL.iter().any(|block| in_block(u32::from(v4), *block)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_address(IpAddr::V4(v4));
            }
            V6_NOT_GLOBAL.iter().any(|block| in_block(u128::from(v6), *block))
        }
    }
}

/// Refuses an endpoint whose host is, or resolves to, a private address (unless allowed). Returns
/// the host and the addresses checked, so the delivery connects to exactly those (a DNS answer
/// that changes between the check and the connection can't point it inside).
pub async fn check_public(url: &str, allow_private: bool) -> Result<Option<(String, Vec<SocketAddr>)>, String> {
    if allow_private {
        return Ok(None);
    }
    let parsed = url::Url::parse(url).map_err(|_| "The endpoint address can't be read.".to_owned())?;
    let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let refused =
        || "The endpoint's address is on a private network; Rekomi delivers only to public addresses.".to_owned();
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Err(refused());
    }
    // Its own timeout: a slow resolver must not hold a delivery slot for the whole request timeout.
    let lookup = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), port)));
    let addrs: Vec<SocketAddr> = lookup
        .await
        .map_err(|_| format!("The endpoint's host {host} didn't resolve within 5 s."))?
        .map_err(|_| format!("The endpoint's host {host} can't be resolved."))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|a| private_address(a.ip())) {
        return Err(refused());
    }
    Ok(Some((host, addrs)))
}

fn client(pinned: Option<(&str, &[SocketAddr])>) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from HTTP(S)_PROXY would connect wherever it likes, past the address pinning.
        .no_proxy()
        .user_agent("Rekomi-Webhooks/1");
    match pinned {
        Some((host, addrs)) => builder.resolve_to_addrs(host, addrs).build(),
        None => builder.build(),
    }
}

pub struct DeliveryJob {
    db: Db,
    sealer: Sealer,
    http: reqwest::Client,
    /// Deliver to private addresses too (tests and local development only).
    allow_private: bool,
}

impl DeliveryJob {
    pub fn new(db: Db, sealer: Sealer, allow_private: bool) -> anyhow::Result<Self> {
        Ok(Self { db, sealer, http: client(None)?, allow_private })
    }

    /// Ten of a merchant's deliveries at a time, sixteen merchants side by side. A claimed group
    /// takes at most one timeout per try, well inside the lease.
    pub fn runner() -> RunnerSettings {
        RunnerSettings {
            claim_limit: 100,
            per_merchant: 10,
            slots: 16,
            per_merchant_slots: 1,
            lease: Duration::from_secs(120),
            idle_poll: Duration::from_millis(500),
        }
    }
}

impl Job for DeliveryJob {
    type Item = ClaimedDelivery;
    type Group = ();
    const NAME: &'static str = "webhooks";
    const TABLE: &'static str = "webhook_deliveries";

    fn wake(&self) -> &'static tokio::sync::Notify {
        &super::WEBHOOKS
    }

    async fn claim(&self, db: &Db, claim: &Claim<'_>) -> DbResult<Vec<ClaimedDelivery>> {
        store::claim(db, claim).await
    }

    fn id(item: &ClaimedDelivery) -> i64 {
        item.id
    }

    fn group(item: &ClaimedDelivery) -> (MerchantId, ()) {
        (item.merchant_id, ())
    }

    async fn work(&self, token: &str, _merchant: MerchantId, (): (), deliveries: Vec<ClaimedDelivery>) {
        // Endpoints are the merchant's own servers: one slow endpoint must not hold up the others.
        futures_util::future::join_all(deliveries.into_iter().map(|d| self.deliver(token, d))).await;
    }
}

impl DeliveryJob {
    async fn deliver(&self, token: &str, delivery: ClaimedDelivery) {
        let attempt = self.attempt(&delivery).await;
        if let Err(error) = store::finish(&self.db, token, &attempt).await {
            tracing::warn!(%error, delivery = delivery.id, "could not save a webhook try; it is sent again after the lease");
        }
    }

    async fn attempt(&self, d: &ClaimedDelivery) -> Attempt {
        let started = Instant::now();
        let at = now_ms();
        // A host name is pinned to the addresses just checked; an address literal needs no pinning.
        let http = match check_public(&d.url, self.allow_private).await {
            Err(refused) => Err(refused),
            Ok(Some((host, addrs))) if host.parse::<IpAddr>().is_err() => {
                client(Some((&host, &addrs))).map_err(|_| "Rekomi could not prepare the request.".to_owned())
            }
            Ok(_) => Ok(self.http.clone()),
        };
        let (status, error) = match (http, self.sealer.open(&d.secret, &secret_owner(d.merchant_id))) {
            (Err(refused), _) => (None, Some(refused)),
            (_, Err(_)) => {
                (None, Some("The endpoint's signing secret can't be read; add the endpoint again.".to_owned()))
            }
            (Ok(http), Ok(secret)) => {
                let signed = signature(&secret, at.div_euclid(1000), &d.payload);
                let sent = http
                    .post(&d.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, signed)
                    .header("Rekomi-Event-Id", &d.event_id)
                    .header("Rekomi-Event-Type", &d.topic)
                    .body(d.payload.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        (Some(i64::from(response.status().as_u16())), None)
                    }
                    Ok(response) => {
                        let status = response.status();
                        (Some(i64::from(status.as_u16())), Some(format!("The endpoint answered {status}.")))
                    }
                    Err(e) if e.is_timeout() => (None, Some(format!("No answer within {} s.", TIMEOUT.as_secs()))),
                    Err(e) if e.is_connect() => (None, Some("Could not connect to the endpoint.".to_owned())),
                    Err(_) => (None, Some("The request to the endpoint failed.".to_owned())),
                }
            }
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (state, due_at) = if error.is_none() {
            (DeliveryState::Delivered, None)
        } else {
            let next = at + i64::try_from(backoff(d.attempts).as_millis()).unwrap_or(7_200_000);
            if next > d.give_up_at {
                (DeliveryState::Failed, None)
            } else {
                (DeliveryState::Retrying, Some(next))
            }
        };
        Attempt { id: d.id, at, status, error, duration_ms, state, due_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_dot_body() {
        // Recomputed independently: printf '1732450000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let sig = signature("whsec_test", 1_732_450_000, r#"{"a":1}"#);
        assert!(sig.starts_with("t=1732450000,v1="));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"whsec_test").expect("key");
        mac.update(br#"1732450000.{"a":1}"#);
        assert_eq!(sig, format!("t=1732450000,v1={}", hex::encode(mac.finalize().into_bytes())));
    }

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "198.18.0.1",
            "198.19.255.254",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "::a00:1",
            "2001::1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(private_address(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8", "198.20.0.1", "223.255.255.1", "2a00:1450::1"] {
            assert!(!private_address(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn endpoints_on_this_machine_are_refused_unless_allowed() {
        assert!(check_public("http://127.0.0.1:9/hook", false).await.is_err());
        assert!(check_public("https://localhost/hook", false).await.is_err());
        assert!(check_public("http://[::1]/hook", false).await.is_err());
        assert!(check_public("http://127.0.0.1:9/hook", true).await.is_ok());
        // A public address is checked and handed back for the connection to use.
        let checked = check_public("https://93.184.216.34/hook", false).await.expect("public");
        let (host, addrs) = checked.expect("checked");
        assert_eq!(
            (host.as_str(), addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            ("93.184.216.34", vec!["93.184.216.34:443".to_owned()])
        );
    }

    #[test]
    fn backoff_grows_to_a_two_hour_cap_and_a_day_holds_many_tries() {
        assert!(backoff(0) >= Duration::from_secs(30) && backoff(0) <= Duration::from_secs(36));
        assert!(backoff(3) >= Duration::from_secs(240));
        assert!(backoff(40) <= Duration::from_secs(7_200 + 1_440));
        let day: u64 = (0..15).map(|n| backoff(n).as_secs()).sum();
        assert!(day < 2 * 86_400, "{day}");
    }
}
