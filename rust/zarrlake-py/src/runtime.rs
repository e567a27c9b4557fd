//! Running core futures from Python: blocking with the GIL released, or as awaitables.
//! Panics are caught here so that none ever reaches Python.
//!
//! The tokio runtime is this process's own (a `ForkLocal`): a child forked after the
//! parent started its runtime builds a new one on first use, because the parent's worker
//! threads do not exist there and anything spawned on the parent's runtime would never run.
//! The child never uses, locks or drops the parent's runtime (see `zarrlake_core::process`).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::future::{self, Either, FutureExt, Ready};
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{self, ContextExt};
use pyo3_async_runtimes::TaskLocals;
use tokio::runtime::Runtime;
use tokio::task::{JoinError, JoinHandle};
use zarrlake_core::process::ForkLocal;

use crate::errors::{internal_error, PyCoreError};

static RUNTIME: ForkLocal<Runtime> = ForkLocal::new();

/// This process's runtime, built on first use (again in a forked child).
fn runtime() -> Result<&'static Runtime, PyCoreError> {
    RUNTIME.get_or_try_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("zarrlake-runtime")
            .build()
            .map_err(|e| {
                PyCoreError(zarrlake_core::Error::Storage(format!(
                    "cannot start the zarrlake runtime: {e}"
                )))
            })
    })
}

async fn guarded<F, T>(fut: F) -> Result<T, PyCoreError>
where
    F: Future<Output = zarrlake_core::Result<T>>,
{
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r.map_err(PyCoreError),
        Err(panic) => Err(internal_error(panic)),
    }
}

/// Runs `fut` to completion on this process's runtime without holding the GIL.
pub fn block<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = zarrlake_core::Result<T>> + Send,
    T: Send,
{
    let rt = runtime()?;
    py.detach(|| rt.block_on(guarded(fut))).map_err(Into::into)
}

/// Returns a Python awaitable for `fut`, run on this process's runtime.
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = zarrlake_core::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    // Built here, where a failure can be raised, so that `ProcessRuntime::spawn` finds it.
    runtime()?;
    generic::future_into_py::<ProcessRuntime, _, T>(py, async move { guarded(fut).await.map_err(PyErr::from) })
}

/// pyo3-async-runtimes' view of this process's runtime.
struct ProcessRuntime;

/// A spawned task; `Right` only if this process had no runtime, which cannot happen:
/// `awaitable` builds it before the first spawn, and later spawns run on its threads.
type Task = Either<JoinHandle<()>, Ready<Result<(), JoinError>>>;

fn not_spawned() -> Task {
    Either::Right(future::ready(Ok(())))
}

tokio::task_local! {
    static TASK_LOCALS: TaskLocals;
}

impl generic::Runtime for ProcessRuntime {
    type JoinError = JoinError;
    type JoinHandle = Task;

    fn spawn<F>(fut: F) -> Task
    where
        F: Future<Output = ()> + Send + 'static,
    {
        RUNTIME.get().map_or_else(not_spawned, |rt| Either::Left(rt.spawn(fut)))
    }

    fn spawn_blocking<F>(f: F) -> Task
    where
        F: FnOnce() + Send + 'static,
    {
        RUNTIME
            .get()
            .map_or_else(not_spawned, |rt| Either::Left(rt.spawn_blocking(f)))
    }
}

impl ContextExt for ProcessRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        Box::pin(TASK_LOCALS.scope(locals, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(TaskLocals::clone).ok()
    }
}
