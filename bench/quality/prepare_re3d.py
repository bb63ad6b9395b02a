"""Split the re3d test data for the learning-loop measurement (see QUALITY.md).

Writes, into the output directory:
  train-gold.jsonl  uk-government + centcom, the documents to train on;
  test-gold.jsonl   us-state-department, held out, the gold to evaluate against;
  test-input.jsonl  the held-out texts only (doc_id, text, title), the input to pre-annotate.

re3d's labels are CamelCase (``Organisation``); recipe labels are upper case, so each label
and relation type is renamed the same way on every side (``MilitaryPlatform`` ->
``MILITARY_PLATFORM``). Nothing else changes: texts, offsets and doc_ids are re3d's own.

    python -m bench.quality.prepare_re3d OUT_DIR
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "re3d"
TRAIN = ("uk-government", "centcom")
TEST = ("us-state-department",)


def upper_snake(name: str) -> str:
    """``MilitaryPlatform`` -> ``MILITARY_PLATFORM``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def convert(obj: dict) -> dict:
    obj = dict(obj)
    obj["entities"] = [dict(e, label=upper_snake(e["label"])) for e in obj.get("entities", [])]
    obj["relations"] = [dict(r, type=upper_snake(r["type"])) for r in obj.get("relations", [])]
    return obj


def lines(sources: tuple[str, ...]) -> list[dict]:
    out: list[dict] = []
    for name in sources:
        with open(DATA / f"{name}.jsonl", encoding="utf-8") as f:
            out.extend(convert(json.loads(line)) for line in f if line.strip())
    return out


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, rows: list[dict]) -> None:
        with open(out / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    train, test = lines(TRAIN), lines(TEST)
    write("train-gold.jsonl", train)
    write("test-gold.jsonl", test)
    write(
        "test-input.jsonl",
        [{"doc_id": r["doc_id"], "text": r["text"], "title": r.get("title", "")} for r in test],
    )
    print(f"{len(train)} training documents, {len(test)} held-out documents in {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/quality")
