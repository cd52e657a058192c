//! Tracking links in memory: the codes that are being clicked (so a redirect for a known code never
//! waits on the database), the visitors counted in the last hour, and the queue the click writer
//! drains in batches off the request path.

pub mod writer;

use crate::store::tracking::{CodeRow, NewClick};
use crate::store::{Db, DbError};
use hmac::{Hmac, Mac};
use http::HeaderValue;
use moka::sync::Cache;
use sha2::Sha256;
use shared::domain::campaign::{CommissionRule, StoredRule};
use shared::domain::tracking::{Attribution, CodeTerms, Device};
use shared::domain::{AffiliateId, CampaignId, MerchantId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a code's row is trusted before it is read again: another instance (or the merchant)
/// may have changed the affiliate or the campaign.
const CODE_TTL: Duration = Duration::from_secs(60);
/// Clicks waiting for the writer; past this a redirect hands its click to a task instead.
const QUEUE: usize = 100_000;

/// An affiliate's code with what the redirect and attribution need.
#[derive(Debug, Clone)]
pub struct Code {
    pub affiliate: AffiliateId,
    pub merchant: MerchantId,
    pub campaign: CampaignId,
    pub code: String,
    pub email: String,
    pub approved: bool,
    /// The shop address with `ref={code}` added, ready as a `Location`; `None` when the campaign
    /// has no shop address.
    pub redirect: Option<HeaderValue>,
    /// The shop address as the merchant typed it.
    pub destination: Option<String>,
    pub terms: CodeTerms,
    /// The rule in force: the affiliate's override (the "rate bump") if any, else the campaign's.
    pub rule: Option<CommissionRule>,
    /// The campaign's own rule, in force again once an override expires.
    pub campaign_rule: Option<CommissionRule>,
    /// When the override ends (unix ms), if it does.
    pub override_until: Option<i64>,
    pub hold_days: i64,
}

impl Code {
    pub fn from_row(row: CodeRow) -> Self {
        let redirect = row
            .destination_url
            .as_deref()
            .and_then(|d| with_ref(d, &row.referral_code))
            .and_then(|url| HeaderValue::from_str(&url).ok());
        let stored = StoredRule {
            kind: &row.commission_kind,
            bps: row.commission_bps,
            minor: row.commission_minor,
            currency: &row.currency,
            override_bps: row.rate_bps,
            override_minor: row.rate_minor,
        };
        let rule = CommissionRule::in_force(stored);
        let campaign_rule = CommissionRule::in_force(StoredRule { override_bps: None, override_minor: None, ..stored });
        let has_override = row.rate_bps.is_some() || row.rate_minor.is_some();
        Self {
            affiliate: row.affiliate_id,
            merchant: row.merchant_id,
            campaign: row.campaign_id,
            approved: row.state == shared::domain::AffiliateState::Approved,
            email: row.email,
            redirect,
            destination: row.destination_url,
            terms: CodeTerms {
                attribution: Attribution::parse(&row.attribution).unwrap_or_default(),
                cookie_days: u16::try_from(row.cookie_days).unwrap_or(30),
            },
            rule,
            campaign_rule,
            override_until: row.rate_expires_at.filter(|_| has_override),
            hold_days: row.hold_days,
            code: row.referral_code,
        }
    }
}

impl Code {
    /// The rule for an order placed at `at`: an expired override no longer counts.
    pub fn rule_at(&self, at: i64) -> Option<CommissionRule> {
        match self.override_until {
            Some(until) if at >= until => self.campaign_rule,
            _ => self.rule,
        }
    }
}

/// `destination` with `ref={code}` set (any `ref`/`via` already there replaced).
pub fn with_ref(destination: &str, code: &str) -> Option<String> {
    let mut url = url::Url::parse(destination).ok()?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "ref" && k != "via")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept).append_pair("ref", code);
    Some(url.into())
}

