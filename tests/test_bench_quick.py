"""The benchmark still runs: ``python -m bench --quick`` end to end, against a real local Doccano.

It checks that every row is measured and the report is written, never the timings (quick mode
uses tiny sizes on a shared machine; the numbers mean nothing there).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROWS = (
    "pre-annotation (",
    "pre-annotation, 2 processes",
    "push 30 tasks (~10 ents, 2 rels)",
    "push 30 tasks |",
    "re-push unchanged 30",
    "pull + validate + export 30",
    "routed push 30 tasks, 3 annotators, overlap 2",
    "validate |",
    "memory: preannotate",
    "memory: validate",
    "memory: export",
    "dask: `--scheduler local:2`",
    "dask: scheduler + 2 workers vs 1",
    "dask: client peak RSS",
)


@pytest.mark.doccano
@pytest.mark.slow
def test_quick_bench_measures_every_row_and_writes_the_report(tmp_path: Path) -> None:
    if os.environ.get("ANNOTATE_SKIP_DOCCANO") == "1":
        pytest.skip("ANNOTATE_SKIP_DOCCANO=1")
    env = dict(os.environ)
    # The same Doccano install the session fixture uses (conftest.doccano_home).
    env.setdefault("ANNOTATE_HOME", str(REPO / ".cache" / "annotate-home"))
    out = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--workdir", str(tmp_path / "work")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    for key in ("| cores |", "| CPU |", "| Python |", "| spaCy |", "| model |", "python -m bench --quick"):
        assert key in report
    for name in ROWS:
        line = next((x for x in report.splitlines() if x.startswith(f"| {name}")), None)
        assert line is not None, f"row {name!r} missing from the report"
        result = line.split("|")[4].strip()
        assert re.match(r"^[\d,.]+(×| s| records/s|× faster)", result), f"row {name!r} has no result: {line}"
    # The printed table is the same one.
    assert "| re-push unchanged 30 |" in proc.stdout
