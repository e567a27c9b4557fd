//! This process's tokio runtime, and running core futures on it with the GIL released.
//! Panics are caught here so that none ever reaches Python.
//!
//! The runtime is this process's own (a `ForkLocal`): a child forked after the parent
//! started its runtime builds a new one on first use, because the parent's worker threads
//! do not exist there and anything spawned on the parent's runtime would never run. The
//! child never uses, locks or drops the parent's runtime (see `zarrlake_core::process`).
//!
//! At interpreter exit an `atexit` hook calls [`shut_down`] before `Py_FinalizeEx` frees
//! the interpreter: a runtime thread that touched a Python object after that would crash
//! the process. Later calls fail with a `StorageError` instead of starting a new runtime.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use pyo3::prelude::*;
use tokio::runtime::{Handle, Runtime};
use zarrlake_core::process::ForkLocal;

use crate::errors::{internal_error, PyCoreError};

enum State {
    Unstarted,
    Running(Runtime),
    ShutDown,
}

/// Locked only to read or change the state, never while a future runs.
static STATE: ForkLocal<Mutex<State>> = ForkLocal::new();

/// How long exit waits for runtime threads: long enough for an in-flight write and a
/// future's completion to finish, short enough that exit never seems to hang.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

fn state() -> MutexGuard<'static, State> {
    // A panic while locked cannot leave the state half-changed: every change is one store.
    STATE
        .get_or_init(|| Mutex::new(State::Unstarted))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn shut_down_error() -> PyCoreError {
    PyCoreError(zarrlake_core::Error::Storage(
        "the zarrlake runtime is shut down (the interpreter is exiting)".into(),
    ))
}

/// This process's runtime, built on first use (again in a forked child).
pub fn handle() -> Result<Handle, PyCoreError> {
    let mut state = state();
    match &*state {
        State::Running(rt) => Ok(rt.handle().clone()),
        State::ShutDown => Err(shut_down_error()),
        State::Unstarted => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("zarrlake-runtime")
                .build()
                .map_err(|e| {
                    PyCoreError(zarrlake_core::Error::Storage(format!(
                        "cannot start the zarrlake runtime: {e}"
                    )))
                })?;
            let handle = rt.handle().clone();
            *state = State::Running(rt);
            Ok(handle)
        }
    }
}

pub fn is_shut_down() -> bool {
    matches!(*state(), State::ShutDown)
}

/// Stops this process's runtime for good: its threads finish what they are doing (for at
/// most [`SHUTDOWN_TIMEOUT`]) and exit; what they had not started is dropped.
///
/// Called holding the GIL, so that a runtime thread that checks [`is_shut_down`] holding
/// the GIL either sees it (and leaves Python alone) or finishes before this waits for it.
pub fn shut_down(py: Python<'_>) {
    let previous = std::mem::replace(&mut *state(), State::ShutDown);
    if let State::Running(rt) = previous {
        // Released: the threads being waited for may need the GIL to finish.
        py.detach(|| rt.shutdown_timeout(SHUTDOWN_TIMEOUT));
    }
}

pub async fn guarded<F, T>(fut: F) -> Result<T, PyCoreError>
where
    F: Future<Output = zarrlake_core::Result<T>>,
{
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r.map_err(PyCoreError),
        // Tokio panics on a timer or socket of a runtime that was shut down meanwhile.
        Err(_) if is_shut_down() => Err(shut_down_error()),
        Err(panic) => Err(internal_error(panic)),
    }
}

/// Runs `fut` to completion on this process's runtime without holding the GIL.
pub fn block<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = zarrlake_core::Result<T>> + Send,
    T: Send,
{
    let rt = handle()?;
    py.detach(|| rt.block_on(guarded(fut))).map_err(Into::into)
}