pub(crate) enum Command {
    Click(NewClick),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Tracker {
    db: Db,
    codes: Cache<String, Option<Arc<Code>>>,
    seen: Arc<Mutex<Seen>>,
    queue: mpsc::Sender<Command>,
    /// HMAC-SHA256 keyed for visitors, cloned per use (the key schedule is done once).
    mac: HmacSha256,
    bots: Arc<isbot::Bots>,
}

type HmacSha256 = Hmac<Sha256>;

/// Visitors counted per affiliate in the last hour, in two generations that rotate hourly: a
/// lookup checks both and the time, so the window is exactly an hour, and a rotation drops what
/// is older than that at no per-click cost. The database's (affiliate, visitor, hour) key stands
/// behind it across instances.
#[derive(Default)]
struct Seen {
    current: Generation,
    previous: Generation,
    rotated_at: i64,
}

/// (affiliate, visitor hash) → when last counted.
type Generation = HashMap<(AffiliateId, i64), i64>;

/// A generation past this many visitors rotates early, so memory stays bounded under a flood
/// (the database key still counts each visitor once an hour).
const SEEN_MAX: usize = 2_000_000;
const WINDOW_MS: i64 = 3_600_000;

impl Seen {
    /// True when this (affiliate, visitor) was not counted within the hour; records it.
    fn first_within_hour(&mut self, key: (AffiliateId, i64), now: i64) -> (bool, Option<Generation>) {
        let mut dropped = None;
        if now - self.rotated_at >= WINDOW_MS || self.current.len() >= SEEN_MAX {
            dropped = Some(std::mem::replace(&mut self.previous, std::mem::take(&mut self.current)));
            self.rotated_at = now;
        }
        let last = self.current.get(&key).or_else(|| self.previous.get(&key)).copied();
        let fresh = last.is_none_or(|at| now - at >= WINDOW_MS);
        if fresh {
            self.current.insert(key, now);
        }
        (fresh, dropped)
    }
}

/// Who clicked: the 64-bit hash stored for them, and the `rk_v` cookie value to set when the
/// request brought none valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub hash: i64,
    pub cookie: Option<String>,
}

/// What happened to one click on a tracking link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Queued,
    Repeat,
    Bot,
    /// The affiliate isn't approved: the visitor still reaches the shop, without attribution.
    NotEarning,
}

