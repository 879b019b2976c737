"""``python -m afenv_bench.prepare DIR``: build the benchmark's C++ libraries into ``DIR``.

An image build runs this in a stage that holds this module, ``_root``, ``errors`` and ``cpp/``
only (``afenv.build.plan.BENCH_BUILD_MODULES``), so that a change to the rest of the benchmark's
Python code reuses the compiled libraries instead of compiling them again (about 25 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

from afenv_bench import _root


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m afenv_bench.prepare DIR", file=sys.stderr)
        return 2
    for library in _root.prepare(Path(argv[0])):
        print(library)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
