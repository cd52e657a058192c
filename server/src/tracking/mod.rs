//! Tracking links in memory: the codes that are being clicked (so a redirect for a known code never
//! waits on the database), the visitors counted in the last hour, and the queue the click writer
//! drains in batches off the request path.

pub mod writer;

use crate::store::tracking::{CodeRow, NewClick};
use crate::store::{Db, DbError};
use app::domain::campaign::CommissionRule;
use app::domain::tracking::{Attribution, CodeTerms, Device};
use app::domain::{AffiliateId, CampaignId, Currency, MerchantId, Money, Rate};
use hmac::{Hmac, Mac};
use moka::sync::Cache;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a code's row is trusted before it is read again: another instance (or the merchant)
/// may have changed the affiliate or the campaign.
const CODE_TTL: Duration = Duration::from_secs(60);
/// Repeat clicks from one visitor on one affiliate's link within this window count once.
const REPEAT_WINDOW: Duration = Duration::from_secs(3_600);
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
    /// The shop address with `ref={code}` added; `None` when the campaign has no shop address.
    pub redirect: Option<String>,
    /// The shop address as the merchant typed it.
    pub destination: Option<String>,
    pub terms: CodeTerms,
    pub rule: Option<CommissionRule>,
    pub hold_days: i64,
}

impl Code {
    pub fn from_row(row: CodeRow) -> Self {
        let redirect = row.destination_url.as_deref().and_then(|d| with_ref(d, &row.referral_code));
        let currency = Currency::parse(&row.currency).ok();
        let rule = match (row.rate_bps, row.rate_minor, row.commission_kind.as_str()) {
            (Some(bps), _, _) => {
                u32::try_from(bps).ok().and_then(|b| Rate::from_basis_points(b).ok()).map(CommissionRule::Percent)
            }
            (None, Some(minor), _) => currency.map(|c| CommissionRule::Flat(Money::new(minor, c))),
            (None, None, "percent") => row
                .commission_bps
                .and_then(|b| u32::try_from(b).ok())
                .and_then(|b| Rate::from_basis_points(b).ok())
                .map(CommissionRule::Percent),
            (None, None, _) => currency.zip(row.commission_minor).map(|(c, m)| CommissionRule::Flat(Money::new(m, c))),
        };
        Self {
            affiliate: row.affiliate_id,
            merchant: row.merchant_id,
            campaign: row.campaign_id,
            approved: row.state == "approved",
            email: row.email,
            redirect,
            destination: row.destination_url,
            terms: CodeTerms {
                attribution: Attribution::parse(&row.attribution).unwrap_or_default(),
                cookie_days: u16::try_from(row.cookie_days).unwrap_or(30),
            },
            rule,
            hold_days: row.hold_days,
            code: row.referral_code,
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
    seen: Cache<(AffiliateId, String), ()>,
    queue: mpsc::Sender<Command>,
    visitor_key: [u8; 32],
    bots: Arc<isbot::Bots>,
}

type HmacSha256 = Hmac<Sha256>;

/// Who clicked: an id, and the `rk_v` cookie value to set when the request brought none valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub id: String,
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
        let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(b"rekomi:visitors:v1");
        let mut visitor_key = [0u8; 32];
        visitor_key.copy_from_slice(&mac.finalize().into_bytes());
        let tracker = Self {
            codes: Cache::builder().max_capacity(200_000).time_to_live(CODE_TTL).build(),
            seen: Cache::builder().max_capacity(2_000_000).time_to_live(REPEAT_WINDOW).build(),
            queue,
            visitor_key,
            bots: Arc::new(isbot::Bots::default()),
            db: db.clone(),
        };
        (tracker, writer::Writer::new(db, receiver))
    }

    /// The code's affiliate, from memory when it was looked up in the last minute.
    pub async fn code(&self, code: &str) -> Result<Option<Arc<Code>>, DbError> {
        let key = code.to_ascii_lowercase();
        if let Some(found) = self.codes.get(&key) {
            return Ok(found);
        }
        let found = crate::store::tracking::by_code(&self.db, code).await?.map(|row| Arc::new(Code::from_row(row)));
        self.codes.insert(key, found.clone());
        Ok(found)
    }

    /// Drops a code from memory after a change on this instance (approval, new code, new terms).
    pub fn forget_all(&self) {
        self.codes.invalidate_all();
    }

    pub fn is_bot(&self, user_agent: &str) -> bool {
        user_agent.trim().is_empty() || self.bots.is_bot(user_agent)
    }

    /// The visitor: the id in the `rk_v` cookie when it carries our tag (so made-up cookies can't
    /// pass for new visitors), else one derived from the address and browser, so a visitor who
    /// refuses cookies still counts once an hour. `cookie` is what to set when none valid came.
    pub fn visitor(&self, cookie: Option<&str>, ip: std::net::IpAddr, user_agent: &str) -> Visitor {
        if let Some((id, tag)) = cookie.and_then(|c| c.split_once('.')) {
            if id.len() == 32 && self.tag(id) == tag {
                return Visitor { id: id.to_owned(), cookie: None };
            }
        }
        let id = self.keyed(format!("{ip}|{user_agent}").as_bytes());
        let cookie = Some(format!("{id}.{}", self.tag(&id)));
        Visitor { id, cookie }
    }

    fn tag(&self, id: &str) -> String {
        self.keyed(format!("cookie|{id}").as_bytes())[..16].to_owned()
    }

    /// A valid `rk_v` cookie value for a given visitor id (load tests).
    pub fn cookie_for(&self, id: &str) -> String {
        format!("{id}.{}", self.tag(id))
    }

    fn keyed(&self, data: &[u8]) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.visitor_key).expect("HMAC takes a key of any length");
        mac.update(data);
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Counts a click unless it is a bot's or a repeat; never waits on the database.
    pub fn click(&self, code: &Code, visitor_id: &str, user_agent: &str, now: i64) -> Counted {
        if !code.approved {
            return Counted::NotEarning;
        }
        if self.is_bot(user_agent) {
            return Counted::Bot;
        }
        // Stored keyed again, so the cookie value itself is never in the database.
        let visitor = self.keyed(visitor_id.as_bytes());
        let entry = self.seen.entry((code.affiliate, visitor.clone())).or_insert(());
        if !entry.is_fresh() {
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
