//! Error replies: every failure of the API is JSON
//! `{"error": {"code": "...", "message": "..."}}` with a fitting status,
//! and the message says what was wrong and what to do.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use btl_node::ApiError;
use serde::de::DeserializeOwned;

/// An error reply.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// A `WWW-Authenticate` challenge, for 401s.
    pub challenge: Option<&'static str>,
}

impl HttpError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }

    /// 400 with code `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> HttpError {
        let status = match &e {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownTorrent(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::LedgerUnavailable(_) => StatusCode::BAD_GATEWAY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::LedgerNotEnabled | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        HttpError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(c) = self.challenge {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        r
    }
}

/// A JSON body whose rejections are [`HttpError`]s: 415 without a JSON
/// content type, 400 for malformed JSON, 422 for JSON of the wrong shape
/// (the message names the field and what was expected).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// Turns axum's JSON rejection into a clear error.
pub fn json_rejection(e: JsonRejection) -> HttpError {
    match e {
        JsonRejection::MissingJsonContentType(_) => HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => HttpError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid JSON: {}",
                inner_message(&e.body_text())
            ),
        ),
        JsonRejection::JsonDataError(e) => HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "the JSON does not have the expected shape: {}",
                inner_message(&e.body_text())
            ),
        ),
        JsonRejection::BytesRejection(e) => HttpError::new(e.status(), "bad_body", e.body_text()),
        other => HttpError::new(other.status(), "bad_body", other.body_text()),
    }
}

/// axum prefixes serde's message with its own sentence; keep serde's.
fn inner_message(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, rest)| rest)
        .to_string()
}

/// Parses JSON from bytes with the same errors as [`ApiJson`] (for bodies
/// read by hand).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error_free(de).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {e}"),
            )
        } else {
            HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the JSON does not have the expected shape: {e}"),
            )
        }
    })
}

fn serde_path_to_error_free<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, serde_json::Error> {
    let v = T::deserialize(&mut *de)?;
    de.end()?;
    Ok(v)
}
