"""Branches, tags, commits, checkouts and writes, checked against a pure-Python model.

A hypothesis state machine drives one repo handle (the "user") and a second handle on the
same repo (an "other writer" whose commits land under the user's session), and after every
step compares what the repo shows with the model: every key's value in the session, the
branches, the tags, the session's branch and base commit, and the commit log.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import zarrlake
from conftest import BACKENDS, fresh_client, make_client
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from zarr.core.buffer import cpu

# Metadata documents (stored in the snapshot), node documents (whose deletion deletes the
# node, for conflict checks), chunk keys, and a loose key that belongs to no node.
KEYS = ["zarr.json", "a/zarr.json", "a/c/0", "a/c/1", "b/.zattrs", "b/.zgroup", "b/c/0", "loose"]
# Small values are inlined; the 600-byte one goes to content-addressed chunk storage.
# Only the JSON objects may be written to metadata keys; the rest are refused there.
VALUES = st.sampled_from([b"", b"0", b"1", b"xyz", b'{"v": 1}', b"{}", bytes(range(256)) * 2 + b"!" * 88])
METADATA_NAMES = set(zarrlake._native.METADATA_NAMES)


def _refused(key: str, value: bytes) -> bool:
    """Whether a write of `value` to `key` is refused: not a JSON object, for a metadata key."""
    if key.rsplit("/", 1)[-1] not in METADATA_NAMES:
        return False
    try:
        return not isinstance(json.loads(value), dict)
    except ValueError:
        return True
# Branch and tag names share one namespace.
NAMES = ["dev", "feat", "feat/x", "v1"]
REF_NAMES = st.sampled_from([*NAMES, "main"])

Snapshot = dict[str, bytes]


@dataclass
class ModelCommit:
    parent: str | None
    snapshot: Snapshot
    changed: dict[str, bytes | None]


@dataclass
class Model:
    commits: dict[str, ModelCommit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # The session.
    branch: str | None = "main"
    base: str | None = None
    writable: bool = True
    changes: dict[str, bytes | None] = field(default_factory=dict)

    def snapshot(self, commit: str | None) -> Snapshot:
        return {} if commit is None else self.commits[commit].snapshot

    def view(self) -> Snapshot:
        out = dict(self.snapshot(self.base))
        for k, v in self.changes.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out

    def history(self, commit: str | None) -> list[str]:
        out = []
        while commit is not None:
            out.append(commit)
            commit = self.commits[commit].parent
        return out

    def resolve(self, ref: str) -> tuple[str | None, str | None] | None:
        """(commit, branch) like the repo resolves refs, or None if unknown."""
        if ref in self.branches:
            return self.branches[ref], ref
        if ref == "main":
            return None, "main"
        if ref in self.tags:
            return self.tags[ref], None
        if ref in self.commits:
            return ref, None
        return None

    def add_commit(self, cid: str, parent: str | None, changes: dict[str, bytes | None]) -> None:
        snap = dict(self.snapshot(parent))
        for k, v in changes.items():
            if v is None:
                snap.pop(k, None)
            else:
                snap[k] = v
        self.commits[cid] = ModelCommit(parent, snap, dict(changes))

    def commits_since(self, base: str | None, tip: str | None) -> list[str]:
        out = []
        while tip is not None and tip != base:
            out.append(tip)
            tip = self.commits[tip].parent
        return out


def _dirname(key: str) -> str:
    return key.rsplit("/", 1)[0] if "/" in key else ""


def _deleted_nodes(changes: dict[str, bytes | None]) -> set[str]:
    node_names = {"zarr.json", ".zarray", ".zgroup"}
    return {_dirname(k) for k, v in changes.items() if v is None and k.rsplit("/", 1)[-1] in node_names}


def _under(key: str, node: str) -> bool:
    return node == "" or key == node or key.startswith(node + "/")


def conflicts(ours: dict[str, bytes | None], theirs: dict[str, bytes | None]) -> set[str]:
    """The design's conflict rule: the same key on both sides, or a node deleted on one
    side and anything inside it changed on the other."""
    out = set(ours) & set(theirs)
    out |= {k for n in _deleted_nodes(theirs) for k in ours if _under(k, n)}
    out |= {k for n in _deleted_nodes(ours) for k in theirs if _under(k, n)}
    return out


@contextmanager
def expect_warning(*matches: str) -> Iterator[None]:
    """Asserts that a UserWarning containing each of ``matches`` is raised, and no other."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    for match in matches:
        assert any(match in m for m in messages), (match, messages)
    for m in messages:
        assert any(match in m for match in matches), (m, matches)


