//! `Repository`: open/create repos, refs, history and session creation.

use std::collections::HashMap;

use pyo3::prelude::*;
use zarrlake_core::repo::OpenOptions;
use zarrlake_core::storage::StorageOptions;
use zarrlake_core::{Author, ObjectId, RepoConfig, Repository};

use crate::convert::{
    commit_dict, diff_tuples, opt_id, parse_id, session_info_tuple, CommitDict, NodeDiffTuple, SessionInfoTuple,
};
use crate::errors::PyCoreError;
use crate::progress::{notify, Throttle};

/// ({kind: (objects, bytes)}, unreachable objects kept as young, incremental)
type GcTuple = (HashMap<String, (u64, u64)>, u64, bool);
use crate::runtime::block;
use crate::session::PySession;

fn open_options(storage: Option<StorageOptions>, chunk_storage: Option<StorageOptions>) -> OpenOptions {
    OpenOptions {
        storage: storage.unwrap_or_default(),
        chunk_storage,
    }
}

#[pyclass(name = "Repository", module = "zarrlake._native", frozen, skip_from_py_object)]
pub struct PyRepository(pub Repository);

#[pymethods]
impl PyRepository {
    #[staticmethod]
    #[pyo3(signature = (
        location,
        hash_method="blake3",
        inline_threshold=512,
        virtual_prefixes=Vec::new(),
        chunk_location=None,
        storage_options=None,
        chunk_storage_options=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        location: String,
        hash_method: &str,
        inline_threshold: u64,
        virtual_prefixes: Vec<String>,
        chunk_location: Option<String>,
        storage_options: Option<StorageOptions>,
        chunk_storage_options: Option<StorageOptions>,
    ) -> PyResult<Self> {
        let config = RepoConfig {
            hash_method: hash_method.to_string(),
            inline_threshold,
            virtual_prefixes,
            chunk_location,
            ..RepoConfig::default()
        };
        let opts = open_options(storage_options, chunk_storage_options);
        block(py, Repository::create_with(&location, config, &opts)).map(PyRepository)
    }

    #[staticmethod]
    #[pyo3(signature = (location, storage_options=None, chunk_storage_options=None))]
    fn open(
        py: Python<'_>,
        location: String,
        storage_options: Option<StorageOptions>,
        chunk_storage_options: Option<StorageOptions>,
    ) -> PyResult<Self> {
        let opts = open_options(storage_options, chunk_storage_options);
        block(py, Repository::open_with(&location, &opts)).map(PyRepository)
    }

    #[staticmethod]
    #[pyo3(signature = (location, storage_options=None))]
    fn exists(py: Python<'_>, location: String, storage_options: Option<StorageOptions>) -> PyResult<bool> {
        block(
            py,
            Repository::exists_with(&location, &storage_options.unwrap_or_default()),
        )
    }

    /// Raises unless `location` and `storage_options` are usable (no request is made).
    #[staticmethod]
    #[pyo3(signature = (location, storage_options=None))]
    fn check_location(location: String, storage_options: Option<StorageOptions>) -> PyResult<()> {
        Repository::check_location(&location, &storage_options.unwrap_or_default()).map_err(|e| PyCoreError(e).into())
    }

    /// Names of the repos directly below `root`.
    #[staticmethod]
    #[pyo3(signature = (root, storage_options=None))]
    fn list(py: Python<'_>, root: String, storage_options: Option<StorageOptions>) -> PyResult<Vec<String>> {
        block(py, Repository::list(&root, &storage_options.unwrap_or_default()))
    }

    /// Deletes the repo; `progress(done, total)` is called as objects are deleted.
    #[staticmethod]
    #[pyo3(signature = (location, storage_options=None, chunk_storage_options=None, progress=None))]
    fn delete(
        py: Python<'_>,
        location: String,
        storage_options: Option<StorageOptions>,
        chunk_storage_options: Option<StorageOptions>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let opts = open_options(storage_options, chunk_storage_options);
        let throttle = Throttle::default();
        let report = move |done: usize, total: usize| {
            if throttle.due("", done == total) {
                notify(&progress, |py, cb| cb.call1(py, (done, total)));
            }
        };
        block(py, Repository::delete_with(&location, &opts, &report))
    }

    /// Keys of the repo's objects under `prefix`, sorted (tests and diagnostics).
    fn object_keys(&self, py: Python<'_>, prefix: String) -> PyResult<Vec<String>> {
        block(py, self.0.object_keys(&prefix))
    }

    /// Requests made through this handle so far, per kind.
    fn request_counts(&self) -> HashMap<String, u64> {
        self.0
            .request_counts()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn reset_request_counts(&self) {
        self.0.reset_request_counts();
    }

    #[getter]
    fn location(&self) -> String {
        self.0.location()
    }

    fn config(&self) -> HashMap<String, Py<PyAny>> {
        Python::attach(|py| {
            let c = self.0.config();
            let mut m = HashMap::new();
            m.insert(
                "format_version".to_string(),
                c.format_version
                    .into_pyobject(py)
                    .map(|o| o.into_any().unbind())
                    .unwrap_or_else(|_| py.None()),
            );
            m.insert(
                "hash_method".to_string(),
                c.hash_method
                    .clone()
                    .into_pyobject(py)
                    .map(|o| o.into_any().unbind())
                    .unwrap_or_else(|_| py.None()),
            );
            m.insert(
                "inline_threshold".to_string(),
                c.inline_threshold
                    .into_pyobject(py)
                    .map(|o| o.into_any().unbind())
                    .unwrap_or_else(|_| py.None()),
            );
            m.insert(
                "chunk_location".to_string(),
                c.chunk_location
                    .clone()
                    .into_pyobject(py)
                    .map(|o| o.into_any().unbind())
                    .unwrap_or_else(|_| py.None()),
            );
            m.insert(
                "virtual_prefixes".to_string(),
                c.virtual_prefixes
                    .clone()
                    .into_pyobject(py)
                    .map(|o| o.into_any().unbind())
                    .unwrap_or_else(|_| py.None()),
            );
            m
        })
    }

    /// (commit id or None, branch name or None)
    fn resolve(&self, py: Python<'_>, r: String) -> PyResult<(Option<String>, Option<String>)> {
        let res = block(py, self.0.resolve(&r))?;
        Ok((res.commit.map(|c| c.to_string()), res.branch))
    }

    /// The full id of the commit named by an id or a unique prefix of one (8-24 hex).
    fn resolve_commit(&self, py: Python<'_>, s: String) -> PyResult<String> {
        Ok(block(py, self.0.resolve_commit(&s))?.to_string())
    }

    /// Raises `InvalidNameError` unless `name` is a valid branch or tag name.
    #[staticmethod]
    fn validate_ref_name(kind: &str, name: &str) -> PyResult<()> {
        zarrlake_core::ref_names::validate_ref_name(kind, name).map_err(|e| PyCoreError(e).into())
    }

    fn branches(&self, py: Python<'_>) -> PyResult<Vec<(String, Option<String>)>> {
        let b = block(py, self.0.branches())?;
        Ok(b.into_iter().map(|(n, c)| (n, opt_id(c))).collect())
    }

    fn tags(&self, py: Python<'_>) -> PyResult<Vec<(String, Option<String>)>> {
        let t = block(py, self.0.tags())?;
        Ok(t.into_iter().map(|(n, c)| (n, opt_id(c))).collect())
    }

    fn create_branch(&self, py: Python<'_>, name: String, commit: String) -> PyResult<()> {
        let id = parse_id(&commit)?;
        block(py, self.0.create_branch(&name, id))
    }

    fn delete_branch(&self, py: Python<'_>, name: String) -> PyResult<()> {
        block(py, self.0.delete_branch(&name))
    }

    #[pyo3(signature = (name, commit, message, author_name, author_email))]
    fn create_tag(
        &self,
        py: Python<'_>,
        name: String,
        commit: String,
        message: Option<String>,
        author_name: String,
        author_email: String,
    ) -> PyResult<()> {
        let id = parse_id(&commit)?;
        let author = Author {
            name: author_name,
            email: author_email,
        };
        block(py, self.0.create_tag(&name, id, message, &author))
    }

    fn delete_tag(&self, py: Python<'_>, name: String) -> PyResult<()> {
        block(py, self.0.delete_tag(&name))
    }

    /// Commits from `start` back to the root, newest first (`limit` 0 = all).
    #[pyo3(signature = (start, limit=0))]
    fn log(&self, py: Python<'_>, start: Option<String>, limit: usize) -> PyResult<Vec<CommitDict>> {
        let start: Option<ObjectId> = start.map(|s| parse_id(&s)).transpose()?;
        let commits = block(py, self.0.log(start, limit))?;
        Ok(commits.iter().map(|c| commit_dict(c)).collect())
    }

    /// Every commit reachable from any start, each once, newest first.
    fn commit_graph(&self, py: Python<'_>, starts: Vec<Option<String>>) -> PyResult<Vec<CommitDict>> {
        let starts = starts
            .iter()
            .map(|s| s.as_deref().map(parse_id).transpose())
            .collect::<PyResult<Vec<Option<ObjectId>>>>()?;
        let commits = block(py, self.0.commit_graph(starts))?;
        Ok(commits.iter().map(|c| commit_dict(c)).collect())
    }

    fn get_commit(&self, py: Python<'_>, id: String) -> PyResult<CommitDict> {
        let id = parse_id(&id)?;
        if !block(py, self.0.commit_exists(&id))? {
            let missing = zarrlake_core::Error::RefNotFound(format!("Commit {id} was not found in commit history."));
            return Err(PyCoreError(missing).into());
        }
        let c = block(py, self.0.load_commit(&id))?;
        Ok(commit_dict(&c))
    }

    /// Points a branch at any commit; with `expected`, only if it is still there.
    #[pyo3(signature = (name, to, expected=None))]
    fn reset_branch(&self, py: Python<'_>, name: String, to: String, expected: Option<String>) -> PyResult<()> {
        let to = parse_id(&to)?;
        let expected = expected.map(|e| parse_id(&e)).transpose()?;
        block(py, self.0.reset_branch(&name, to, expected))
    }

    /// One commit in place of those after `since` on `name`; returns its id.
    fn squash(
        &self,
        py: Python<'_>,
        name: String,
        since: String,
        message: String,
        author_name: String,
        author_email: String,
    ) -> PyResult<String> {
        let since = parse_id(&since)?;
        let author = Author {
            name: author_name,
            email: author_email,
        };
        Ok(block(py, self.0.squash(&name, since, &message, &author))?.to_string())
    }

    /// (commits expired, commits that became the oldest of their line)
    fn expire(&self, py: Python<'_>, cutoff_micros: i64) -> PyResult<(Vec<String>, Vec<String>)> {
        let e = block(py, self.0.expire(cutoff_micros))?;
        let ids = |v: Vec<ObjectId>| v.iter().map(ObjectId::to_string).collect();
        Ok((ids(e.commits), ids(e.new_roots)))
    }

    /// ({kind: (objects, bytes)} deleted (or that would be, with `dry_run`), unreachable
    /// objects kept as younger than the grace period, whether the run was incremental)
    /// `progress(phase, done, total)` follows its long steps.
    #[pyo3(signature = (older_than_micros, dry_run, full, progress=None))]
    fn garbage_collect(
        &self,
        py: Python<'_>,
        older_than_micros: i64,
        dry_run: bool,
        full: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<GcTuple> {
        let throttle = Throttle::default();
        let report = move |phase: &str, done: u64, total: u64| {
            if progress.is_some() && throttle.due(phase, done == total) {
                notify(&progress, |py, cb| cb.call1(py, (phase, done, total)));
            }
        };
        let r = block(
            py,
            self.0.garbage_collect_with(older_than_micros, dry_run, full, &report),
        )?;
        let deleted = r.deleted.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Ok((deleted, r.young, r.incremental))
    }

    /// The newest commit of `start`'s history at or before `at_micros`.
    fn commit_as_of(&self, py: Python<'_>, start: String, at_micros: i64) -> PyResult<Option<String>> {
        let start = parse_id(&start)?;
        Ok(opt_id(block(py, self.0.commit_as_of(start, at_micros))?))
    }

    /// What changed from commit `from` to commit `to` (None: the empty repo), per node.
    #[pyo3(signature = (from_commit, to_commit, with_keys=false))]
    fn diff(
        &self,
        py: Python<'_>,
        from_commit: Option<String>,
        to_commit: Option<String>,
        with_keys: bool,
    ) -> PyResult<Vec<NodeDiffTuple>> {
        let from = from_commit.map(|s| parse_id(&s)).transpose()?;
        let to = to_commit.map(|s| parse_id(&s)).transpose()?;
        Ok(diff_tuples(block(py, self.0.diff(from, to, with_keys))?))
    }

    /// Keys changed by a commit and the node paths it deleted.
    fn commit_changes(&self, py: Python<'_>, id: String) -> PyResult<(Vec<String>, Vec<String>)> {
        let id = parse_id(&id)?;
        let c = block(py, self.0.load_changes(&id))?;
        Ok((c.keys.iter().map(str::to_string).collect(), c.deleted_nodes.clone()))
    }

    #[pyo3(signature = (branch, commit, for_writing, expires_in_micros, author_name, author_email, message=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_session(
        &self,
        py: Python<'_>,
        branch: Option<String>,
        commit: Option<String>,
        for_writing: bool,
        expires_in_micros: i64,
        author_name: String,
        author_email: String,
        message: Option<String>,
    ) -> PyResult<PySession> {
        let commit = commit.map(|c| parse_id(&c)).transpose()?;
        let author = Author {
            name: author_name,
            email: author_email,
        };
        let s = block(
            py,
            self.0
                .start_session(branch, commit, for_writing, expires_in_micros, author, message),
        )?;
        Ok(PySession(s))
    }

    fn join_session(&self, py: Python<'_>, id: String) -> PyResult<PySession> {
        block(py, self.0.join_session(&id)).map(PySession)
    }

    fn list_active_sessions(&self, py: Python<'_>) -> PyResult<Vec<SessionInfoTuple>> {
        let infos = block(py, self.0.list_active_sessions())?;
        Ok(infos.iter().map(session_info_tuple).collect())
    }

    /// Allows this handle to read virtual chunks under these URL prefixes.
    fn allow_virtual(&self, prefixes: Vec<String>) {
        self.0.allow_virtual(prefixes)
    }

    fn allowed_virtual_prefixes(&self) -> Vec<String> {
        self.0.allowed_virtual_prefixes()
    }

    fn __repr__(&self) -> String {
        format!("<zarrlake._native.Repository {}>", self.0.location())
    }
}
