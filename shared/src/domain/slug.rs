//! URL slugs for merchants and campaigns: `/join/{merchant}/{campaign}`.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

pub const MIN_SLUG: usize = 2;
pub const MAX_SLUG: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlugError {
    #[error("Enter a web address name.")]
    Empty,
    #[error("Use between {MIN_SLUG} and {MAX_SLUG} characters.")]
    Length,
    #[error("Use lower-case letters a–z, digits and single hyphens, not at the start or end.")]
    Characters,
    #[error("That name is reserved; pick another.")]
    Reserved,
}

/// Lower-case ASCII letters, digits and single inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        let slug = raw.trim().to_lowercase();
        if slug.is_empty() {
            return Err(SlugError::Empty);
        }
        if !(MIN_SLUG..=MAX_SLUG).contains(&slug.len()) {
            return Err(SlugError::Length);
        }
        let valid_chars = slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_chars || slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
            return Err(SlugError::Characters);
        }
        if ["new", "edit", "api", "admin", "app"].contains(&slug.as_str()) {
            return Err(SlugError::Reserved);
        }
        Ok(Self(slug))
    }

    /// Derives a slug from a display name ("Café Olé Summer 2026" → "cafe-ole-summer-2026").
    /// Accents are folded to ASCII; other scripts drop out, so the result can be empty (`None`).
    pub fn from_name(name: &str) -> Option<Self> {
        let mut slug = String::new();
        for c in name.nfkd().filter(|c| c.is_ascii()) {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let mut slug = slug.trim_end_matches('-').to_owned();
        slug.truncate(MAX_SLUG);
        let slug = slug.trim_end_matches('-');
        Self::parse(slug).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = SlugError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_from_names() {
        let slug = |s: &str| Slug::from_name(s).map(|s| s.0);
        assert_eq!(slug("Café Olé Summer 2026"), Some("cafe-ole-summer-2026".into()));
        assert_eq!(slug("  Ana's   Shop!! "), Some("ana-s-shop".into()));
        assert_eq!(slug("東京"), None);
        assert_eq!(slug(&"ab ".repeat(40)).map(|s| s.len() <= MAX_SLUG), Some(true));
    }

    #[test]
    fn rejects_bad_slugs() {
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
        assert_eq!(Slug::parse("a"), Err(SlugError::Length));
        assert_eq!(Slug::parse("-ab"), Err(SlugError::Characters));
        assert_eq!(Slug::parse("a--b"), Err(SlugError::Characters));
        assert_eq!(Slug::parse("a b"), Err(SlugError::Characters));
        assert_eq!(Slug::parse("new"), Err(SlugError::Reserved));
        assert_eq!(Slug::parse(" Spring-Sale ").map(|s| s.0), Ok("spring-sale".into()));
    }
}