impl Tracker {
    /// The tracker and its writer, which the caller spawns (`writer::run`).
    pub fn new(db: Db, secret: &[u8; 32]) -> (Self, writer::Writer) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let mut derive = <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
        derive.update(b"rekomi:visitors:v1");
        let mac = <HmacSha256 as Mac>::new_from_slice(&derive.finalize().into_bytes())
            .expect("HMAC takes a key of any length");
        let tracker = Self {
            codes: Cache::builder().max_capacity(200_000).time_to_live(CODE_TTL).build(),
            seen: Arc::new(Mutex::new(Seen::default())),
            queue,
            mac,
            bots: Arc::new(isbot::Bots::default()),
            db: db.clone(),
        };
        (tracker, writer::Writer::new(db, receiver))
    }

    /// The code's affiliate, from memory when it was looked up in the last minute.
    pub async fn code(&self, code: &str) -> Result<Option<Arc<Code>>, DbError> {
        // Codes are looked up lower-case; most already are, so most lookups allocate nothing.
        let key: std::borrow::Cow<'_, str> = if code.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(code.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(code)
        };
        if let Some(found) = self.codes.get(key.as_ref()) {
            return Ok(found);
        }
        // Only a well-formed code is looked up and remembered: made-up paths of any length must
        // not fill the cache (or reach the database).
        if shared::domain::ReferralCode::parse(code).is_err() {
            return Ok(None);
        }
        let key = key.into_owned();
        let found = crate::store::tracking::by_code(&self.db, code).await?.map(|row| Arc::new(Code::from_row(row)));
        self.codes.insert(key, found.clone());
        Ok(found)
    }

    /// How many codes (known or unknown) are in memory.
    pub fn cached(&self) -> u64 {
        self.codes.run_pending_tasks();
        self.codes.entry_count()
    }

    /// Whether this code is in memory.
    pub fn is_cached(&self, code: &str) -> bool {
        self.codes.contains_key(&code.to_ascii_lowercase())
    }

    /// Drops these codes from memory after a change on this instance (approval, new code, new
    /// terms), so the redirect sees it at once; every other code stays cached.
    pub fn forget<S: AsRef<str>>(&self, codes: impl IntoIterator<Item = S>) {
        for code in codes {
            self.codes.invalidate(&code.as_ref().to_ascii_lowercase());
        }
    }

    pub fn is_bot(&self, user_agent: &str) -> bool {
        user_agent.trim().is_empty() || self.bots.is_bot(user_agent)
    }

    /// The visitor: the id in the `rk_v` cookie when it carries our tag (so made-up cookies can't
    /// pass for new visitors), else one derived from the address and browser, so a visitor who
    /// refuses cookies still counts once an hour. `cookie` is what to set when none valid came.
    pub fn visitor(&self, cookie: Option<&str>, ip: std::net::IpAddr, user_agent: &str) -> Visitor {
        if let Some((id, tag)) = cookie.and_then(|c| c.split_once('.')) {
            if id.len() == 32 {
                let (expected, hash) = self.tag(id);
                if expected == tag {
                    return Visitor { hash, cookie: None };
                }
            }
        }
        let address = match ip {
            std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(v6) => v6.octets(),
        };
        let id = hex::encode(&self.keyed(&[b"ip|", &address, b"|", user_agent.as_bytes()])[..16]);
        let (tag, hash) = self.tag(&id);
        Visitor { hash, cookie: Some(format!("{id}.{tag}")) }
    }

    /// The cookie's tag for a visitor id, and (from the same keyed hash, so the cookie value
    /// itself is never stored) the 64 bits the database keeps for the visitor.
    fn tag(&self, id: &str) -> (String, i64) {
        let out = self.keyed(&[b"cookie|", id.as_bytes()]);
        let mut stored = [0u8; 8];
        stored.copy_from_slice(&out[8..16]);
        (hex::encode(&out[..8]), i64::from_be_bytes(stored))
    }

    fn keyed(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Counts a click unless it is a bot's or a repeat; never waits on the database.
    pub fn click(&self, code: &Code, visitor: &Visitor, user_agent: &str, now: i64) -> Counted {
        if !code.approved {
            return Counted::NotEarning;
        }
        if self.is_bot(user_agent) {
            return Counted::Bot;
        }
        let visitor = visitor.hash;
        let (fresh, dropped) = match self.seen.lock() {
            Ok(mut seen) => seen.first_within_hour((code.affiliate, visitor), now),
            // A panic elsewhere poisoned it: count the click; the database key still dedupes.
            Err(_) => (true, None),
        };
        // A rotated generation is freed here, outside the lock.
        drop(dropped);
        if !fresh {
            return Counted::Repeat;
        }
        let click = NewClick {
            merchant_id: code.merchant,
            campaign_id: code.campaign,
            affiliate_id: code.affiliate,
            at: now,
            visitor,
            device: Device::from_user_agent(user_agent).as_str(),
        };
        match self.queue.try_send(Command::Click(click)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // 100,000 clicks behind: the database has been unwritable for a while. Memory is
                // bounded rather than the queue; the loss is logged (and the visitor still
                // reaches the shop).
                tracing::error!("click queue full (the database is not taking writes); a click was not recorded");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("click writer stopped; a click was not recorded")
            }
        }
        Counted::Queued
    }

    /// Waits until every click queued so far is written (tests, and shutdown), at most `limit`.
    pub async fn flush_within(&self, limit: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let flushed = async { self.queue.send(Command::Flush(done)).await.is_ok() && wait.await.is_ok() };
        tokio::time::timeout(limit, flushed).await.unwrap_or(false)
    }

    pub async fn flush(&self) {
        self.flush_within(Duration::from_secs(120)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_counts_once_an_hour_across_rotations() {
        let mut seen = Seen::default();
        let key = (AffiliateId(1), 42);
        let t0 = 10 * WINDOW_MS;
        assert!(seen.first_within_hour(key, t0).0);
        assert!(!seen.first_within_hour(key, t0 + WINDOW_MS - 1).0, "59:59 later is a repeat");
        // Another affiliate's link is another count.
        assert!(seen.first_within_hour((AffiliateId(2), 42), t0 + 10).0);
        assert!(seen.first_within_hour(key, t0 + WINDOW_MS).0, "an hour later counts again");
        // A rotation keeps the previous generation, so the window stays exact.
        let mut seen = Seen::default();
        assert!(seen.first_within_hour(key, t0).0);
        let (_, dropped) = seen.first_within_hour((AffiliateId(3), 1), t0 + WINDOW_MS - 5);
        assert!(dropped.is_none());
        assert!(!seen.first_within_hour(key, t0 + WINDOW_MS - 1).0);
    }
}
