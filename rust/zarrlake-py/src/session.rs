//! `Session`: the key/value surface the Zarr store and the repo API use.
//! Hot-path methods come in a blocking and an `_async` form.

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use zarrlake_core::{ChunkRef, Session};

use crate::awaitable::awaitable;
use crate::buffer::PyBufferBytes;
use crate::convert::{opt_id, to_range, RangeArg};
use crate::progress::{notify, Throttle};
use crate::runtime::block;

#[pyclass(name = "Session", module = "zarrlake._native", frozen, skip_from_py_object)]
pub struct PySession(pub Session);

fn owned(data: PyBackedBytes) -> Bytes {
    // Zero-copy: the Python bytes object stays alive as the owner.
    Bytes::from_owner(data)
}

/// Python bytes out; `None` for a missing key.
struct OptBytes(Option<Bytes>);

impl<'py> IntoPyObject<'py> for OptBytes {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.0 {
            Some(b) => PyBytes::new(py, &b).into_any(),
            None => py.None().into_bound(py),
        })
    }
}

/// Zero-copy `Buffer` out; `None` for a missing key.
struct OptView(Option<Bytes>);

impl<'py> IntoPyObject<'py> for OptView {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.0 {
            Some(b) => Bound::new(py, PyBufferBytes(b))?.into_any(),
            None => py.None().into_bound(py),
        })
    }
}

struct OptViewList(Vec<Option<Bytes>>);

impl<'py> IntoPyObject<'py> for OptViewList {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items: Vec<Bound<'py, PyAny>> = self
            .0
            .into_iter()
            .map(|b| OptView(b).into_pyobject(py))
            .collect::<PyResult<_>>()?;
        Ok(pyo3::types::PyList::new(py, items)?.into_any())
    }
}

type CommitResult = (Option<String>, Option<PySession>, Vec<String>, Vec<String>);
type RefTuple = (String, String, u64, u64, Option<String>, Option<i64>);

#[pymethods]
impl PySession {
    #[getter]
    fn id(&self) -> String {
        self.0.id().to_string()
    }
    #[getter]
    fn writable(&self) -> bool {
        self.0.writable()
    }
    #[getter]
    fn branch(&self) -> Option<String> {
        self.0.branch()
    }
    #[getter]
    fn base_commit(&self) -> Option<String> {
        opt_id(self.0.base_commit())
    }
    #[getter]
    fn author_name(&self) -> String {
        self.0.author().name.clone()
    }
    #[getter]
    fn author_email(&self) -> String {
        self.0.author().email.clone()
    }
    #[getter]
    fn message(&self) -> Option<String> {
        self.0.message().map(str::to_string)
    }
    #[getter]
    fn start_micros(&self) -> i64 {
        self.0.start_micros()
    }
    #[getter]
    fn expires_micros(&self) -> Option<i64> {
        self.0.expires_micros()
    }
    #[getter]
    fn abandoned(&self) -> bool {
        self.0.abandoned()
    }
    #[getter]
    fn committed(&self) -> Option<String> {
        opt_id(self.0.committed())
    }
    #[getter]
    fn stored(&self) -> bool {
        self.0.is_stored()
    }
    fn has_changes(&self) -> bool {
        self.0.has_changes()
    }
    /// Stores the session's record so that other processes can join it.
    fn persist(&self, py: Python<'_>) -> PyResult<()> {
        block(py, self.0.persist())
    }
    fn check_writable(&self) -> PyResult<()> {
        self.0
            .check_writable()
            .map_err(|e| crate::errors::PyCoreError(e).into())
    }

