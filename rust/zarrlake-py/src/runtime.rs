//! Running core futures from Python: blocking with the GIL released, or as awaitables.
//! Panics are caught here so that none ever reaches Python.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use pyo3::prelude::*;

use crate::errors::{internal_error, PyCoreError};

async fn guarded<F, T>(fut: F) -> Result<T, PyCoreError>
where
    F: Future<Output = zarrlake_core::Result<T>>,
{
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r.map_err(PyCoreError),
        Err(panic) => Err(internal_error(panic)),
    }
}

/// Runs `fut` to completion on the shared runtime without holding the GIL.
pub fn block<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = zarrlake_core::Result<T>> + Send,
    T: Send,
{
    let rt = pyo3_async_runtimes::tokio::get_runtime();
    py.detach(|| rt.block_on(guarded(fut))).map_err(Into::into)
}

/// Returns a Python awaitable for `fut`.
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = zarrlake_core::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move { guarded(fut).await.map_err(PyErr::from) })
}
