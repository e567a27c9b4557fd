//! One error type for the whole core. Every variant has a stable `kind()` code that
//! the bindings map to a Python exception class.

use thiserror::Error;

/// Cloneable, so one failure can be reported to every waiter it affects with its own kind.
#[derive(Clone, Debug, Error)]
pub enum Error {
    /// `paths` are the conflicting Zarr keys, `commits` the upstream commits that changed them.
    #[error("{message}")]
    Conflict {
        message: String,
        paths: Vec<String>,
        commits: Vec<String>,
    },
    #[error("{0}")]
    NotOnBranch(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0}")]
    SessionExpired(String),
    #[error("{0}")]
    SessionNotFound(String),
    #[error("{0}")]
    RefNotFound(String),
    #[error("{0}")]
    RefExists(String),
    /// A branch was not where a conditional operation expected it.
    #[error("{0}")]
    RefMoved(String),
    #[error("{0}")]
    RepoNotFound(String),
    #[error("{0}")]
    RepoExists(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    CommitFailed(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("corrupt object '{key}': {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{0}")]
    VirtualNotAllowed(String),
    #[error("{0}")]
    SourceChanged(String),
    #[error("{0}")]
    NotFound(String),
    /// The storage lacks a capability zarrlake needs to write safely.
    #[error("{0}")]
    Unsupported(String),
    #[error("storage error: {0}")]
    Storage(String),
}

impl Error {
    /// A stable machine-readable code for the error class.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Conflict { .. } => "conflict",
            Error::NotOnBranch(_) => "not_on_branch",
            Error::ReadOnly(_) => "read_only",
            Error::SessionExpired(_) => "session_expired",
            Error::SessionNotFound(_) => "session_not_found",
            Error::RefNotFound(_) => "ref_not_found",
            Error::RefExists(_) => "ref_exists",
            Error::RefMoved(_) => "ref_moved",
            Error::RepoNotFound(_) => "repo_not_found",
            Error::RepoExists(_) => "repo_exists",
            Error::InvalidName(_) => "invalid_name",
            Error::CommitFailed(_) => "commit_failed",
            Error::InvalidInput(_) => "invalid_input",
            Error::Corrupt { .. } => "corrupt_object",
            Error::VirtualNotAllowed(_) => "virtual_not_allowed",
            Error::SourceChanged(_) => "source_changed",
            Error::NotFound(_) => "not_found",
            Error::Unsupported(_) => "unsupported_storage",
            Error::Storage(_) => "storage",
        }
    }

    pub fn corrupt(key: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            key: key.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error, with `note` appended to its message (for a second failure that
    /// followed it and must not hide it).
    pub fn with_note(self, note: &str) -> Self {
        let add = |m: String| format!("{m}; {note}");
        match self {
            Error::Conflict {
                message,
                paths,
                commits,
            } => Error::Conflict {
                message: add(message),
                paths,
                commits,
            },
            Error::Corrupt { key, reason } => Error::Corrupt {
                key,
                reason: add(reason),
            },
            Error::NotOnBranch(m) => Error::NotOnBranch(add(m)),
            Error::ReadOnly(m) => Error::ReadOnly(add(m)),
            Error::SessionExpired(m) => Error::SessionExpired(add(m)),
            Error::SessionNotFound(m) => Error::SessionNotFound(add(m)),
            Error::RefNotFound(m) => Error::RefNotFound(add(m)),
            Error::RefExists(m) => Error::RefExists(add(m)),
            Error::RefMoved(m) => Error::RefMoved(add(m)),
            Error::RepoNotFound(m) => Error::RepoNotFound(add(m)),
            Error::RepoExists(m) => Error::RepoExists(add(m)),
            Error::InvalidName(m) => Error::InvalidName(add(m)),
            Error::CommitFailed(m) => Error::CommitFailed(add(m)),
            Error::InvalidInput(m) => Error::InvalidInput(add(m)),
            Error::VirtualNotAllowed(m) => Error::VirtualNotAllowed(add(m)),
            Error::SourceChanged(m) => Error::SourceChanged(add(m)),
            Error::NotFound(m) => Error::NotFound(add(m)),
            Error::Unsupported(m) => Error::Unsupported(add(m)),
            Error::Storage(m) => Error::Storage(add(m)),
        }
    }

    /// Paths named by a conflict, empty for every other kind.
    pub fn conflict_paths(&self) -> &[String] {
        match self {
            Error::Conflict { paths, .. } => paths,
            _ => &[],
        }
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Storage(format!("background task failed: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
