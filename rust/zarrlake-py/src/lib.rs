//! `zarrlake._native`: thin bindings over zarrlake-core. Conversion, error mapping and
//! GIL release only; the user-facing API lives in the Python package.

mod buffer;
mod convert;
mod errors;
mod repository;
mod runtime;
mod session;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<repository::PyRepository>()?;
    m.add_class::<session::PySession>()?;
    m.add_class::<buffer::PyBufferBytes>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
