"""Progress bars for long work (deletes, garbage collection, export, ingest, big commits).

A bar is a callable ``bar(done, total)`` that Rust or Python calls as work advances. It
shows only on a terminal or in Jupyter, only when enabled (``progress=False`` turns it
off), and only once the work is big enough to be worth watching. It never raises: a
failing display must not stop the work it describes. rich is imported on first display.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

#: Steps (objects, chunks) the work must have before a bar is shown.
THRESHOLD = 1000


def _interactive() -> bool:
    stream = sys.stderr
    if stream is not None and getattr(stream, "isatty", lambda: False)():
        return True
    return "ipykernel" in sys.modules  # Jupyter: rich renders the bar as a widget


class ProgressBar:
    """``bar(done, total)`` draws ``description`` with ``done`` of ``total`` steps.

    Use it as a context manager, or call :meth:`close` when the work ends.
    """

    def __init__(self, description: str, enabled: bool = True, threshold: int = THRESHOLD) -> None:
        self.description = description
        self.enabled = bool(enabled) and _interactive()
        self.threshold = threshold
        self._progress: Any = None
        self._task: Any = None
        self._phase: str | None = None
        self._label = description

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        try:
            if self._progress is None:
                if total < self.threshold:
                    return
                from rich.console import Console
                from rich.progress import Progress

                # stderr: stdout stays the command's output (`--json` included)
                self._progress = Progress(console=Console(stderr=True), transient=True)
                self._progress.start()
                self._task = self._progress.add_task(self._label, total=total)
            self._progress.update(self._task, completed=done, total=total)
        except Exception:  # noqa: BLE001  (a display must never stop the work)
            self.enabled = False

    def phase(self, name: str, done: int, total: int) -> None:
        """``bar(done, total)`` for work in steps of several kinds: each new ``name``
        (e.g. "reading manifests", "deleting chunks") starts counting again."""
        if name != self._phase:
            self._phase = name
            if self._progress is not None:
                try:
                    self._progress.update(self._task, description=f"{self.description}: {name}", completed=0)
                except Exception:  # noqa: BLE001
                    self.enabled = False
            self._label = f"{self.description}: {name}"
        self(done, total)

    def close(self) -> None:
        if self._progress is not None:
            try:
                self._progress.stop()
            except Exception:  # noqa: BLE001
                pass
            self._progress = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
