//! Every way a Klaviyo call can fail, parsed from the JSON:API error body (by `code`, tolerating extra
//! members) or from what the edge sent instead.

use super::Operation;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KlaviyoError {
    /// 401 `not_authenticated`: no key, or not in the `Klaviyo-API-Key` scheme.
    #[error("Klaviyo did not receive a usable key on {operation:?}")]
    NotAuthenticated { operation: Operation },
    /// 401 `authentication_failed`: a well-formed key Klaviyo does not know (mistyped or revoked).
    #[error("Klaviyo rejected the key on {operation:?}")]
    BadKey { operation: Operation },
    /// 403 `permission_denied` in JSON: the key lacks a scope this call needs.
    #[error("the key lacks a scope needed to {}", operation.describe())]
    MissingScope { operation: Operation },
    /// 400 `invalid`: the body or a parameter broke a rule; `pointer` names the field.
    #[error("Klaviyo refused the request to {}: {detail}", operation.describe())]
    Invalid { operation: Operation, pointer: Option<String>, parameter: Option<String>, detail: String },
    /// 404: the list, profile or job does not exist (any more).
    #[error("Klaviyo has no such resource ({})", operation.describe())]
    NotFound { operation: Operation },
    /// 409 `duplicate_profile`: the identifiers point at another profile.
    #[error("Klaviyo reports a duplicate profile")]
    Conflict { operation: Operation, duplicate_profile_id: Option<String> },
    /// 429: over the account's rate limit; try again after `retry_after`.
    #[error("Klaviyo throttled the request; retry after {retry_after:?}")]
    Throttled { operation: Operation, retry_after: Duration },
    /// A 5xx with a JSON:API body.
    #[error("Klaviyo answered {status}")]
    Server { operation: Operation, status: u16 },
    /// An answer without a JSON:API body (the Cloudflare edge: HTML challenge pages, 400s on headers).
    #[error("Klaviyo's edge answered {status} with {content_type}")]
    Edge { operation: Operation, status: u16, content_type: String },
    /// A 4xx with a JSON:API body and a code Rekomi has no case for.
    #[error("Klaviyo answered {status} ({code})")]
    Other { operation: Operation, status: u16, code: String },
    /// No answer: connection refused, reset, timed out.
    #[error("could not reach Klaviyo: {detail}")]
    Transport { operation: Operation, detail: String },
    /// A success whose body does not have the documented shape.
    #[error("unexpected answer from Klaviyo to {}: {detail}", operation.describe())]
    Decode { operation: Operation, detail: String },
}

impl KlaviyoError {
    pub fn operation(&self) -> Operation {
        use KlaviyoError::*;
        match self {
            NotAuthenticated { operation }
            | BadKey { operation }
            | MissingScope { operation }
            | Invalid { operation, .. }
            | NotFound { operation }
            | Conflict { operation, .. }
            | Throttled { operation, .. }
            | Server { operation, .. }
            | Edge { operation, .. }
            | Other { operation, .. }
            | Transport { operation, .. }
            | Decode { operation, .. } => *operation,
        }
    }

    /// The HTTP status Klaviyo answered with; `None` when no usable answer came.
    pub fn status(&self) -> Option<u16> {
        use KlaviyoError::*;
        match self {
            NotAuthenticated { .. } | BadKey { .. } => Some(401),
            MissingScope { .. } => Some(403),
            Invalid { .. } => Some(400),
            NotFound { .. } => Some(404),
            Conflict { .. } => Some(409),
            Throttled { .. } => Some(429),
            Server { status, .. } | Edge { status, .. } | Other { status, .. } => Some(*status),
            Transport { .. } | Decode { .. } => None,
        }
    }

    /// A short, stable code for logs: Klaviyo's error code where it has one.
    pub fn code(&self) -> &str {
        use KlaviyoError::*;
        match self {
            NotAuthenticated { .. } => "not_authenticated",
            BadKey { .. } => "authentication_failed",
            MissingScope { .. } => "permission_denied",
            Invalid { .. } => "invalid",
            NotFound { .. } => "not_found",
            Conflict { .. } => "duplicate_profile",
            Throttled { .. } => "throttled",
            Server { .. } => "server_error",
            Edge { .. } => "edge_error",
            Other { code, .. } => code,
            Transport { .. } => "network",
            Decode { .. } => "unexpected_answer",
        }
    }

