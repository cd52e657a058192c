//! All configuration, read from the environment once at boot. A bad value stops boot with a
//! message that names the variable.

use anyhow::{bail, Context};
use base64::Engine;
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/rekomi.db";

#[derive(Clone)]
pub struct Config {
    /// `sqlite:path/to/file.db` or `postgres://…`.
    pub database_url: String,
    pub addr: SocketAddr,
    /// The address merchants use, e.g. `https://affiliates.example.com`; `https` makes cookies Secure
    /// and its origin is accepted for form posts behind a proxy.
    pub public_url: Option<String>,
    /// Take the client address from `X-Forwarded-For` (only behind your own reverse proxy).
    pub trust_proxy: bool,
    /// Sign-up and log-in attempts per minute per address (0: unlimited).
    pub auth_per_minute: u32,
    /// Applications per minute per address on public pages (0: unlimited).
    pub apply_per_minute: u32,
    /// 32 bytes for encrypting secrets at rest (Klaviyo keys).
    pub secret_key: SecretKey,
    /// Where Klaviyo's API answers: `https://a.klaviyo.com`, or a fake Klaviyo for tests and demos.
    pub klaviyo_api_base: String,
    /// Where Shopify answers: `None` is each shop at `https://{shop}.myshopify.com`; a fake Shopify's
    /// address for tests and demos (`SHOPIFY_API_BASE`; the shop is then named by `Host`).
    pub shopify_api_base: Option<String>,
    /// "Test connection" attempts per minute per merchant (0: unlimited). Klaviyo allows only 15
    /// account reads a minute, shared by every app on the merchant's account.
    pub klaviyo_tests_per_minute: u32,
    /// REST API requests per minute per token (0: unlimited).
    pub api_per_minute: u32,
    /// Lets webhook endpoints be on private addresses (tests, local development).
    pub webhooks_allow_private: bool,
    /// Mounts `/_test/*` (moving the clock) for the end-to-end suite. Never in production.
    pub test_hooks: bool,
    /// The Klaviyo sync worker's lease, read-back patience and retry budget.
    pub sync: crate::outbox::Settings,
    pub leptos: LeptosOptions,
}

/// Key material; its `Debug` never prints the bytes.
#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let mut leptos =
            leptos::config::get_configuration(None).context("reading the LEPTOS_* settings")?.leptos_options;
        // A release build made with `hash-files` leaves its hash file beside the binary: serve the
        // hashed names (cacheable for ever) without asking the operator to set LEPTOS_HASH_FILES.
        leptos.hash_files = leptos.hash_files || app::assets::hash_file(&leptos).is_some();
        let addr = match var("REKOMI_ADDR") {
            Some(raw) => {
                raw.parse().with_context(|| format!("REKOMI_ADDR={raw:?} is not an address like 127.0.0.1:3000"))?
            }
            None => leptos.site_addr,
        };
        let public_url = var("REKOMI_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("REKOMI_PUBLIC_URL={url:?} must start with https:// or http://");
            }
        }
        let data_dir = PathBuf::from(var("REKOMI_DATA_DIR").unwrap_or_else(|| "data".into()));
        let secret_key = match var("REKOMI_SECRET_KEY") {
            Some(encoded) => decode_key(&encoded).context("REKOMI_SECRET_KEY must be 32 bytes, base64-encoded")?,
            None => {
                let path =
                    var("REKOMI_SECRET_KEY_FILE").map(PathBuf::from).unwrap_or_else(|| data_dir.join("secret.key"));
                load_or_create_key_file(&path)?
            }
        };
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            addr,
            public_url,
            trust_proxy: flag("REKOMI_TRUST_PROXY")?,
            auth_per_minute: number("REKOMI_AUTH_RATE_PER_MINUTE", 10)?,
            apply_per_minute: number("REKOMI_APPLY_RATE_PER_MINUTE", 10)?,
            secret_key,
            klaviyo_api_base: klaviyo_api_base()?,
            shopify_api_base: shopify_api_base()?,
            klaviyo_tests_per_minute: number("REKOMI_KLAVIYO_TESTS_PER_MINUTE", 6)?,
            api_per_minute: number("REKOMI_API_RATE_PER_MINUTE", 600)?,
            test_hooks: flag("REKOMI_TEST_HOOKS")?,
            webhooks_allow_private: flag("REKOMI_WEBHOOKS_ALLOW_PRIVATE")?,
            sync: sync_settings()?,
            leptos,
        })
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