    // ---- reads ----
    #[pyo3(signature = (key, byte_range=None))]
    fn get(&self, py: Python<'_>, key: String, byte_range: Option<RangeArg>) -> PyResult<OptBytes> {
        let r = to_range(byte_range)?;
        block(py, self.0.get(&key, r)).map(OptBytes)
    }
    /// Like `get`, but a zero-copy `Buffer` instead of `bytes`.
    #[pyo3(signature = (key, byte_range=None))]
    fn get_view(&self, py: Python<'_>, key: String, byte_range: Option<RangeArg>) -> PyResult<OptView> {
        let r = to_range(byte_range)?;
        block(py, self.0.get(&key, r)).map(OptView)
    }
    #[pyo3(signature = (key, byte_range=None))]
    fn get_async<'py>(
        &self,
        py: Python<'py>,
        key: String,
        byte_range: Option<RangeArg>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = to_range(byte_range)?;
        let s = self.0.clone();
        awaitable(py, async move { s.get(&key, r).await.map(OptView) })
    }
    fn get_many_async<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<(String, Option<RangeArg>)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let reqs = requests
            .into_iter()
            .map(|(k, r)| Ok((k, to_range(r)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let s = self.0.clone();
        awaitable(py, async move { s.get_many(reqs).await.map(OptViewList) })
    }
    fn exists(&self, py: Python<'_>, key: String) -> PyResult<bool> {
        block(py, self.0.exists(&key))
    }
    fn exists_async<'py>(&self, py: Python<'py>, key: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.0.clone();
        awaitable(py, async move { s.exists(&key).await })
    }
    fn getsize(&self, py: Python<'_>, key: String) -> PyResult<Option<u64>> {
        block(py, self.0.getsize(&key))
    }
    fn getsize_async<'py>(&self, py: Python<'py>, key: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.0.clone();
        awaitable(py, async move { s.getsize(&key).await })
    }
    fn list_prefix(&self, py: Python<'_>, prefix: String) -> PyResult<Vec<String>> {
        block(py, self.0.list_prefix(&prefix))
    }
    fn list_prefix_async<'py>(&self, py: Python<'py>, prefix: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.0.clone();
        awaitable(py, async move { s.list_prefix(&prefix).await })
    }
    fn list_dir(&self, py: Python<'_>, prefix: String) -> PyResult<Vec<String>> {
        block(py, self.0.list_dir(&prefix))
    }
    fn list_dir_async<'py>(&self, py: Python<'py>, prefix: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.0.clone();
        awaitable(py, async move { s.list_dir(&prefix).await })
    }

    /// Every metadata document in the session as (key, bytes), sorted by key.
    fn metadata_documents<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        let docs = self.0.metadata_documents().map_err(crate::errors::PyCoreError)?;
        Ok(docs.into_iter().map(|(k, b)| (k, PyBytes::new(py, &b))).collect())
    }

    // ---- writes ----
    fn set(&self, py: Python<'_>, key: String, data: PyBackedBytes) -> PyResult<()> {
        let d = owned(data);
        block(py, self.0.set(&key, d))
    }
    fn set_async<'py>(&self, py: Python<'py>, key: String, data: PyBackedBytes) -> PyResult<Bound<'py, PyAny>> {
        let d = owned(data);
        let s = self.0.clone();
        awaitable(py, async move { s.set(&key, d).await })
    }
    fn set_many(&self, py: Python<'_>, items: Vec<(String, PyBackedBytes)>) -> PyResult<()> {
        let items = items.into_iter().map(|(k, d)| (k, owned(d))).collect();
        block(py, self.0.set_many(items))
    }
    fn set_many_async<'py>(&self, py: Python<'py>, items: Vec<(String, PyBackedBytes)>) -> PyResult<Bound<'py, PyAny>> {
        let items = items.into_iter().map(|(k, d)| (k, owned(d))).collect();
        let s = self.0.clone();
        awaitable(py, async move { s.set_many(items).await })
    }
    fn set_if_not_exists_async<'py>(
        &self,
        py: Python<'py>,
        key: String,
        data: PyBackedBytes,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d = owned(data);
        let s = self.0.clone();
        awaitable(py, async move { s.set_if_not_exists(&key, d).await })
    }
    /// Records virtual references: (key, url, offset, length, etag, mtime_micros).
    fn set_virtual_refs(&self, py: Python<'_>, refs: Vec<RefTuple>) -> PyResult<()> {
        let items = refs
            .into_iter()
            .map(|(k, url, offset, len, etag, mtime)| (k, ChunkRef::new_virtual(url, offset, len, etag, mtime)))
            .collect();
        block(py, self.0.set_refs(items))
    }
    fn delete(&self, py: Python<'_>, key: String) -> PyResult<()> {
        block(py, self.0.delete(&key))
    }
    fn delete_async<'py>(&self, py: Python<'py>, key: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.0.clone();
        awaitable(py, async move { s.delete(&key).await })
    }
    fn delete_dir_async<'py>(&self, py: Python<'py>, prefix: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.0.clone();
        awaitable(py, async move { s.delete_dir(&prefix).await })
    }

    /// What changed from commit `from` (None: the empty repo) to this session, per node.
    #[pyo3(signature = (from_commit, with_keys=false))]
    fn diff_from(
        &self,
        py: Python<'_>,
        from_commit: Option<String>,
        with_keys: bool,
    ) -> PyResult<Vec<crate::convert::NodeDiffTuple>> {
        let from = from_commit.map(|s| crate::convert::parse_id(&s)).transpose()?;
        Ok(crate::convert::diff_tuples(block(
            py,
            self.0.diff_from(from, with_keys),
        )?))
    }

    // ---- session lifecycle ----
    #[pyo3(signature = (limit=0))]
    fn status(&self, py: Python<'_>, limit: usize) -> PyResult<Vec<(String, bool)>> {
        block(py, self.0.status(limit))
    }
    /// (new commit id or None when there was nothing to commit, the next session on the
    /// branch or None, keys several writers wrote with different values, bookkeeping
    /// failures after the commit landed)
    /// `progress(done, total)` follows the chunk changes merged into manifests.
    #[pyo3(signature = (message, auto_ff, next_for_writing, progress=None))]
    fn commit(
        &self,
        py: Python<'_>,
        message: String,
        auto_ff: bool,
        next_for_writing: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<CommitResult> {
        let throttle = Throttle::default();
        let report = move |done: u64, total: u64| {
            if progress.is_some() && throttle.due("", done == total) {
                notify(&progress, |py, cb| cb.call1(py, (done, total)));
            }
        };
        let (outcome, next) = block(
            py,
            self.0.commit_and_continue(&message, auto_ff, next_for_writing, &report),
        )?;
        Ok((
            opt_id(outcome.commit),
            next.map(PySession),
            outcome.overwritten,
            outcome.warnings,
        ))
    }
    fn fast_forward(&self, py: Python<'_>) -> PyResult<Option<String>> {
        block(py, self.0.fast_forward()).map(opt_id)
    }
    fn update_expiration(&self, py: Python<'_>, expires_in_micros: i64) -> PyResult<i64> {
        block(py, self.0.update_expiration(expires_in_micros))
    }
    fn abandon(&self, py: Python<'_>) -> PyResult<()> {
        block(py, self.0.abandon())
    }
    #[pyo3(signature = (name, commit, message=None))]
    fn create_tag(&self, py: Python<'_>, name: String, commit: String, message: Option<String>) -> PyResult<()> {
        let id = crate::convert::parse_id(&commit)?;
        block(py, self.0.create_tag(&name, id, message))
    }
    fn new_branch(&self, py: Python<'_>, name: String) -> PyResult<()> {
        block(py, self.0.new_branch(&name))
    }

    fn __repr__(&self) -> String {
        format!("<zarrlake._native.Session {}>", self.0.id())
    }
}
