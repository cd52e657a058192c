//! Free text from forms: trimmed, NFC-normalised, bounded, and free of control characters.

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    #[error("This field is required.")]
    Empty,
    #[error("Keep this under {max} characters (it has {len}).")]
    TooLong { max: usize, len: usize },
    #[error("This field contains characters that can't be used here.")]
    ControlCharacter,
}

/// Trims and NFC-normalises `raw`; `multiline` allows line breaks and tabs. Empty input is `Ok(None)`.
pub fn clean(raw: &str, max: usize, multiline: bool) -> Result<Option<String>, TextError> {
    let text: String = raw.trim().nfc().collect();
    if text.is_empty() {
        return Ok(None);
    }
    let forbidden = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if text.chars().any(forbidden) {
        return Err(TextError::ControlCharacter);
    }
    let len = text.chars().count();
    if len > max {
        return Err(TextError::TooLong { max, len });
    }
    Ok(Some(text.replace("\r\n", "\n")))
}

/// Like [`clean`] but the field must not be empty.
pub fn required(raw: &str, max: usize, multiline: bool) -> Result<String, TextError> {
    clean(raw, max, multiline)?.ok_or(TextError::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_inner_text() {
        assert_eq!(clean("  hi there ", 20, false), Ok(Some("hi there".into())));
        assert_eq!(clean("   ", 20, false), Ok(None));
        assert_eq!(required(" ", 20, false), Err(TextError::Empty));
    }

    #[test]
    fn rejects_control_characters_unless_multiline() {
        assert_eq!(clean("a\u{0}b", 20, true), Err(TextError::ControlCharacter));
        assert_eq!(clean("a\nb", 20, false), Err(TextError::ControlCharacter));
        assert_eq!(clean("a\r\nb", 20, true), Ok(Some("a\nb".into())));
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(clean("ééééé", 5, false).is_ok());
        assert_eq!(clean("ééééé", 4, false), Err(TextError::TooLong { max: 4, len: 5 }));
    }
}