fn shopify_api_base() -> anyhow::Result<Option<String>> {
    let Some(base) = var("SHOPIFY_API_BASE") else { return Ok(None) };
    let base = base.trim().trim_end_matches('/').to_owned();
    // Only a fake on this machine: a real shop is always reached at its own https address.
    let host = base.strip_prefix("http://").map(|rest| rest.split(['/', ':']).next().unwrap_or(""));
    match host {
        Some("127.0.0.1" | "localhost") => Ok(Some(base)),
        _ => bail!("SHOPIFY_API_BASE={base:?} must be http:// on 127.0.0.1 or localhost (a fake Shopify); unset it for real stores"),
    }
}

fn klaviyo_api_base() -> anyhow::Result<String> {
    let base = var("KLAVIYO_API_BASE").unwrap_or_else(|| crate::klaviyo::DEFAULT_API_BASE.into());
    let base = base.trim().trim_end_matches('/').to_owned();
    if base.starts_with("https://") {
        return Ok(base);
    }
    // Plain http would send the merchant's key in clear: only for a fake on this machine.
    let host = base.strip_prefix("http://").map(|rest| rest.split(['/', ':']).next().unwrap_or(""));
    match host {
        Some("127.0.0.1" | "localhost") => Ok(base),
        Some(_) if base.starts_with("http://[::1]") => Ok(base),
        _ => bail!("KLAVIYO_API_BASE={base:?} must be https://, or http:// on 127.0.0.1 or localhost (a fake Klaviyo)"),
    }
}

fn sync_settings() -> anyhow::Result<crate::outbox::Settings> {
    use std::time::Duration;
    let defaults = crate::outbox::Settings::default();
    let secs = |name, default: Duration| -> anyhow::Result<Duration> {
        let n = number(name, u32::try_from(default.as_secs()).unwrap_or(u32::MAX))?;
        if n == 0 {
            bail!("{name} must be at least 1 (seconds)");
        }
        Ok(Duration::from_secs(u64::from(n)))
    };
    let max_attempts = number("REKOMI_SYNC_MAX_ATTEMPTS", defaults.max_attempts)?;
    if max_attempts == 0 {
        bail!("REKOMI_SYNC_MAX_ATTEMPTS must be at least 1");
    }
    Ok(crate::outbox::Settings {
        lease: secs("REKOMI_SYNC_LEASE_SECS", defaults.lease)?,
        verify_timeout: secs("REKOMI_SYNC_VERIFY_SECS", defaults.verify_timeout)?,
        max_attempts,
        reconcile_every: secs("REKOMI_KLAVIYO_CHECK_SECS", defaults.reconcile_every)?,
        worker: !matches!(var("REKOMI_SYNC_WORKER").as_deref(), Some("off" | "0" | "false" | "no")),
    })
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn flag(name: &str) -> anyhow::Result<bool> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => bail!("{name}={other:?} must be true or false"),
    }
}

fn number(name: &str, default: u32) -> anyhow::Result<u32> {
    var(name)
        .map_or(Ok(default), |raw| raw.trim().parse().with_context(|| format!("{name}={raw:?} must be a whole number")))
}

fn decode_key(encoded: &str) -> anyhow::Result<SecretKey> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).context("not valid base64")?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("{} bytes instead of 32", b.len()))?;
    Ok(SecretKey(key))
}

/// Reads the key file, or creates it (mode 0600) with a fresh random key on first run.
fn load_or_create_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    use std::io::Write;
    if path.exists() {
        let encoded =
            std::fs::read_to_string(path).with_context(|| format!("reading the secret key file {}", path.display()))?;
        return decode_key(&encoded)
            .with_context(|| format!("the secret key file {} is not 32 base64-encoded bytes", path.display()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut key = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating the secret key file {}", path.display()))?;
    file.write_all(base64::engine::general_purpose::STANDARD.encode(key).as_bytes())
        .with_context(|| format!("writing the secret key file {}", path.display()))?;
    tracing::info!(path = %path.display(), "created a new secret key file; back it up with the database");
    Ok(SecretKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_with_owner_only_permissions() {
        let dir = std::env::temp_dir().join(format!("rekomi-key-{}", std::process::id()));
        let path = dir.join("secret.key");
        let first = load_or_create_key_file(&path).expect("created");
        let second = load_or_create_key_file(&path).expect("read back");
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(decode_key("c2hvcnQ=").is_err());
        assert!(format!("{:?}", SecretKey([7; 32])).contains(".."));
    }
}
