//! Secrets at rest (Klaviyo private keys): AES-256-GCM with a fresh random nonce per seal, and
//! associated data that binds a sealed value to its owner, so a sealed key copied onto another
//! merchant's row does not open.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed secret could not be opened (wrong key file, or the value was altered)")]
pub struct OpenError;

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)) }
    }

    /// `version || nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &str, owner: &str) -> anyhow::Result<Vec<u8>> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: owner.as_bytes() })
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], owner: &str) -> Result<String, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: owner.as_bytes() })
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_owner_or_key() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal("pk_secret", "merchant:1").expect("seals");
        assert!(!sealed.windows(9).any(|w| w == b"pk_secret"), "the plaintext must not appear");
        assert_eq!(sealer.open(&sealed, "merchant:1").expect("opens"), "pk_secret");
        assert!(sealer.open(&sealed, "merchant:2").is_err());
        assert!(Sealer::new(&[8; 32]).open(&sealed, "merchant:1").is_err());
        let again = sealer.seal("pk_secret", "merchant:1").expect("seals");
        assert_ne!(sealed, again, "a fresh nonce each time");
    }
}
