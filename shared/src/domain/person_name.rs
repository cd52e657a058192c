//! A person's full name and the first/last split Klaviyo profiles need.
//!
//! The split rule, in order:
//! 1. Trim, NFC-normalise and collapse runs of white space to one space; keep the casing as typed.
//! 2. One word: it is the first name and there is no last name ("Prince").
//! 3. A generational suffix (Jr, Sr, II, III, IV, with or without a dot or comma) stays with the
//!    word before it as part of the last name ("Martin Luther King Jr." → "Martin Luther" / "King Jr.").
//! 4. Otherwise the last name starts at the first lower-case surname particle (van, von, der, de,
//!    da, di, du, la, le, del, della, dos, das, bin, ibn, al, ter, ten, …) that follows the first word
//!    ("Ludwig van der Rohe" → "Ludwig" / "van der Rohe"); capitalised "Van" is taken as a particle
//!    only when another word follows it.
//! 5. Failing that, the last word is the last name and everything before it the first name
//!    ("Mary Ann Smith" → "Mary Ann" / "Smith"). Hyphenated words are never split.
//!
//! It is a heuristic, and names are not universal, so the full name is always kept alongside.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "da", "di", "du", "la", "le", "del", "della", "dei", "des", "dos", "das", "do",
    "bin", "ibn", "al", "el", "ter", "ten", "zu", "af", "av", "y", "st.", "saint", "mac", "ó", "ua", "van't", "d'",
];
const SUFFIXES: &[&str] = &["jr", "jr.", "sr", "sr.", "ii", "iii", "iv"];
pub const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("Enter your full name.")]
    Empty,
    #[error("A name is at most {MAX_NAME_CHARS} characters.")]
    TooLong,
    #[error("A name needs at least one letter.")]
    NoLetters,
    #[error("A name can't contain control characters or symbols like < > @.")]
    InvalidCharacter,
}

/// A validated full name with its split parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    full: String,
    first: String,
    last: Option<String>,
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let normalised: String = raw.nfc().collect();
        let words: Vec<&str> = normalised.split_whitespace().collect();
        if words.is_empty() {
            return Err(NameError::Empty);
        }
        let full = words.join(" ");
        if full.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        if full.chars().any(|c| c.is_control() || "<>@{}[]\\|=;".contains(c)) {
            return Err(NameError::InvalidCharacter);
        }
        if !full.chars().any(char::is_alphabetic) {
            return Err(NameError::NoLetters);
        }
        let split = split_at(&words);
        let (first, last) = if split == 0 || split >= words.len() {
            (full.clone(), None)
        } else {
            (words[..split].join(" "), Some(words[split..].join(" ")))
        };
        Ok(Self { full, first, last })
    }

    /// Rebuilds a name stored as parts (from an import with separate columns, or a row).
    pub fn from_parts(first: &str, last: Option<&str>) -> Result<Self, NameError> {
        let first = Self::parse(first)?;
        match last.map(str::trim).filter(|l| !l.is_empty()) {
            None => Ok(Self { last: None, ..first }),
            Some(last) => {
                let last = Self::parse(last)?;
                let full = format!("{} {}", first.full, last.full);
                if full.chars().count() > MAX_NAME_CHARS {
                    return Err(NameError::TooLong);
                }
                Ok(Self { full, first: first.full, last: Some(last.full) })
            }
        }
    }

    pub fn full(&self) -> &str {
        &self.full
    }

    pub fn first(&self) -> &str {
        &self.first
    }

    pub fn last(&self) -> Option<&str> {
        self.last.as_deref()
    }
}

