//! Attribution: which affiliate an order belongs to, from the clicks the shop's snippet remembered.
//!
//! The snippet keeps the first and the last touch (code and time) in one first-party cookie and hands
//! them to the order (Shopify cart attributes, or the store's own call to the conversion API). The
//! campaign's model picks one and its cookie window decides whether it still counts; both are
//! checked here, on the server, so a stale cookie or a hand-edited attribute never earns.

use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 86_400_000;
/// A touch string longer than this is not the snippet's: ignore it rather than parse it.
const MAX_TOUCHES_LEN: usize = 300;

/// Which click wins when a visitor followed several affiliates' links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Attribution {
    #[default]
    Last,
    First,
}

impl Attribution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Last => "last",
            Self::First => "first",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "last" => Some(Self::Last),
            "first" => Some(Self::First),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Last => "Last click",
            Self::First => "First click",
        }
    }
}

/// One remembered click: a referral code and when it was followed (unix ms). `at` is `None` when
/// the code came without a time (a landing URL's `?ref=`): it counts as a click at order time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub code: String,
    pub at: Option<i64>,
}

/// The first and last touches, as the snippet writes them: `code1.ms1|code2.ms2` (first, then last;
/// one entry when both are the same click).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Touches {
    pub first: Option<Touch>,
    pub last: Option<Touch>,
}

impl Touches {
    /// Parses the snippet's value; anything malformed is dropped, never guessed at.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_TOUCHES_LEN {
            return Self::default();
        }
        let touches: Vec<Touch> = raw.split('|').filter_map(parse_touch).take(2).collect();
        let first = touches.first().cloned();
        let last = touches.last().cloned();
        Self { first, last }
    }

    /// A single code with no time, such as the `ref` in a landing URL.
    pub fn code(code: &str) -> Self {
        let touch = valid_code(code).then(|| Touch { code: code.to_owned(), at: None });
        Self { first: touch.clone(), last: touch }
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// Adds what another source knows: the cookie's touches win; a bare code fills gaps.
    pub fn or(self, other: Self) -> Self {
        Self { first: self.first.or(other.first), last: self.last.or(other.last) }
    }
}

fn parse_touch(part: &str) -> Option<Touch> {
    let (code, at) = match part.rsplit_once('.') {
        Some((code, at)) => (code, Some(at.parse::<i64>().ok().filter(|t| *t > 0)?)),
        None => (part, None),
    };
    valid_code(code).then(|| Touch { code: code.to_owned(), at })
}

fn valid_code(code: &str) -> bool {
    (2..=64).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What the resolver knows about the affiliate behind a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeTerms {
    pub attribution: Attribution,
    pub cookie_days: u16,
}

/// Picks the touch that earns the order placed at `order_at`, given each code's campaign terms
/// (`None` for a code no approved affiliate holds). The last touch's campaign decides the model;
/// under first click the first touch wins if it is still inside its own window, otherwise the
/// last touch is used. A touch outside its window earns nothing.
pub fn attribute(touches: &Touches, order_at: i64, terms: impl Fn(&str) -> Option<CodeTerms>) -> Option<&Touch> {
    let within = |touch: &Touch, terms: CodeTerms| {
        touch.at.is_none_or(|at| order_at.saturating_sub(at) <= i64::from(terms.cookie_days) * DAY_MS)
    };
    let last = touches.last.as_ref()?;
    let last_terms = terms(&last.code);
    if last_terms.is_some_and(|t| t.attribution == Attribution::First) {
        if let Some(first) = touches.first.as_ref() {
            if let Some(first_terms) = terms(&first.code) {
                if within(first, first_terms) {
                    return Some(first);
                }
            }
        }
    }
    last_terms.filter(|t| within(last, *t)).map(|_| last)
}

/// Where a click came from, for the merchant's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
    Other,
}

impl Device {
    pub fn from_user_agent(ua: &str) -> Self {
        // Case-insensitive without allocating: this runs on every tracking-link click.
        let has = |needle: &str| ua.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
        if has("mobi") || has("android") || has("iphone") || has("ipad") {
            Self::Mobile
        } else if has("windows") || has("macintosh") || has("x11") || has("cros") {
            Self::Desktop
        } else {
            Self::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAST_30: CodeTerms = CodeTerms { attribution: Attribution::Last, cookie_days: 30 };
    const FIRST_30: CodeTerms = CodeTerms { attribution: Attribution::First, cookie_days: 30 };

    fn touches(raw: &str) -> Touches {
        Touches::parse(raw)
    }

    #[test]
    fn parses_the_snippet_value_and_drops_junk() {
        let t = touches("ana-7k2q.1000|bob.2000");
        assert_eq!(t.first, Some(Touch { code: "ana-7k2q".into(), at: Some(1000) }));
        assert_eq!(t.last, Some(Touch { code: "bob".into(), at: Some(2000) }));
        assert_eq!(touches("ana.1000").first, touches("ana.1000").last);
        assert!(touches("").is_empty());
        assert!(touches("<script>.1").is_empty());
        assert!(touches("ana.-5").is_empty());
        assert!(touches(&"a".repeat(400)).is_empty());
        assert_eq!(Touches::code("ana").last.map(|t| t.at), Some(None));
        assert!(Touches::code("a b").is_empty());
    }

    #[test]
    fn last_click_wins_by_default() {
        let t = touches("ana.1000|bob.2000");
        let won = attribute(&t, 3000, |_| Some(LAST_30));
        assert_eq!(won.map(|t| t.code.as_str()), Some("bob"));
    }

    #[test]
    fn first_click_campaigns_credit_the_first_touch() {
        let t = touches("ana.1000|bob.2000");
        let won = attribute(&t, 3000, |_| Some(FIRST_30));
        assert_eq!(won.map(|t| t.code.as_str()), Some("ana"));
        // The first touch's affiliate is gone: the last touch still earns.
        let won = attribute(&t, 3000, |c| (c == "bob").then_some(FIRST_30));
        assert_eq!(won.map(|t| t.code.as_str()), Some("bob"));
    }

    #[test]
    fn a_touch_outside_its_cookie_window_earns_nothing() {
        let clicked = 1_000;
        let t = touches(&format!("ana.{clicked}"));
        let on_day_30 = clicked + 30 * DAY_MS;
        assert!(attribute(&t, on_day_30, |_| Some(LAST_30)).is_some());
        assert!(attribute(&t, on_day_30 + 1, |_| Some(LAST_30)).is_none());
        // First click past its window falls back to a last touch that is still inside its own.
        let t = touches(&format!("ana.{clicked}|bob.{on_day_30}"));
        let won = attribute(&t, on_day_30 + 1, |_| Some(FIRST_30));
        assert_eq!(won.map(|t| t.code.as_str()), Some("bob"));
    }

    #[test]
    fn unknown_codes_earn_nothing() {
        assert!(attribute(&touches("ana.1"), 2, |_| None).is_none());
    }

    #[test]
    fn devices_are_classed_by_user_agent() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
        assert_eq!(Device::from_user_agent(iphone), Device::Mobile);
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120 Safari/537.36";
        assert_eq!(Device::from_user_agent(mac), Device::Desktop);
    }
}
