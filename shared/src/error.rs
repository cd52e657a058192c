//! The one error type the browser sees: a kind the UI can act on, a sentence a merchant can read,
//! and per-field messages for forms. Causes are logged on the server, never sent.

use crate::domain::FieldErrors;
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The input is wrong; `fields` says where.
    Invalid,
    /// Not signed in, or the session ended.
    Unauthorized,
    /// Signed in, but not allowed (e.g. a request from another site).
    Forbidden,
    /// Not there, or not yours: the two look the same on purpose.
    NotFound,
    /// Clashes with something that exists (an email already registered, a slug in use).
    Conflict,
    /// Too many attempts; the message says when to try again.
    RateLimited,
    /// Our fault; the message says so without detail.
    Internal,
    /// Klaviyo (or the way to it) failed; the message says what to do.
    Upstream,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default)]
    pub fields: FieldErrors,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), fields: FieldErrors::new() }
    }

    pub fn invalid(fields: FieldErrors) -> Self {
        let message = match fields.len() {
            1 => "Please correct the highlighted field.".to_owned(),
            n => format!("Please correct the {n} highlighted fields."),
        };
        Self { kind: ErrorKind::Invalid, message, fields }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = FieldErrors::new();
        fields.add(field, message.clone());
        Self { kind: ErrorKind::Invalid, message, fields }
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "Please log in to continue.")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("That {what} doesn't exist or isn't yours."))
    }

    pub fn internal() -> Self {
        Self::new(ErrorKind::Internal, "Something went wrong on our side. Please try again in a moment.")
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(ErrorKind::RateLimited, format!("Too many attempts. Try again in {retry_after_secs} s."))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::Invalid => 422,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Upstream => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                Self::new(ErrorKind::Internal, "Rekomi can't be reached. Check your connection and try again.")
            }
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::Deserialization(detail) => {
                Self::new(ErrorKind::Invalid, format!("The request was not understood: {detail}"))
            }
            _ => Self::internal(),
        }
    }
}
