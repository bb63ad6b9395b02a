"""Print the QUALITY.md table from the eval-*.json files that bench/quality/run.sh writes.

python -m bench.quality.summarize build/quality
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RUNS = (
    ("baseline", "en_core_web_sm + label map (untrained)"),
    ("scratch", "trained from scratch"),
    ("finetuned", "en_core_web_sm NER fine-tuned"),
)


def main(out_dir: str) -> None:
    print(
        "| pre-annotation | strict P | strict R | strict F1 | macro F1 | overlap F1 | kept | deleted | "
        "added | relabelled | shifted | edits |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, name in RUNS:
        path = Path(out_dir) / f"eval-{key}.json"
        if not path.exists():
            continue
        j = json.loads(path.read_text(encoding="utf-8"))
        s, o = j["entities"]["strict"], j["entities"]["overlap"]
        e = j["correction_effort"]["spans"]
        cells = [
            name,
            *(f"{x:.3f}" for x in (s["micro"]["precision"], s["micro"]["recall"], s["micro"]["f1"])),
            f"{s['macro']['f1']:.3f}",
            f"{o['micro']['f1']:.3f}",
            *(str(e[k]) for k in ("kept", "deleted", "added", "relabelled", "boundary_shifted", "edits")),
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/quality")
