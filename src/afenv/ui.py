"""How afenv talks while it works: quiet, normal, verbose or JSON lines.

Progress goes to stderr so that stdout carries only results (a table, or one JSON document).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["UI"]


@dataclass
class UI:
    mode: str = "normal"  # quiet | normal | verbose | json
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    started: float = field(default_factory=time.monotonic)
    # Validation phases run in two threads: one line is one write, never two halves.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _emit(self, kind: str, text: str, **fields: object) -> None:
        if self.mode == "json":
            record = {"event": kind, "elapsed": round(self.elapsed(), 2), "message": text, **fields}
            line = json.dumps(record, sort_keys=True)
        else:
            line = f"[{self.elapsed():7.1f}s] {text}"
        with self._lock:
            print(line, file=self.stream, flush=True)

    def info(self, text: str, **fields: object) -> None:
        """A phase of the work: shown unless quiet."""
        if self.mode != "quiet":
            self._emit("info", text, **fields)

    def step(self, image: str, text: str) -> None:
        """A build step of one image ("Step 3/14 : RUN …"), shortened unless verbose."""
        if self.mode == "quiet":
            return
        line = text if self.mode == "verbose" else _shorten(text, 110)
        self._emit("step", f"{image}: {line}", image=image)

    def detail(self, image: str, text: str) -> None:
        """Build output beyond the step lines: only when verbose."""
        if self.mode in {"verbose", "json"} and text.strip():
            self._emit("output", f"{image}: {text.rstrip()}", image=image)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
