"""Phase: ROOT's own distributed-RDataFrame tutorials, from the ROOT installed in the singleuser
image, run from the client against the cluster (``afenv_runtime.tutorials``: the tutorial's
``LocalCluster(...)`` becomes the cluster's address, nothing else changes).

A tutorial passes when it exits 0, prints no ROOT ``Error in <`` line and saved its figure (if
it saves one) as a real PNG; its output and figure go to ``tutorials/<name>/`` in the report.
Tutorials that need what a facility here does not run are reported as skipped, with the reason.
"""

from __future__ import annotations

import time

from afenv.cluster import as_client
from afenv.validate.phase import Outcome, PhaseContext
from afenv.validate.report import Check
from afenv_runtime.tutorials import RUN, SKIPPED

__all__ = ["TutorialsPhase"]

INSIDE = "/tmp/afenv-tutorials"
TUTORIAL_TIMEOUT = 900
PNG = b"\x89PNG\r\n\x1a\n"


class TutorialsPhase:
    name = "tutorials"
    needs: tuple[str, ...] = ("registration_and_versions",)

    def run(self, context: PhaseContext) -> Outcome:
        checks = [Check.of(f"tutorial.{name}", None, why) for name, why in SKIPPED.items()]
        timing: dict[str, float] = {}
        client = context.cluster.notebook
        for name, figure in RUN.items():
            context.ui.info(f"ROOT tutorial {name}")
            started = time.monotonic()
            inside = f"{INSIDE}/{name}"
            done = client.exec(
                as_client(["python3", "-m", "afenv_runtime.tutorials", name, "--out", inside]),
                timeout=TUTORIAL_TIMEOUT,
            )
            timing[f"tutorial_{name}"] = round(time.monotonic() - started, 2)
            local = context.report_dir / "tutorials" / name
            local.mkdir(parents=True, exist_ok=True)
            (local / "output.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
            errors = [
                line.strip() for line in done.stderr.splitlines() if line.startswith("Error in <")
            ]
            problem = ""
            if done.exit_code != 0:
                last = (done.stderr.strip().splitlines() or [f"exit {done.exit_code}"])[-1]
                problem = f"exit {done.exit_code}: {last[:300]}"
            elif errors:
                problem = errors[0][:300]
            elif figure is not None:
                try:
                    client.copy_out(inside, local)
                    if (local / figure).read_bytes()[:8] != PNG:
                        problem = f"{figure} is not a PNG"
                except OSError:
                    problem = f"no {figure} saved"
            seconds = timing[f"tutorial_{name}"]
            done_what = f"{figure} saved" if figure else "ran"
            message = problem or f"{done_what} in {seconds:.1f}s"
            checks.append(Check.of(f"tutorial.{name}", not problem, message))
        return Outcome(checks=tuple(checks), timing=timing)