/// Index of the first word of the last name.
fn split_at(words: &[&str]) -> usize {
    let n = words.len();
    if n < 2 {
        return n;
    }
    let is_suffix = |w: &str| SUFFIXES.contains(&w.trim_end_matches(',').to_lowercase().as_str());
    // Words that make up the surname core (suffixes ride along with the word before them).
    let mut core_end = n;
    while core_end > 1 && is_suffix(words[core_end - 1]) {
        core_end -= 1;
    }
    if core_end < 2 {
        return n;
    }
    let particle_start = (1..core_end - 1).find(|&i| {
        let w = words[i];
        let lower = w.to_lowercase();
        let listed = PARTICLES.contains(&lower.as_str()) || lower.starts_with("d'");
        listed && (w.chars().next().is_some_and(char::is_lowercase) || i + 1 < core_end)
    });
    particle_start.unwrap_or(core_end - 1)
}

impl std::fmt::Display for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_by_the_documented_rule() {
        let table: &[(&str, &str, Option<&str>)] = &[
            ("Ana", "Ana", None),
            ("Prince", "Prince", None),
            ("Ana Silva", "Ana", Some("Silva")),
            ("  ana    silva  ", "ana", Some("silva")),
            ("Mary Ann Smith", "Mary Ann", Some("Smith")),
            ("Ludwig van der Rohe", "Ludwig", Some("van der Rohe")),
            ("Vincent van Gogh", "Vincent", Some("van Gogh")),
            ("Oscar de la Hoya", "Oscar", Some("de la Hoya")),
            ("Ursula von der Leyen", "Ursula", Some("von der Leyen")),
            ("Dick Van Dyke", "Dick", Some("Van Dyke")),
            ("Leonardo da Vinci", "Leonardo", Some("da Vinci")),
            ("Jean-Luc Picard", "Jean-Luc", Some("Picard")),
            ("Anna-Maria Müller-Lüdenscheidt", "Anna-Maria", Some("Müller-Lüdenscheidt")),
            ("José María García", "José María", Some("García")),
            ("Zoë Ørsted", "Zoë", Some("Ørsted")),
            ("Martin Luther King Jr.", "Martin Luther", Some("King Jr.")),
            ("Sammy Davis, Jr.", "Sammy", Some("Davis, Jr.")),
            ("Henry VIII", "Henry", Some("VIII")),
            ("John Smith III", "John", Some("Smith III")),
            ("Mohammed bin Salman", "Mohammed", Some("bin Salman")),
            ("Mary van", "Mary", Some("van")),
            ("山田 太郎", "山田", Some("太郎")),
            ("Björk", "Björk", None),
            ("O'Neil Brown", "O'Neil", Some("Brown")),
        ];
        for (input, first, last) in table {
            let name = PersonName::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((name.first(), name.last()), (*first, *last), "{input}");
        }
    }

    #[test]
    fn collapses_white_space_in_the_full_name() {
        assert_eq!(PersonName::parse(" Ana \t  Silva\n").map(|n| n.full), Ok("Ana Silva".into()));
    }

    #[test]
    fn normalises_unicode_to_nfc() {
        let decomposed = "Zoe\u{308} Smith";
        assert_eq!(PersonName::parse(decomposed).map(|n| n.first), Ok("Zoë".into()));
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(PersonName::parse("   "), Err(NameError::Empty));
        assert_eq!(PersonName::parse("1234"), Err(NameError::NoLetters));
        assert_eq!(PersonName::parse("<script>"), Err(NameError::InvalidCharacter));
        assert_eq!(PersonName::parse(&"a".repeat(201)), Err(NameError::TooLong));
    }

    #[test]
    fn from_parts_joins_first_and_last() {
        let name = PersonName::from_parts(" Ana ", Some(" van  Dijk ")).expect("valid");
        assert_eq!((name.full(), name.first(), name.last()), ("Ana van Dijk", "Ana", Some("van Dijk")));
        assert_eq!(PersonName::from_parts("Ana", Some("  ")).map(|n| n.last), Ok(None));
    }

    proptest! {
        #[test]
        fn first_and_last_rebuild_the_full_name(input in "[A-Za-zé' -]{1,60}") {
            if let Ok(name) = PersonName::parse(&input) {
                let rebuilt = match name.last() {
                    Some(last) => format!("{} {}", name.first(), last),
                    None => name.first().to_owned(),
                };
                prop_assert_eq!(rebuilt, name.full());
            }
        }
    }
}