class VersioningMachine(RuleBasedStateMachine):
    #: Makes a fresh client per example (set per backend by the test below).
    new_client: Callable[[], zarrlake.Client]

    def __init__(self) -> None:
        super().__init__()
        client = self.new_client()
        self.repo = client.create_repo("org/model")
        # A second, independent handle on the same repo: its commits land under our session.
        self.other = fresh_client(client).get_repo("org/model", checkout=False)
        self.model = Model()

    # ---- helpers ------------------------------------------------------------------------

    @property
    def native(self) -> zarrlake._native.Session:
        return self.repo._core.session_native

    def can_write(self) -> bool:
        return self.model.writable and self.model.branch is not None

    def leaving(self) -> list[str]:
        """The warning a checkout gives when it leaves uncommitted changes behind."""
        return ["has uncommitted changes"] if self.model.writable and self.model.changes else []

    def start_session(self, commit: str | None, branch: str | None, writable: bool) -> None:
        self.model.base = commit
        self.model.branch = branch
        self.model.writable = writable
        self.model.changes = {}

    # ---- writes -------------------------------------------------------------------------

    @rule(key=st.sampled_from(KEYS), value=VALUES, via_store=st.booleans())
    def write(self, key: str, value: bytes, via_store: bool) -> None:
        def do() -> None:
            if via_store:
                self.repo.store.set_sync(key, cpu.Buffer.from_bytes(value))
            else:
                self.native.set(key, value)

        if not self.can_write():
            with pytest.raises(zarrlake.ReadOnlyError):
                do()
        elif _refused(key, value):
            with pytest.raises(zarrlake.InvalidInputError, match="invalid metadata document"):
                do()
        else:
            do()
            self.model.changes[key] = value

    @rule(key=st.sampled_from(KEYS), via_store=st.booleans())
    def delete(self, key: str, via_store: bool) -> None:
        def do() -> None:
            if via_store:
                self.repo.store.delete_sync(key)
            else:
                self.native.delete(key)

        if self.can_write():
            do()
            self.model.changes[key] = None
        else:
            with pytest.raises(zarrlake.ReadOnlyError):
                do()

    # ---- commits ------------------------------------------------------------------------

    @rule(message=st.sampled_from(["m", "a longer commit message"]))
    def commit(self, message: str) -> None:
        m = self.model
        if m.branch is None:
            with pytest.raises(zarrlake.NotOnBranchError):
                self.repo.commit(message)
            return
        if not m.writable:
            with pytest.raises(zarrlake.ReadOnlyError):
                self.repo.commit(message)
            return
        if not m.changes:
            with expect_warning("No changes to commit"):
                assert self.repo.commit(message) == m.base
            return
        tip = m.branches.get(m.branch)
        base = m.base
        if tip is not None and tip != base:
            clash = set()
            for c in m.commits_since(base, tip):
                clash |= conflicts(m.changes, m.commits[c].changed)
            if clash:
                event("commit: conflict")
                with pytest.raises(zarrlake.ConflictError) as info:
                    self.repo.commit(message)
                assert set(info.value.paths) == clash
                return
            event("commit: rebased")
            base = tip
        with expect_warning():
            cid = self.repo.commit(message)
        assert cid is not None and cid not in m.commits
        assert self.repo.commit_log()[0].message == message
        m.add_commit(cid, base, m.changes)
        m.branches[m.branch] = cid
        self.start_session(cid, m.branch, True)

    @rule()
    def fast_forward(self) -> None:
        m = self.model
        if m.branch is None:
            with pytest.raises(zarrlake.NotOnBranchError):
                self.repo.fast_forward()
            return
        tip = m.branches.get(m.branch)
        if tip is None or tip == m.base:
            assert self.repo.fast_forward() == m.base
            return
        clash = set()
        for c in m.commits_since(m.base, tip):
            clash |= conflicts(m.changes, m.commits[c].changed)
        if clash:
            event("fast_forward: conflict")
            with pytest.raises(zarrlake.ConflictError) as info:
                self.repo.fast_forward()
            assert set(info.value.paths) == clash
            return
        event("fast_forward: moved")
        assert self.repo.fast_forward() == tip
        m.base = tip

    # ---- refs ---------------------------------------------------------------------------

    @rule(name=REF_NAMES)
    def new_branch(self, name: str) -> None:
        m = self.model
        if name == m.branch or name in m.branches or name in m.tags:
            with pytest.raises(zarrlake.RefExistsError):
                self.repo.new_branch(name)
            return
        self.repo.new_branch(name)
        if m.base is not None:
            m.branches[name] = m.base
        m.branch = name

    @rule(name=REF_NAMES, for_writing=st.booleans())
    def checkout_branch(self, name: str, for_writing: bool) -> None:
        m = self.model
        resolved = m.resolve(name)
        if resolved is None:
            with pytest.raises(zarrlake.RefNotFoundError):
                self.repo.checkout(name, for_writing=for_writing)
            return
        commit, branch = resolved
        with expect_warning(*self.leaving(), *([] if branch else ["not on a branch tip"])):
            assert self.repo.checkout(name, for_writing=for_writing) == commit
        self.start_session(commit, branch, for_writing)

    @precondition(lambda self: self.model.tags)
    @rule(data=st.data(), for_writing=st.booleans())
    def checkout_tag(self, data: st.DataObject, for_writing: bool) -> None:
        name = data.draw(st.sampled_from(sorted(self.model.tags)), label="tag")
        self.checkout_branch(name, for_writing)

    @precondition(lambda self: self.model.commits)
    @rule(data=st.data(), for_writing=st.booleans())
    def checkout_commit(self, data: st.DataObject, for_writing: bool) -> None:
        cid = data.draw(st.sampled_from(sorted(self.model.commits)), label="commit")
        with expect_warning(*self.leaving(), "not on a branch tip"):
            assert self.repo.checkout(cid, for_writing=for_writing) == cid
        self.start_session(cid, None, for_writing)

    @rule(name=REF_NAMES, data=st.data(), at_commit=st.booleans())
    def tag(self, name: str, data: st.DataObject, at_commit: bool) -> None:
        m = self.model
        target = m.base
        commit_id = None
        if at_commit and m.commits:
            commit_id = target = data.draw(st.sampled_from(sorted(m.commits)), label="tag target")
        if target is None:
            with pytest.raises(zarrlake.InvalidInputError):
                self.repo.tag(name, commit_id)
            return
        if name == m.branch or name == "main" or name in m.branches or name in m.tags:
            with pytest.raises(zarrlake.RefExistsError):
                self.repo.tag(name, commit_id)
            return
        t = self.repo.tag(name, commit_id, message="tagged")
        assert (t.id, t.commit_id, t.message) == (name, target, "tagged")
        m.tags[name] = target

    @rule(name=REF_NAMES)
    def delete_branch(self, name: str) -> None:
        m = self.model
        if name == "main" or name == m.branch:
            with pytest.raises(zarrlake.InvalidInputError):
                self.repo.delete_branch(name)
            return
        if name not in m.branches:
            with pytest.raises(zarrlake.RefNotFoundError):
                self.repo.delete_branch(name)
            return
        self.repo.delete_branch(name)
        del m.branches[name]

    @rule(name=REF_NAMES)
    def delete_tag(self, name: str) -> None:
        m = self.model
        if name not in m.tags:
            with pytest.raises(zarrlake.RefNotFoundError):
                self.repo.delete_tag(name)
            return
        self.repo.delete_tag(name)
        del m.tags[name]

    # ---- another writer -----------------------------------------------------------------

    @precondition(lambda self: self.model.branches)
    @rule(
        data=st.data(),
        changes=st.dictionaries(st.sampled_from(KEYS), st.none() | VALUES, min_size=1, max_size=3),
    )
    def other_writer_commits(self, data: st.DataObject, changes: dict[str, bytes | None]) -> None:
        m = self.model
        # The other writer writes only what is accepted (the user's refused writes are
        # covered by `write`).
        changes = {k: v for k, v in changes.items() if v is None or not _refused(k, v)}
        if not changes:
            return
        # Mostly the user's own branch, so the user's next commit has to rebase.
        if m.branch in m.branches and data.draw(st.booleans(), label="user's branch"):
            branch = m.branch
        else:
            branch = data.draw(st.sampled_from(sorted(m.branches)), label="other's branch")
        tip = m.branches[branch]
        assert self.other.checkout(branch) == tip
        for k, v in changes.items():
            if v is None:
                self.other.store.delete_sync(k)
            else:
                self.other.store.set_sync(k, cpu.Buffer.from_bytes(v))
        cid = self.other.commit("other writer")
        assert cid is not None
        m.add_commit(cid, tip, changes)
        m.branches[branch] = cid

    @precondition(lambda self: set(self.model.branches) - {"main"})
    @rule(data=st.data())
    def other_writer_deletes_branch(self, data: st.DataObject) -> None:
        m = self.model
        name = data.draw(st.sampled_from(sorted(set(m.branches) - {"main"})), label="branch")
        # The other handle is on no branch of ours: it may delete the user's branch.
        with expect_warning("not on a branch tip"):
            self.other.checkout(m.branches[name], for_writing=False)
        self.other.delete_branch(name)
        del m.branches[name]

    # ---- invariants ---------------------------------------------------------------------

    @invariant()
    def session_matches(self) -> None:
        s = self.native
        assert s.branch == self.model.branch
        assert s.base_commit == self.model.base
        assert s.writable == self.model.writable

    @invariant()
    def values_match(self) -> None:
        view = self.model.view()
        for k in KEYS:
            assert self.native.get(k) == view.get(k), k
            got = self.repo.store.get_sync(k)
            assert (None if got is None else got.to_bytes()) == view.get(k), k
        assert sorted(self.native.list_prefix("")) == sorted(view)

    @invariant()
    def refs_match(self) -> None:
        assert sorted(self.repo.branches()) == sorted(self.model.branches)
        assert sorted(self.repo.tags()) == sorted(self.model.tags)
        assert dict(self.repo._core.native.branches()) == self.model.branches
        assert dict(self.repo._core.native.tags()) == self.model.tags

    @invariant()
    def log_matches(self) -> None:
        log = self.repo.commit_log()
        expected = self.model.history(self.model.base)
        assert len(log) == len(expected)
        assert [c.id for c in log] == expected
        assert [c.parent_commit for c in log] == [self.model.commits[c].parent for c in expected]

    @initialize()
    def starts_empty(self) -> None:
        assert self.repo.branches() == []
        assert self.repo.tags() == []
        assert len(self.repo.commit_log()) == 0


#: Examples per backend: memory runs the most; the others check the same laws where each
#: request goes to a disk or an S3 server.
EXAMPLES = {"memory": 100, "local": 30, "s3": 10}


@pytest.mark.parametrize("backend", BACKENDS)
def test_versioning_model(request: pytest.FixtureRequest, backend: str, tmp_path) -> None:
    class Machine(VersioningMachine):
        new_client = staticmethod(lambda: make_client(request, backend, tmp_path))

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=EXAMPLES[backend],
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
