"""``python -m afenv_bench`` is the same as the ``afenv-bench`` command."""

import sys

from afenv_bench.cli import main

sys.exit(main())
