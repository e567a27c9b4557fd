//! `ChunkEngine`: the native engine for one array (zarrlake-engine), fed NumPy buffers.
//!
//! Buffers are taken through the buffer protocol with their strides, so a view, a
//! transposed array or a broadcast scalar is read in place, never copied first. The
//! export is held (the array cannot be resized or freed) until the engine's work is done,
//! also when the awaiting Python task was cancelled meanwhile.

use std::sync::Arc;

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use zarrlake_engine::{ChunkCodec, ChunkRead, ChunkWrite, ElementKind, Span, Strided};

use crate::awaitable::awaitable;
use crate::errors::PyCoreError;
use crate::session::PySession;

/// An exported buffer; released (holding the GIL) when the last user drops it.
struct Export(Box<ffi::Py_buffer>);

// The view is only read through `Strided`; CPython's export is released holding the GIL.
unsafe impl Send for Export {}
unsafe impl Sync for Export {}

impl Drop for Export {
    fn drop(&mut self) {
        Python::attach(|_| unsafe { ffi::PyBuffer_Release(&mut *self.0) });
    }
}

fn strided(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Arc<Strided>> {
    let mut view: Box<ffi::Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
    let flags = if writable {
        ffi::PyBUF_RECORDS
    } else {
        ffi::PyBUF_RECORDS_RO
    };
    // SAFETY: `view` is a valid, zeroed Py_buffer; on success it must be released once.
    if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) } == -1 {
        return Err(PyErr::fetch(obj.py()));
    }
    let export = Export(view);
    let v = &*export.0;
    let ndim = usize::try_from(v.ndim).map_err(|_| PyBufferError::new_err("negative ndim"))?;
    let itemsize = usize::try_from(v.itemsize).map_err(|_| PyBufferError::new_err("negative item size"))?;
    let (shape, strides) = if ndim == 0 {
        (Vec::new(), Vec::new())
    } else if v.shape.is_null() || v.strides.is_null() {
        return Err(PyBufferError::new_err("the buffer has no shape or strides"));
    } else {
        // SAFETY: with PyBUF_STRIDES, shape and strides hold `ndim` entries each.
        let shape = unsafe { std::slice::from_raw_parts(v.shape, ndim) };
        let strides = unsafe { std::slice::from_raw_parts(v.strides, ndim) };
        let shape = shape
            .iter()
            .map(|&n| usize::try_from(n).map_err(|_| PyBufferError::new_err("negative extent")))
            .collect::<PyResult<Vec<usize>>>()?;
        (shape, strides.to_vec())
    };
    let base = v.buf.cast::<u8>();
    // SAFETY: the exporter guarantees the described elements while the export is held,
    // and `Export` is the view's owner.
    let view = unsafe { Strided::from_raw(base, shape, strides, itemsize, writable, Arc::new(export)) }
        .map_err(PyCoreError)?;
    Ok(Arc::new(view))
}

type SpanArg = (usize, usize, usize);

fn spans(sel: Vec<SpanArg>) -> Vec<Span> {
    sel.into_iter()
        .map(|(start, count, step)| Span { start, count, step })
        .collect()
}

#[pyclass(name = "ChunkEngine", module = "zarrlake._native", frozen, skip_from_py_object)]
pub struct PyChunkEngine(Arc<ChunkCodec>);

#[pymethods]
impl PyChunkEngine {
    /// For the array with this `zarr.json`; `kind` is NumPy's dtype kind letter.
    #[new]
    fn new(metadata: &str, kind: &str) -> PyResult<Self> {
        let kind = ElementKind::from_numpy(kind)
            .ok_or_else(|| PyValueError::new_err(format!("the native engine has no element kind '{kind}'")))?;
        Ok(PyChunkEngine(Arc::new(
            ChunkCodec::from_metadata(metadata, kind).map_err(PyCoreError)?,
        )))
    }

    #[getter]
    fn chunk_shape(&self) -> Vec<usize> {
        self.0.chunk_shape()
    }

    /// Writes `value` into chunks: items are (key, chunk selection, value selection,
    /// complete), selections one (start, count, step) per axis. Returns an awaitable.
    fn write<'py>(
        &self,
        py: Python<'py>,
        session: &PySession,
        value: &Bound<'py, PyAny>,
        items: Vec<(String, Vec<SpanArg>, Vec<SpanArg>, bool)>,
        write_empty_chunks: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = strided(value, false)?;
        let items = items
            .into_iter()
            .map(|(key, chunk_sel, value_sel, complete)| ChunkWrite {
                key,
                chunk_sel: spans(chunk_sel),
                value_sel: spans(value_sel),
                complete,
            })
            .collect();
        let (s, codec) = (session.0.clone(), self.0.clone());
        awaitable(py, async move {
            zarrlake_engine::write_chunks(&s, codec, value, items, write_empty_chunks).await
        })
    }

    /// Reads chunks into `out`: items are (key, chunk selection, output selection).
    /// The awaitable's result says, for each item, whether its chunk was stored.
    fn read<'py>(
        &self,
        py: Python<'py>,
        session: &PySession,
        out: &Bound<'py, PyAny>,
        items: Vec<(String, Vec<SpanArg>, Vec<SpanArg>)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let out = strided(out, true)?;
        let items = items
            .into_iter()
            .map(|(key, chunk_sel, out_sel)| ChunkRead {
                key,
                chunk_sel: spans(chunk_sel),
                out_sel: spans(out_sel),
            })
            .collect();
        let (s, codec) = (session.0.clone(), self.0.clone());
        awaitable(
            py,
            async move { zarrlake_engine::read_chunks(&s, codec, out, items).await },
        )
    }
}

/// The linked libzstd's version number, as numcodecs reports its own.
#[pyfunction]
pub fn zstd_version() -> u32 {
    zarrlake_engine::zstd_version()
}

/// The version of the libzstd registered for compressing zstd chunks, if any.
#[pyfunction]
pub fn registered_zstd_version() -> Option<u32> {
    zarrlake_engine::registered_zstd_version()
}

/// Registers the libzstd whose functions are at these addresses (`ZSTD_createCCtx`,
/// `ZSTD_freeCCtx`, `ZSTD_CCtx_setParameter`, `ZSTD_compress2`, `ZSTD_compressBound`,
/// `ZSTD_isError`) for compressing zstd chunks. Private: `zarrlake.codec_pipeline` passes
/// those of numcodecs' own zstd module, which stays loaded, as every extension module does.
#[pyfunction]
pub fn _register_zstd(addresses: zarrlake_engine::ZstdAddresses, version: u32) -> PyResult<bool> {
    // SAFETY: the caller's contract above; a wrong address would crash, so only the
    // package's own code calls this, with addresses it resolved by name.
    unsafe { zarrlake_engine::register_zstd(addresses, version) }.map_err(|e| PyCoreError(e).into())
}
