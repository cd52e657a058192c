//! Merchant accounts: sign-up, log-in with argon2id, and server-side sessions in the database.

use super::rate_limit::IpRateLimiter;
use crate::store::accounts::{self as store, SessionRow};
use crate::store::{now_ms, Db};
use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::domain::password::check_new_password;
use shared::domain::text::required;
use shared::domain::{Email, FieldErrors, MerchantId, Slug, UserId};
use shared::error::{AppError, ErrorKind};
use shared::views::SessionView;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

pub const SESSION_COOKIE: &str = "rekomi_session";
/// Argon2 runs at most this many at once (19 MiB each), so a burst of log-ins waits in line
/// instead of exhausting memory.
const CONCURRENT_HASHES: usize = 4;
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_HASHES);
const SESSION_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid sign-up")]
    Invalid(FieldErrors),
    #[error("email already registered")]
    EmailTaken,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<AccountError> for AppError {
    fn from(value: AccountError) -> Self {
        match value {
            AccountError::Invalid(fields) => AppError::invalid(fields),
            AccountError::EmailTaken => {
                AppError::field("email", "An account with this email already exists. Log in instead.")
            }
            AccountError::BadCredentials => AppError::new(ErrorKind::Unauthorized, "Email or password is incorrect."),
            AccountError::RateLimited(secs) => AppError::rate_limited(secs),
            AccountError::Internal(e) => super::internal(&e),
        }
    }
}

/// The caller's address as the server resolved it (socket peer, or a trusted proxy's header); the
/// HTTP layer puts it in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// A signed-in user, resolved from the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub session: SessionView,
    pub user_id: UserId,
}

impl SignedIn {
    pub fn merchant(&self) -> MerchantId {
        self.session.merchant_id
    }

    /// Who changes are recorded against in the audit trail.
    pub fn actor(&self) -> &str {
        &self.session.user_email
    }
}

/// A session just created: the raw token goes into the cookie, only its hash into the database.
pub struct IssuedSession {
    pub view: SessionView,
    pub token: String,
}

#[derive(Clone)]
pub struct Accounts {
    db: Db,
    limiter: Arc<IpRateLimiter>,
    secure_cookies: bool,
}

impl Accounts {
    pub fn new(db: Db, limiter: Arc<IpRateLimiter>, secure_cookies: bool) -> Self {
        Self { db, limiter, secure_cookies }
    }

    pub fn limiter(&self) -> &IpRateLimiter {
        &self.limiter
    }

