//! JSON errors: `{"error": "…"}` with a status code that says whose fault it is (400 a bad
//! request, 401 no or unknown token, 403 a token without the role, 404 an unknown name, 409 the
//! state does not allow it now, 502 a plugin failed, 500 the engine or its store broke).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lockgate_model::ErrorReport;

use lockgate_engine::operations::OperationError;
use lockgate_engine::scheduler::SchedulerError;
use lockgate_store::StoreError;

/// A JSON error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// The message.
    pub message: String,
}

/// Result alias of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: it names something that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the state does not allow it now.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = crate::wire::ErrorBody {
            error: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lockgate\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::UnknownResource(_)
            | StoreError::UnknownJob(_)
            | StoreError::UnknownBuild(_)
            | StoreError::UnknownStep(_)
            | StoreError::UnknownVersion { .. }
            | StoreError::UnknownCandidate(_) => StatusCode::NOT_FOUND,
            StoreError::InvalidTransition { .. } | StoreError::BuildNotRunning { .. } => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.report().to_string())
    }
}

impl From<SchedulerError> for ApiError {
    /// `Unknown` is the scheduler's "this cannot be done now" (names were checked before the
    /// call, so what is left is a state that refuses it): 409.
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::Store(e) => e.into(),
            SchedulerError::Refused(m) => Self::conflict(m),
            e => Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.report().to_string()),
        }
    }
}

impl From<OperationError> for ApiError {
    /// Unknown names are 404, a refusal of the state 409, a failed check 502.
    fn from(e: OperationError) -> Self {
        let status = match &e {
            OperationError::UnknownResource { .. }
            | OperationError::UnknownJob { .. }
            | OperationError::UnknownEnvironment { .. }
            | OperationError::UnknownVersion { .. } => StatusCode::NOT_FOUND,
            OperationError::Refused(_) => StatusCode::CONFLICT,
            OperationError::CheckFailed(_) => StatusCode::BAD_GATEWAY,
            _ => match e {
                OperationError::Store(e) => return e.into(),
                OperationError::Scheduler(e) => return e.into(),
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        };
        Self::new(status, e.report().to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::bad_request(format!("invalid JSON body: {}", e.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_request(format!("invalid query: {}", e.body_text()))
    }
}
