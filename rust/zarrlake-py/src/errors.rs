//! Maps core errors to the exception classes defined in `zarrlake/errors.py`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

pub struct PyCoreError(pub zarrlake_core::Error);

fn class_name(kind: &str) -> &'static str {
    match kind {
        "conflict" => "ConflictError",
        "not_on_branch" => "NotOnBranchError",
        "read_only" => "ReadOnlyError",
        "session_expired" => "SessionExpiredError",
        "session_not_found" => "SessionNotFoundError",
        "ref_not_found" => "RefNotFoundError",
        "ref_moved" => "RefMovedError",
        "ref_exists" => "RefExistsError",
        "repo_not_found" => "RepoNotFoundError",
        "repo_exists" => "RepoExistsError",
        "invalid_name" => "InvalidNameError",
        "commit_failed" => "CommitFailedError",
        "invalid_input" => "InvalidInputError",
        "corrupt_object" => "CorruptObjectError",
        "virtual_not_allowed" => "VirtualAccessError",
        "source_changed" => "SourceChangedError",
        "not_found" => "ObjectNotFoundError",
        "unsupported_storage" => "UnsupportedStorageError",
        _ => "StorageError",
    }
}

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || PyModule::import(py, "zarrlake.errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

impl From<PyCoreError> for PyErr {
    fn from(e: PyCoreError) -> PyErr {
        Python::attach(|py| {
            let build = || -> PyResult<PyErr> {
                let module = errors_module(py)?;
                let cls = module.getattr(class_name(e.0.kind()))?;
                let exc = cls.call1((e.0.to_string(),))?;
                exc.setattr("kind", e.0.kind())?;
                if let zarrlake_core::Error::Conflict { paths, commits, .. } = &e.0 {
                    exc.setattr("paths", paths.clone())?;
                    exc.setattr("commits", commits.clone())?;
                }
                Ok(PyErr::from_value(exc))
            };
            build().unwrap_or_else(|err| err)
        })
    }
}

impl From<zarrlake_core::Error> for PyCoreError {
    fn from(e: zarrlake_core::Error) -> Self {
        PyCoreError(e)
    }
}

/// A panic inside the core becomes a `StorageError` naming it as a bug.
pub fn internal_error(panic: Box<dyn std::any::Any + Send>) -> PyCoreError {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    PyCoreError(zarrlake_core::Error::Storage(format!(
        "internal error (this is a zarrlake bug): {msg}"
    )))
}
