//! Core futures as Python awaitables: an `asyncio.Future` of the running loop, completed
//! from a runtime thread.
//!
//! Completing is the delicate part, because it runs on a runtime thread, not the loop's:
//! - never once the interpreter is exiting: the `atexit` hook shuts the runtime down
//!   (`runtime::shut_down`), and a completion checks that first, before attaching;
//! - never into a loop that is closed (a future left pending when its loop was closed):
//!   nothing can read the result, and the loop would raise;
//! - the result is set by the loop's own thread (`call_soon_threadsafe`), and only if the
//!   future is not done yet (cancelled meanwhile);
//! - results are sent in batches (`Inbox`): one GIL acquisition and one loop wake-up for
//!   all the results that arrived meanwhile.
//!
//! Cancelling the `asyncio.Future` drops the core future.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, PoisonError};

use futures::channel::oneshot;
use futures::future::{self, Either};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{intern, IntoPyObjectExt};

use crate::errors::{internal_error, PyCoreError};
use crate::runtime::{self, guarded};
use zarrlake_core::process::ForkLocal;

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
        completion.complete(result);
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

/// Makes a core future's result a Python value (holding the GIL).
type MakeValue = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// A future's result or exception, ready to set: (future, is a result, value).
type Outcome = (Py<PyAny>, bool, Py<PyAny>);

/// A core future's result, waiting to be made a Python value and sent.
struct Finished {
    completion: Completion,
    value: MakeValue,
}

impl Completion {
    fn complete<T>(self, result: Result<T, PyCoreError>)
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let value = Box::new(move |py: Python<'_>| result.map_err(PyErr::from).and_then(|v| v.into_py_any(py)));
        Inbox::push(Finished {
            completion: self,
            value,
        });
    }
}

/// Results waiting for the GIL. Completions are batched: the first one into an empty
/// inbox starts a drain on a blocking thread, which takes the GIL once for all that have
/// arrived and wakes each event loop once for its batch. With 1,000 calls in flight that
/// is a handful of GIL acquisitions and loop wake-ups, not 1,000 of each.
#[derive(Default)]
struct Inbox {
    queue: Vec<Finished>,
    draining: bool,
}

/// This process's inbox (a forked child has its own, like its runtime).
static INBOX: ForkLocal<Mutex<Inbox>> = ForkLocal::new();

impl Inbox {
    fn lock() -> std::sync::MutexGuard<'static, Inbox> {
        // A push or a take is one step: a panic cannot leave the inbox half-changed.
        INBOX
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn push(done: Finished) {
        let start = {
            let mut inbox = Inbox::lock();
            inbox.queue.push(done);
            !std::mem::replace(&mut inbox.draining, true)
        };
        if start {
            // Attaching may wait for the GIL: on a blocking thread, never on a worker.
            tokio::task::spawn_blocking(Inbox::drain);
        }
    }

    fn drain() {
        loop {
            let batch = {
                let mut inbox = Inbox::lock();
                if inbox.queue.is_empty() {
                    inbox.draining = false;
                    return;
                }
                std::mem::take(&mut inbox.queue)
            };
            // A panic must not end the drain: `draining` would stay set and later
            // results would never be sent.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| deliver(batch)));
        }
    }
}

/// Makes each result a Python value and sends it to its future, on its loop's thread.
fn deliver(batch: Vec<Finished>) {
    if runtime::is_shut_down() {
        return;
    }
    // `try_attach`, not `attach`: no panic if Python cannot be attached to any more.
    let _ = Python::try_attach(move |py| {
        // Again holding the GIL, which `shut_down` holds when it marks the runtime.
        if runtime::is_shut_down() {
            return;
        }
        let mut by_loop: Vec<(Py<PyAny>, Vec<Outcome>)> = Vec::new();
        for Finished { completion, value } in batch {
            let made = std::panic::catch_unwind(AssertUnwindSafe(|| value(py)))
                .unwrap_or_else(|panic| Err(PyErr::from(internal_error(panic))));
            let (ok, value) = match made {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            let Completion { event_loop, future } = completion;
            match by_loop.iter_mut().find(|(l, _)| l.is(&event_loop)) {
                Some((_, items)) => items.push((future, ok, value)),
                None => by_loop.push((event_loop, vec![(future, ok, value)])),
            }
        }
        for (event_loop, items) in by_loop {
            let event_loop = event_loop.bind(py);
            if let Err(e) = send(event_loop, items) {
                e.write_unraisable(py, Some(event_loop));
            }
        }
    });
}

/// Schedules setting `items` on `event_loop`'s thread, unless it is closed: nothing can
/// read them then, and the loop would raise.
fn send(event_loop: &Bound<'_, PyAny>, items: Vec<Outcome>) -> PyResult<()> {
    let py = event_loop.py();
    if event_loop.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
        return Ok(());
    }
    event_loop.call_method1(intern!(py, "call_soon_threadsafe"), (SetResults, items))?;
    Ok(())
}

/// Sets futures' results or exceptions, on their loop's thread.
#[pyclass(frozen)]
struct SetResults;

#[pymethods]
impl SetResults {
    fn __call__(&self, items: Vec<(Bound<'_, PyAny>, bool, Bound<'_, PyAny>)>) -> PyResult<()> {
        let mut first_error = None;
        for (future, ok, value) in items {
            if let Err(e) = set_one(&future, ok, &value) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn set_one(future: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
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
