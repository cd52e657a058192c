//! A new password's rules (NIST 800-63B: length, not composition).

use thiserror::Error;

pub const MIN_PASSWORD: usize = 10;
/// Bounds the hashing cost an attacker can make us pay per request.
pub const MAX_PASSWORD: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("Use at least {MIN_PASSWORD} characters.")]
    TooShort,
    #[error("Use at most {MAX_PASSWORD} characters.")]
    TooLong,
}

/// Checks a password chosen at sign-up.
pub fn check_new_password(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        Err(PasswordError::TooShort)
    } else if len > MAX_PASSWORD {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}