    #[tracing::instrument(skip_all)]
    pub async fn sign_up(
        &self,
        shop_name: &str,
        email: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<IssuedSession, AccountError> {
        self.limiter.check(ip).map_err(AccountError::RateLimited)?;
        let mut errors = FieldErrors::new();
        let shop_name = errors.check("shop_name", required(shop_name, 80, false));
        let email = errors.check("email", Email::parse(email));
        errors.check("password", check_new_password(password));
        let (Some(shop_name), Some(email)) = (shop_name, email) else {
            return Err(AccountError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let hash = hash_password(password.to_owned()).await?;
        let stem = Slug::from_name(&shop_name).map(String::from).unwrap_or_else(|| "shop".into());
        let mut slug_candidates = vec![stem.clone()];
        slug_candidates.extend((2..10).map(|n| format!("{stem}-{n}")));
        slug_candidates.push(format!("{stem}-{}", random_suffix(6)));
        let token = new_token();
        let now = now_ms();
        // The merchant, its first user and a session commit together: nothing is written when the
        // email is taken.
        let mut tx = self.db.begin().await.context("creating the account")?;
        let mut merchant = None;
        for slug in &slug_candidates {
            merchant = store::insert_merchant(&mut tx, &shop_name, slug, now).await.context("creating the merchant")?;
            if merchant.is_some() {
                break;
            }
        }
        let merchant = merchant.context("every web address tried for the shop is taken")?;
        let user = store::insert_user(&mut tx, merchant, email.as_str(), &hash, now).await;
        let user = match user {
            Ok(Some(user)) => user,
            Ok(None) => return Err(AccountError::EmailTaken),
            Err(e) if e.is_conflict_on("users_email_key", "users.email") => return Err(AccountError::EmailTaken),
            Err(e) => return Err(anyhow::Error::from(e).context("creating the user").into()),
        };
        store::insert_session(&mut tx, &token_hash(&token), user, now, now + SESSION_DAYS * 86_400_000)
            .await
            .context("opening the first session")?;
        tx.commit().await.context("creating the account")?;
        let view = self.session_for(&token).await?.context("the new session was not found")?;
        tracing::info!(merchant.slug = %view.merchant_slug, "merchant signed up");
        Ok(IssuedSession { view, token })
    }

    #[tracing::instrument(skip_all)]
    pub async fn log_in(&self, email: &str, password: &str, ip: IpAddr) -> Result<IssuedSession, AccountError> {
        self.limiter.check(ip).map_err(AccountError::RateLimited)?;
        // A malformed email can't have an account; still spend the hashing time below so the
        // answer's timing doesn't tell which emails exist.
        let credentials = match Email::parse(email) {
            Ok(email) => store::credentials(&self.db, email.as_str()).await.map_err(anyhow::Error::from)?,
            Err(_) => None,
        };
        let stored_hash =
            credentials.as_ref().map(|c| c.password_hash.clone()).unwrap_or_else(|| dummy_hash().to_owned());
        let valid = verify_password(password.to_owned(), stored_hash).await?;
        let Some(user) = credentials.filter(|_| valid) else {
            return Err(AccountError::BadCredentials);
        };
        let token = new_token();
        let now = now_ms();
        let mut tx = self.db.begin().await.context("opening a session")?;
        store::insert_session(&mut tx, &token_hash(&token), user.id, now, now + SESSION_DAYS * 86_400_000)
            .await
            .context("opening a session")?;
        tx.commit().await.context("opening a session")?;
        let view = self.session_for(&token).await?.context("the new session was not found")?;
        Ok(IssuedSession { view, token })
    }

    /// The live session for a raw token.
    pub async fn session_for(&self, token: &str) -> Result<Option<SessionView>, anyhow::Error> {
        Ok(self.lookup(token).await?.map(|row| session_view(&row)))
    }

    pub async fn lookup(&self, token: &str) -> Result<Option<SessionRow>, anyhow::Error> {
        Ok(store::live_session(&self.db, &token_hash(token), now_ms()).await?)
    }

    pub async fn log_out(&self, token: &str) -> Result<(), anyhow::Error> {
        Ok(store::delete_session(&self.db, &token_hash(token)).await?)
    }

    /// The signed-in user for a request's `Cookie` header, if its session is live.
    pub async fn signed_in(&self, cookie_header: Option<&str>) -> Result<Option<SignedIn>, AccountError> {
        let Some(token) = cookie_header.and_then(token_from_cookie_header) else { return Ok(None) };
        let row = self.lookup(token).await?;
        Ok(row.map(|row| SignedIn { session: session_view(&row), user_id: row.user_id }))
    }

    /// Ends the session behind `cookie_header` (if any); returns the `Set-Cookie` that clears it.
    pub async fn log_out_cookie(&self, cookie_header: Option<&str>) -> Result<String, AccountError> {
        if let Some(token) = cookie_header.and_then(token_from_cookie_header) {
            self.log_out(token).await?;
        }
        Ok(self.clearing_cookie())
    }

    /// The `Set-Cookie` value carrying a session token.
    pub fn session_cookie(&self, token: &str) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", SESSION_DAYS * 86_400)
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clearing_cookie(&self) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
    }
}

pub fn session_view(row: &SessionRow) -> SessionView {
    SessionView {
        merchant_id: row.merchant_id,
        merchant_name: row.merchant_name.clone(),
        merchant_slug: row.merchant_slug.clone(),
        user_email: row.user_email.clone(),
    }
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

pub(crate) fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_suffix(len: usize) -> String {
    // No 0/o/1/l: codes are read aloud and typed from screenshots.
    const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyz";
    let mut bytes = vec![0_u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
async fn hash_password(password: String) -> anyhow::Result<String> {
    let _permit = HASHING.acquire().await.context("the hashing queue is closed")?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
    })
    .await
    .context("the hashing task failed")?
}

async fn verify_password(password: String, hash: String) -> anyhow::Result<bool> {
    let _permit = HASHING.acquire().await.context("the hashing queue is closed")?;
    tokio::task::spawn_blocking(move || {
        let parsed =
            PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("a stored password hash is malformed: {e}"))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .context("the verification task failed")?
}

/// Builds the dummy hash once at boot, off the async threads, so the first unknown-email log-in
/// takes no longer than any other.
pub async fn warm_up() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(|| dummy_hash().len()).await.context("warming up the password hasher")?;
    Ok(())
}

/// A real hash of nothing anyone knows, verified against when the email has no account.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(new_token().as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_token_among_cookies() {
        assert_eq!(token_from_cookie_header("a=1; rekomi_session=abc; b=2"), Some("abc"));
        assert_eq!(token_from_cookie_header("rekomi_session="), None);
        assert_eq!(token_from_cookie_header("other=x"), None);
    }

    #[test]
    fn tokens_are_random_and_only_hashes_are_stored() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), hash.clone()).await.expect("verify"));
        assert!(!verify_password("wrong horse battery".into(), hash).await.expect("verify"));
    }
}