    /// Worth trying again later: 429, 503, 504 and 524 (the official SDKs' set), the edge's HTML
    /// challenge (403) or outage pages (5xx), and network failures. Anything else would fail the
    /// same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            KlaviyoError::Throttled { .. } | KlaviyoError::Transport { .. } => true,
            KlaviyoError::Server { status, .. } => matches!(status, 503 | 504 | 524),
            KlaviyoError::Edge { status, .. } => *status == 403 || *status >= 500,
            _ => false,
        }
    }

    /// Worth trying again for a step that is safe to repeat (NOTES §8): a read, a write of a state
    /// just read, an event with its `unique_id`. Those also retry 500 and 502, within their attempt
    /// budget: an occasional 5xx is transient, and one must not end a sync that repeating would finish.
    pub fn is_retryable_when_idempotent(&self) -> bool {
        self.is_retryable() || matches!(self, KlaviyoError::Server { status: 500 | 502, .. })
    }

    /// How long Klaviyo asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            KlaviyoError::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// A sentence a merchant can act on.
    pub fn merchant_message(&self) -> String {
        use shared::domain::klaviyo::scope_list;
        match self {
            KlaviyoError::NotAuthenticated { .. } | KlaviyoError::BadKey { .. } => {
                "Klaviyo doesn't accept this key: it may be mistyped, or it was revoked. Copy a private key again \
                 from Settings → API keys in Klaviyo."
                    .into()
            }
            KlaviyoError::MissingScope { operation } => format!(
                "Klaviyo refused to {} because the key lacks a permission: it needs {}. Edit the key in Klaviyo \
                 (Settings → API keys).",
                operation.describe(),
                scope_list(&operation.suspect_key_scopes())
            ),
            KlaviyoError::Invalid { detail, pointer, .. } => match pointer {
                Some(p) => format!("Klaviyo refused the data: {detail} (at {p})."),
                None => format!("Klaviyo refused the data: {detail}."),
            },
            KlaviyoError::NotFound { .. } => "Klaviyo no longer has it; it may have been deleted in Klaviyo.".into(),
            KlaviyoError::Conflict { .. } => {
                "Klaviyo already has another profile with one of these identifiers.".into()
            }
            KlaviyoError::Throttled { retry_after, .. } => format!(
                "Klaviyo is rate-limiting this account right now. Try again in {} s.",
                retry_after.as_secs().max(1)
            ),
            KlaviyoError::Server { status, .. } | KlaviyoError::Edge { status, .. } => {
                format!("Klaviyo had a problem answering (HTTP {status}); nothing was changed. Try again in a minute.")
            }
            KlaviyoError::Other { status, code, .. } => {
                format!("Klaviyo refused the request (HTTP {status}, {code}); nothing was changed.")
            }
            KlaviyoError::Transport { .. } => {
                "Rekomi could not reach Klaviyo; nothing was changed. Try again in a minute.".into()
            }
            KlaviyoError::Decode { .. } => {
                "Klaviyo answered in a way Rekomi did not expect; nothing was changed. Try again in a minute.".into()
            }
        }
    }

    /// Classifies a non-2xx answer from its status, headers and body.
    pub(crate) fn from_answer(
        operation: Operation,
        status: u16,
        content_type: Option<&str>,
        retry_after: Option<&str>,
        body: &[u8],
    ) -> Self {
        let json = content_type.is_some_and(|c| c.contains("json"));
        let first = if json {
            serde_json::from_slice::<ErrorBody>(body).ok().and_then(|b| b.errors.into_iter().next())
        } else {
            None
        };
        if status == 429 {
            // Retry-After is integer seconds; a missing or odd value still means "wait a little".
            let secs = retry_after.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(1);
            return KlaviyoError::Throttled { operation, retry_after: Duration::from_secs(secs.clamp(1, 3600)) };
        }
        let Some(error) = first else {
            return KlaviyoError::Edge {
                operation,
                status,
                content_type: content_type.unwrap_or("no content type").to_owned(),
            };
        };
        match (status, error.code.as_str()) {
            (401, "authentication_failed") => KlaviyoError::BadKey { operation },
            (401, _) => KlaviyoError::NotAuthenticated { operation },
            (403, _) => KlaviyoError::MissingScope { operation },
            (404, _) => KlaviyoError::NotFound { operation },
            (409, _) => KlaviyoError::Conflict {
                operation,
                duplicate_profile_id: error
                    .meta
                    .and_then(|m| m.get("duplicate_profile_id").and_then(|v| v.as_str()).map(str::to_owned)),
            },
            (400, _) => KlaviyoError::Invalid {
                operation,
                pointer: error.source.as_ref().and_then(|s| s.pointer.clone()),
                parameter: error.source.and_then(|s| s.parameter),
                detail: error.detail,
            },
            (500.., _) => KlaviyoError::Server { operation, status },
            (_, code) => KlaviyoError::Other { operation, status, code: code.to_owned() },
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    code: String,
    #[serde(default)]
    detail: String,
    source: Option<ErrorSource>,
    meta: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct ErrorSource {
    pointer: Option<String>,
    parameter: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    const JSON: Option<&str> = Some("application/vnd.api+json");

    fn body(status: u16, code: &str, extra: &str) -> Vec<u8> {
        format!(r#"{{"errors":[{{"id":"x","status":{status},"code":"{code}","title":"t","detail":"d"{extra}}}]}}"#)
            .into_bytes()
    }

    #[test]
    fn classifies_auth_scope_and_validation_errors() {
        let op = Operation::Subscribe;
        assert_eq!(
            KlaviyoError::from_answer(op, 401, JSON, None, &body(401, "authentication_failed", "")),
            KlaviyoError::BadKey { operation: op }
        );
        assert_eq!(
            KlaviyoError::from_answer(op, 401, JSON, None, &body(401, "not_authenticated", "")),
            KlaviyoError::NotAuthenticated { operation: op }
        );
        assert_eq!(
            KlaviyoError::from_answer(op, 403, JSON, None, &body(403, "permission_denied", "")),
            KlaviyoError::MissingScope { operation: op }
        );
        let invalid = KlaviyoError::from_answer(
            op,
            400,
            JSON,
            None,
            &body(400, "invalid", r#","source":{"pointer":"/data/attributes/profiles/data/3/attributes/email"}"#),
        );
        assert!(
            matches!(invalid, KlaviyoError::Invalid { pointer: Some(p), .. } if p.ends_with("/3/attributes/email"))
        );
    }

    #[test]
    fn reads_retry_after_and_the_duplicate_profile_id() {
        let op = Operation::ProfileImport;
        let throttled = KlaviyoError::from_answer(op, 429, JSON, Some("7"), &body(429, "throttled", ""));
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));
        assert!(throttled.is_retryable());
        let conflict = KlaviyoError::from_answer(
            op,
            409,
            JSON,
            None,
            &body(409, "duplicate_profile", r#","meta":{"duplicate_profile_id":"01ABC"}"#),
        );
        assert_eq!(conflict, KlaviyoError::Conflict { operation: op, duplicate_profile_id: Some("01ABC".into()) });
        assert!(!conflict.is_retryable());
    }

    #[test]
    fn a_500_or_502_is_retried_only_by_a_step_that_is_safe_to_repeat() {
        for status in [500, 502] {
            let error = KlaviyoError::Server { operation: Operation::Subscribe, status };
            assert!(!error.is_retryable(), "{status}");
            assert!(error.is_retryable_when_idempotent(), "{status}");
        }
        let refused = KlaviyoError::MissingScope { operation: Operation::Subscribe };
        assert!(!refused.is_retryable_when_idempotent());
        assert!(KlaviyoError::Server { operation: Operation::Subscribe, status: 503 }.is_retryable_when_idempotent());
    }

    #[test]
    fn an_html_403_is_the_edge_and_retryable_not_a_missing_scope() {
        let edge = KlaviyoError::from_answer(Operation::GetLists, 403, Some("text/html"), None, b"<html>challenge");
        assert!(matches!(edge, KlaviyoError::Edge { status: 403, .. }));
        assert!(edge.is_retryable());
    }
}
