//! `Buffer`: read-only bytes handed to Python without a copy (buffer protocol).
//! `numpy.frombuffer`, `memoryview` and zarr's `Buffer.from_bytes` read it in place.

use std::os::raw::c_int;

use bytes::Bytes;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pyclass(name = "Buffer", module = "zarrlake._native", frozen, skip_from_py_object)]
pub struct PyBufferBytes(pub Bytes);

#[pymethods]
impl PyBufferBytes {
    /// # Safety
    /// Called by CPython with a valid `view`; `PyBuffer_FillInfo` keeps `slf` alive for
    /// the view's lifetime, and the bytes it points at are immutable.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("null view"));
        }
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("zarrlake buffers are read-only"));
        }
        let data = &slf.get().0;
        let ret = ffi::PyBuffer_FillInfo(
            view,
            slf.as_ptr(),
            data.as_ptr() as *mut std::os::raw::c_void,
            data.len() as ffi::Py_ssize_t,
            1,
            flags,
        );
        if ret == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!("<zarrlake._native.Buffer {} bytes>", self.0.len())
    }
}
