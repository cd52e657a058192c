//! An email address, parsed and normalised once at the boundary.
//!
//! Normalisation: trimmed, NFC, and lower-cased as a whole. RFC 5321 lets the local part be
//! case-sensitive, but no mailbox provider a shop's affiliates use treats it so, and Klaviyo itself
//! matches profiles case-insensitively; lower-casing is what makes (merchant, email) unique in practice.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("An email address is at most 254 characters.")]
    TooLong,
    #[error("An email address has one @ between a name and a domain, like ana@example.com.")]
    Shape,
    #[error("An email address can't contain spaces.")]
    Whitespace,
    #[error("The part before the @ is not valid.")]
    LocalPart,
    #[error("The domain after the @ is not valid, like example.com.")]
    Domain,
}

/// A normalised, syntactically valid email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let address: String = raw.trim().nfc().collect::<String>().to_lowercase();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        if address.chars().any(|c| c.is_whitespace()) {
            return Err(EmailError::Whitespace);
        }
        let (local, domain) = match address.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => (local, domain),
            _ => return Err(EmailError::Shape),
        };
        if !valid_local(local) {
            return Err(EmailError::LocalPart);
        }
        if !valid_domain(domain) {
            return Err(EmailError::Domain);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// Dot-atom local part (RFC 5322 atext plus UTF-8 per RFC 6531); quoted local parts are refused on
/// purpose: no shop's affiliate has one, and Klaviyo rejects many of them.
fn valid_local(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";
    local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || SPECIALS.contains(c) || (!c.is_ascii() && !c.is_control()))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()))
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(Email::parse("  Ana.Silva@Example.COM ").map(|e| e.0), Ok("ana.silva@example.com".into()));
    }

    #[test]
    fn accepts_common_shapes() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org", "o'neil@example.ie", "zoë@exämple.de", "x_y-z@a-b.io"]
        {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_with_a_specific_reason() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("ana", EmailError::Shape),
            ("@example.com", EmailError::Shape),
            ("ana@", EmailError::Shape),
            ("ana silva@example.com", EmailError::Whitespace),
            (".ana@example.com", EmailError::LocalPart),
            ("ana..s@example.com", EmailError::LocalPart),
            ("a(b)@example.com", EmailError::LocalPart),
            ("ana@example", EmailError::Domain),
            ("ana@-example.com", EmailError::Domain),
            ("ana@example..com", EmailError::Domain),
            ("ana@example.c", EmailError::Domain),
            ("ana@1.2.3.4", EmailError::Domain),
        ];
        for (input, expected) in cases {
            assert_eq!(Email::parse(input), Err(expected), "{input:?}");
        }
        assert_eq!(Email::parse(&format!("{}@example.com", "a".repeat(250))), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(local in "[a-zA-Z0-9._%+-]{1,30}", domain in "[a-zA-Z0-9-]{1,20}\\.[a-zA-Z]{2,6}") {
            if let Ok(email) = Email::parse(&format!("{local}@{domain}")) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                prop_assert_eq!(email.as_str().to_lowercase(), email.as_str());
            }
        }

        #[test]
        fn never_panics(input in "\\PC{0,80}") {
            let _ = Email::parse(&input);
        }
    }
}
