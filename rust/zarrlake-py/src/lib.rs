//! `zarrlake._native`: thin bindings over zarrlake-core. Conversion, error mapping and
//! GIL release only; the user-facing API lives in the Python package.

mod awaitable;
mod buffer;
mod convert;
mod engine;
mod errors;
mod progress;
mod repository;
mod runtime;
mod session;

use pyo3::prelude::*;

/// (canonical URL, the prefix a reader should allow for it) of a virtual reference URL.
#[pyfunction]
fn source_url(url: &str) -> PyResult<(String, String)> {
    let u = zarrlake_core::virtual_read::SourceUrl::parse(url).map_err(errors::PyCoreError)?;
    Ok((u.canonical(), u.suggested_prefix()))
}

/// Shuts this process's runtime down for good (registered with `atexit`): no runtime
/// thread may touch Python once the interpreter finalizes. Later calls raise `StorageError`.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    runtime::shut_down(py);
}

/// Tells the core that this process forked (registered with `os.register_at_fork`): a
/// private session that lived through a fork may have a child writing to it.
#[pyfunction]
fn _note_fork() {
    zarrlake_core::process::note_fork();
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<repository::PyRepository>()?;
    m.add_class::<session::PySession>()?;
    m.add_class::<buffer::PyBufferBytes>()?;
    m.add_class::<engine::PyChunkEngine>()?;
    m.add_function(wrap_pyfunction!(source_url, m)?)?;
    m.add_function(wrap_pyfunction!(engine::zstd_version, m)?)?;
    m.add_function(wrap_pyfunction!(engine::registered_zstd_version, m)?)?;
    m.add_function(wrap_pyfunction!(engine::_register_zstd, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(_note_fork, m)?)?;
    m.add("METADATA_NAMES", zarrlake_core::keys::METADATA_NAMES.to_vec())?;
    m.add("NODE_NAMES", zarrlake_core::keys::NODE_NAMES.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("NOT_ON_BRANCH", zarrlake_core::session::NOT_ON_BRANCH)?;
    Ok(())
}
