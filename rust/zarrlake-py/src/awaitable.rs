//! Core futures as Python awaitables: an `asyncio.Future` of the running loop, completed
//! from a runtime thread.
//!
//! Completing is the delicate part, because it runs on a runtime thread, not the loop's:
//! - never once the interpreter is exiting: the `atexit` hook shuts the runtime down
//!   (`runtime::shut_down`), and a completion checks that first, before attaching;
//! - never into a loop that is closed (a future left pending when its loop was closed):
//!   nothing can read the result, and the loop would raise;
//! - the result is set by the loop's own thread (`call_soon_threadsafe`), and only if the
//!   future is not done yet (cancelled meanwhile).
//!
//! Cancelling the `asyncio.Future` drops the core future.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use futures::channel::oneshot;
use futures::future::{self, Either};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{intern, IntoPyObjectExt};

use crate::errors::{internal_error, PyCoreError};
use crate::runtime::{self, guarded};

/// Returns a Python awaitable for `fut`, run on this process's runtime.
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = zarrlake_core::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let rt = runtime::handle()?;
    let event_loop = get_running_loop(py)?.call0()?;
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    let (cancel_tx, cancel_rx) = oneshot::channel();
    future.call_method1(
        intern!(py, "add_done_callback"),
        (CancelOnDone(Mutex::new(Some(cancel_tx))),),
    )?;
    let completion = Completion {
        event_loop: event_loop.unbind(),
        future: future.clone().unbind(),
    };
    rt.spawn(async move {
        // A dropped sender is no cancellation: the future is done, so we are too.
        let cancelled = async {
            if cancel_rx.await.is_err() {
                future::pending::<()>().await;
            }
        };
        let result = match future::select(Box::pin(guarded(fut)), Box::pin(cancelled)).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => return,
        };
        // Attaching may wait for the GIL: on a blocking thread, never on a worker.
        tokio::task::spawn_blocking(move || completion.complete(result));
    });
    Ok(future)
}

fn get_running_loop(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .get_or_try_init(py, || {
            py.import("asyncio")?.getattr("get_running_loop").map(Bound::unbind)
        })
        .map(|f| f.bind(py))
}

/// Where a result goes. Dropped without the GIL (a cancelled or abandoned completion),
/// its references are released later by PyO3, by a thread that holds the GIL.
struct Completion {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

impl Completion {
    fn complete<T>(self, result: Result<T, PyCoreError>)
    where
        T: for<'a> IntoPyObject<'a>,
    {
        if runtime::is_shut_down() {
            return;
        }
        // `try_attach`, not `attach`: no panic if Python cannot be attached to any more.
        let _ = Python::try_attach(move |py| {
            // Again holding the GIL, which `shut_down` holds when it marks the runtime.
            if runtime::is_shut_down() {
                return;
            }
            let sent = std::panic::catch_unwind(AssertUnwindSafe(|| self.send(py, result)))
                .unwrap_or_else(|panic| self.send::<()>(py, Err(internal_error(panic))));
            if let Err(e) = sent {
                e.write_unraisable(py, Some(self.future.bind(py)));
            }
        });
    }

    fn send<T>(&self, py: Python<'_>, result: Result<T, PyCoreError>) -> PyResult<()>
    where
        T: for<'a> IntoPyObject<'a>,
    {
        let event_loop = self.event_loop.bind(py);
        if event_loop.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
            return Ok(());
        }
        let (ok, value) = match result.map_err(PyErr::from).and_then(|v| v.into_py_any(py)) {
            Ok(v) => (true, v),
            Err(e) => (false, e.into_value(py).into_any()),
        };
        event_loop.call_method1(
            intern!(py, "call_soon_threadsafe"),
            (SetResult, self.future.clone_ref(py), ok, value),
        )?;
        Ok(())
    }
}

/// Sets a future's result or exception, on its loop's thread.
#[pyclass(frozen)]
struct SetResult;

#[pymethods]
impl SetResult {
    fn __call__(&self, future: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = future.py();
        // Cancelled after the result was sent.
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            return Ok(());
        }
        let method = if ok {
            intern!(py, "set_result")
        } else {
            intern!(py, "set_exception")
        };
        future.call_method1(method, (value,))?;
        Ok(())
    }
}

/// A done callback that cancels the core future (it is done already unless the Python
/// future was cancelled, and then the message reaches no one).
#[pyclass(frozen)]
struct CancelOnDone(Mutex<Option<oneshot::Sender<()>>>);

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        let sender = self.0.lock().map(|mut s| s.take()).unwrap_or_default();
        if let Some(tx) = sender {
            let _ = tx.send(());
        }
    }
}
