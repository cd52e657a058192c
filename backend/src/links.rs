//! Signed links (invites): the token names an invite, its expiry and a nonce, with an HMAC-SHA256 of
//! them under a key derived from the server's secret. A forged or altered token fails before any
//! database read; the nonce lets a resend or a revocation retire older links.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a token: 128 bits is beyond guessing and keeps links short.
const MAC_BYTES: usize = 16;

#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteToken {
    pub invite_id: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub nonce: String,
}

impl LinkSigner {
    /// Derives the signing key from the server's secret, so the same secret never serves two purposes.
    pub fn new(secret: &[u8; 32]) -> Self {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(b"rekomi:invite-links:v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        Self { key }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(payload.as_bytes());
        mac
    }

    /// `{id}.{expires_at}.{nonce}.{mac}`: URL-safe as it is.
    pub fn sign(&self, token: &InviteToken) -> String {
        let payload = format!("{}.{}.{}", token.invite_id, token.expires_at, token.nonce);
        let tag = self.mac(&payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]))
    }

    /// The token's content if its MAC is right (in constant time). Expiry is the caller's check, so it
    /// can say "expired" rather than "invalid".
    pub fn verify(&self, raw: &str) -> Option<InviteToken> {
        let raw = raw.trim();
        if raw.len() > 200 {
            return None;
        }
        let (payload, tag) = raw.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != MAC_BYTES {
            return None;
        }
        self.mac(payload).verify_truncated_left(&tag).ok()?;
        let mut parts = payload.splitn(3, '.');
        let invite_id = parts.next()?.parse().ok()?;
        let expires_at = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_owned();
        Some(InviteToken { invite_id, expires_at, nonce })
    }
}

/// A fresh nonce for a new or resent link.
pub fn nonce() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(16).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_and_any_change_breaks_it() {
        let signer = LinkSigner::new(&[7; 32]);
        let token = InviteToken { invite_id: 42, expires_at: 1_900_000_000_000, nonce: "abcDEF123".into() };
        let signed = signer.sign(&token);
        assert_eq!(signer.verify(&signed), Some(token));
        assert_eq!(signer.verify(&signed.replacen("42.", "43.", 1)), None);
        assert_eq!(signer.verify(&signed.replacen("1900", "1999", 1)), None);
        assert_eq!(LinkSigner::new(&[8; 32]).verify(&signed), None);
        assert_eq!(signer.verify("garbage"), None);
        assert_eq!(signer.verify(""), None);
    }
}
