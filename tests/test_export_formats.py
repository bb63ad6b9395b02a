"""Export on small messy gold: round trips, omissions reported one by one, totals that add up."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

from annotate.errors import DataError, OutputExistsError
from annotate.export import FORMATS, ExportOptions, export, export_records
from annotate.formats.brat import read_brat_dir
from annotate.formats.conll import read_conll
from annotate.formats.jsonl import write_records
from annotate.formats.spacy_docbin import read_docbin
from annotate.records.model import Record, Relation, Span

TEXT1 = "Boris Johnson met Xi Jinping in Beijing.\nThe UN\nsaid so."
TEXT2 = "Intro\nThe Foreign Office spokesman 😀 said: the café\r\nopened."


def at(text: str, s: str, n: int = 0) -> int:
    i = -1
    for _ in range(n + 1):
        i = text.index(s, i + 1)
    return i


def span(text: str, sid: int, s: str, label: str, *, n: int = 0, recorded: str | None = None) -> Span:
    start = at(text, s, n)
    return Span(sid, start, start + len(s), label, text=recorded)


def messy_records() -> list[Record]:
    r1 = Record(
        text=TEXT1,
        doc_id="doc-1",
        entities=[
            span(TEXT1, 0, "Boris Johnson", "Person"),
            span(TEXT1, 1, "Johnson", "Person"),  # nested: loses to 0 in one-tag formats
            span(TEXT1, 2, "Xi Jinping", "Person"),
            span(TEXT1, 3, "Beijing", "Location"),
            span(TEXT1, 4, "UN\nsaid", "Organisation"),  # across a line break
            span(TEXT1, 5, "ing in", "Location"),  # cuts "Jinping": misaligned
        ],
        relations=[
            Relation(0, 0, 3, "visited"),
            Relation(1, 2, 3, "leader_of"),
            Relation(2, 0, 99, "knows"),  # dangling: no span 99
            Relation(3, 5, 3, "part_of"),  # endpoint 5 is misaligned
        ],
        confirmed=True,
        annotator="ann",
        example_id=1,
    )
    r2 = Record(
        text=TEXT2,
        doc_id="doc/2 with spaces",  # not a safe file name
        entities=[
            Span(7, at(TEXT2, "\nThe"), at(TEXT2, "\nThe") + 4, "Org Unit"),  # starts at a line break
            span(
                TEXT2, 8, "Foreign Office", "Organisation", recorded="Foreign  Office"
            ),  # recorded text differs
            span(TEXT2, 9, "😀", "Emoji"),
            span(TEXT2, 10, "café", "Location"),
            Span(11, 50, 500, "Location"),  # offsets past the end
            span(TEXT2, 12, "Foreign Office spokesman", "Person"),
        ],
        relations=[Relation(5, 12, 8, "member of"), Relation(6, 11, 8, "in")],
        confirmed=False,
        annotator="ann",
        example_id=2,
    )
    r3 = Record(text="Nothing to see here.", doc_id="doc-3", confirmed=True, annotator="ann", example_id=3)
    return [r1, r2, r3]


def one_split(tmp_path: Path, name: str = "out", **kwargs: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"to": FORMATS, "split": "train=1"}
    args.update(kwargs)
    return export_records(messy_records(), tmp_path / name, ExportOptions(**args))  # type: ignore[arg-type]


def keyed(r: Record) -> tuple[list[tuple[int, int, int, str]], list[tuple[int, int, int, str]]]:
    return (
        sorted((s.id, s.start, s.end, s.label) for s in r.entities),
        sorted((x.id, x.head, x.tail, x.label) for x in r.relations),
    )


def test_every_format_adds_up_and_the_manifest_lists_each_omission(tmp_path: Path) -> None:
    report = one_split(tmp_path)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    assert manifest == report.manifest
    for fmt in FORMATS:
        totals = manifest["totals"][fmt]
        assert totals["spans"]["in"] == 12 and totals["relations"]["in"] == 6
        assert totals["spans"]["in"] == totals["spans"]["written"] + totals["spans"]["reported"], fmt
        assert (
            totals["relations"]["in"] == totals["relations"]["written"] + totals["relations"]["reported"]
        ), fmt
        listed = [o for o in manifest["not_represented"] if o["format"] == fmt]
        assert sum(o["kind"] == "span" for o in listed) == totals["spans"]["reported"]
        assert sum(o["kind"] == "relation" for o in listed) == totals["relations"]["reported"]
    reasons = {
        (o["format"], o["doc_id"], o["kind"], o["id"]): o["reason"] for o in manifest["not_represented"]
    }
    assert reasons[("brat", "doc/2 with spaces", "span", 11)] == "invalid_offsets"
    assert reasons[("brat", "doc-1", "relation", 2)] == "endpoint_missing"
    assert reasons[("brat", "doc/2 with spaces", "relation", 6)] == "endpoint_invalid"
    assert reasons[("conll", "doc-1", "span", 1)] == "overlap"
    assert reasons[("conll", "doc-1", "relation", 0)] == "format_has_no_relations"
    assert reasons[("spacy", "doc-1", "relation", 2)] == "endpoint_missing"
    assert ("spacy", "doc-1", "span", 1) not in reasons  # overlaps stay in doc.spans
    notes = {(n["doc_id"], n["id"]): n["note"] for n in manifest["notes"]}
    assert notes[("doc/2 with spaces", 8)] == "recorded_text_mismatch"
    changes = {(c["doc_id"], c["id"]): c for c in manifest["alignment_changes"]}
    assert (
        changes[("doc-1", 5)]["new_text"] == "Jinping in"
        and changes[("doc-1", 5)]["reason"] == "expanded_to_tokens"
    )
    assert manifest["tool"]["version"] and manifest["split"]["seed"] == 0
    assert manifest["counts"]["splits"]["train"]["labels"]["Person"] == 4


def test_strict_alignment_refuses_misaligned_spans_and_their_relations_in_token_formats(
    tmp_path: Path,
) -> None:
    report = one_split(tmp_path, alignment="strict")
    reasons = {(o.format, o.kind, o.id): o.reason for t in report.tallies.values() for o in t.omissions}
    assert reasons[("spacy", "span", 5)] == "misaligned"
    assert reasons[("spacy", "relation", 3)] == "endpoint_not_written"
    assert reasons[("conll", "span", 5)] == "misaligned"
    assert ("brat", "span", 5) not in reasons  # character formats keep it exactly
    assert report.balanced


def test_brat_round_trip_gives_back_the_gold_exactly(tmp_path: Path) -> None:
    one_split(tmp_path)
    back = {r.doc_id: r for r in read_brat_dir(tmp_path / "out" / "brat" / "train")}
    for gold in messy_records():
        got = back[gold.doc_id]
        assert got.text == gold.text
        ents, rels = keyed(gold)
        # only the span with offsets past the end (and the relations to it or to nothing) are missing
        ents = [e for e in ents if e[2] <= len(gold.text)]
        rels = [r for r in rels if r[0] not in (2, 6)]
        assert keyed(got) == (ents, rels)


def test_brat_writes_line_breaks_as_fragments_and_keeps_crlf_text_byte_exact(tmp_path: Path) -> None:
    one_split(tmp_path)
    train = tmp_path / "out" / "brat" / "train"
    stems = json.loads((train / "doc_ids.json").read_text("utf-8"))
    by_id = {v: k for k, v in stems.items()}
    assert by_id["doc-1"] == "doc-1" and "/" not in by_id["doc/2 with spaces"]
    ann1 = (train / "doc-1.ann").read_text("utf-8")
    un = TEXT1.index("UN\nsaid")
    assert f"T4\tOrganisation {un} {un + 2};{un + 3} {un + 7}\tUN said" in ann1.splitlines()
    assert (train / f"{by_id['doc/2 with spaces']}.txt").read_bytes() == TEXT2.encode("utf-8")
    conf = (tmp_path / "out" / "brat" / "annotation.conf").read_text("utf-8")
    assert "Org_Unit" in conf and "<OVERLAP>" in conf


def test_docbin_round_trip_gives_the_same_spans_and_relations(tmp_path: Path) -> None:
    report = one_split(tmp_path)
    changed = {(c["doc_id"], c["id"]): tuple(c["to"]) for c in report.manifest["alignment_changes"]}
    back = {r.doc_id: r for r in read_docbin(report.path("spacy", "train"))}
    for gold in messy_records():
        got = back[gold.doc_id]
        assert got.text == gold.text and got.doc_hash == gold.doc_hash
        want_ents = sorted(
            (s.id, *changed.get((gold.doc_id, s.id), (s.start, s.end)), s.label)
            for s in gold.entities
            if s.end <= len(gold.text)
        )
        assert sorted((s.id, s.start, s.end, s.label) for s in got.entities) == want_ents
        assert keyed(got)[1] == [r for r in keyed(gold)[1] if r[0] not in (2, 6)]


def test_docbin_holds_ents_spans_rel_and_meta_as_spacy_reads_them(tmp_path: Path) -> None:
    report = one_split(tmp_path, span_key="gold")
    nlp = spacy.blank("en")
    docs = {
        d.user_data["doc_id"]: d
        for d in DocBin().from_disk(report.path("spacy", "train")).get_docs(nlp.vocab)
    }
    doc = docs["doc-1"]
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Boris Johnson", "Person"),
        ("Xi Jinping", "Person"),  # "Jinping in" (expanded) lost the overlap to the longer-and-earlier span
        ("Beijing", "Location"),
        ("UN\nsaid", "Organisation"),
    ]
    assert len(doc.spans["gold"]) == 6 and "Johnson" in [s.text for s in doc.spans["gold"]]
    assert doc.user_data["doc_hash"] == messy_records()[0].doc_hash
    assert doc.user_data["source"] == "record:1"
    rel = doc.user_data[("._.", "rel", None, None)]
    boris, xi, beijing = 0, 3, 6  # token starts
    assert rel[(boris, beijing)] == {"visited": 1.0}
    assert rel[(xi, beijing)] == {"leader_of": 1.0}
    from spacy.tokens import Doc

    assert Doc.has_extension("rel") and doc._.rel[(boris, beijing)] == {"visited": 1.0}


def test_docbin_docs_are_the_tokenizers_docs_with_the_entities_and_nothing_else(tmp_path: Path) -> None:
    """The DocBin stores only the attributes a tokenizer and the entities set; read back, every
    token attribute equals that of the text tokenised afresh with the same entities."""
    from spacy.attrs import ENT_IOB, ENT_TYPE, IDX, IS_SPACE, LEMMA, NORM, ORTH, POS, SPACY, TAG

    report = one_split(tmp_path)
    nlp = spacy.blank("en")
    read = list(DocBin().from_disk(report.path("spacy", "train")).get_docs(nlp.vocab))
    assert len(read) == 3
    attrs = [ORTH, NORM, SPACY, IDX, IS_SPACE, ENT_IOB, ENT_TYPE, TAG, POS, LEMMA]
    texts = {r.doc_id: r.text for r in messy_records()}
    for doc in read:
        fresh = nlp.make_doc(texts[doc.user_data["doc_id"]])
        fresh.ents = [fresh.char_span(e.start_char, e.end_char, label=e.label_) for e in doc.ents]
        assert doc.text == fresh.text
        assert doc.to_array(attrs).tolist() == fresh.to_array(attrs).tolist()
        assert [t.norm_ for t in doc] == [t.norm_ for t in fresh]


def test_conll_has_a_docstart_per_doc_and_tags_only_the_chosen_spans(tmp_path: Path) -> None:
    report = one_split(tmp_path)
    docs = list(read_conll(report.path("conll", "train")))
    assert len(docs) == 3
    pairs = [p for sentence in docs[0] for p in sentence]
    assert pairs[:3] == [("Boris", "B-Person"), ("Johnson", "I-Person"), ("met", "O")]
    assert ("UN", "B-Organisation") in pairs and ("said", "I-Organisation") in pairs
    tags = [t for _, t in pairs]
    assert tags.count("B-Person") == 2
    # no entity is cut by a sentence break
    for sentence in docs[0]:
        assert not sentence[0][1].startswith("I-")
    text = report.path("conll", "train").read_text("utf-8")
    assert text.count("-DOCSTART- -X- -X- O") == 3 and "\r" not in text


def test_hf_rows_have_one_tag_per_token_from_labels_json(tmp_path: Path) -> None:
    report = one_split(tmp_path)
    labels = json.loads((tmp_path / "out" / "hf" / "labels.json").read_text("utf-8"))
    assert labels[0] == "O" and "B-Person" in labels and "I-Org Unit" in labels
    rows = [json.loads(line) for line in report.path("hf", "train").read_text("utf-8").splitlines()]
    assert {r["doc_id"] for r in rows} == {"doc-1", "doc/2 with spaces", "doc-3"}
    for row in rows:
        assert len(row["tokens"]) == len(row["ner_tags"]) and set(row["ner_tags"]) <= set(labels)
        assert all(tok.strip() for tok in row["tokens"])


def test_jsonl_is_the_gold_cleaned_of_unusable_spans_and_dangling_relations(tmp_path: Path) -> None:
    report = one_split(tmp_path)
    rows = [json.loads(line) for line in report.path("jsonl", "train").read_text("utf-8").splitlines()]
    r2 = next(r for r in rows if r["doc_id"] == "doc/2 with spaces")
    assert 11 not in [e["id"] for e in r2["entities"]] and [r["id"] for r in r2["relations"]] == [5]
    assert r2["confirmed"] is False and r2["example_id"] == 2


def test_only_confirmed_leaves_out_unconfirmed_documents_and_says_so(tmp_path: Path) -> None:
    report = one_split(tmp_path, only_confirmed=True)
    assert report.excluded_docs == 1
    assert report.manifest["excluded"][0]["doc_id"] == "doc/2 with spaces"
    assert report.tallies["brat"].spans_in == 6


def test_export_of_a_file_is_byte_deterministic_and_refuses_an_existing_dir(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    write_records(gold, messy_records())
    a = export(gold, tmp_path / "a", ExportOptions(to=FORMATS))
    export(gold, tmp_path / "b", ExportOptions(to=FORMATS))
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert a.manifest["input"]["sha256"].startswith("sha256:") and a.manifest["input"]["records"] == 3
    with pytest.raises(OutputExistsError):
        export(gold, tmp_path / "a", ExportOptions(to=["jsonl"]))
    export(gold, tmp_path / "a", ExportOptions(to=["jsonl"], force=True))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["jsonl", "manifest.json"]


def test_brat_reader_joins_line_break_fragments_and_refuses_real_gaps(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("New\nYork and Paris", encoding="utf-8")
    (tmp_path / "a.ann").write_text(
        "T1\tGPE 0 3;4 8\tNew York\nT2\tGPE 13 18\tParis\nR1\tnear Arg1:T1 Arg2:T2\n"
    )
    [rec] = read_brat_dir(tmp_path)
    assert rec.doc_id == "a" and keyed(rec) == ([(1, 0, 8, "GPE"), (2, 13, 18, "GPE")], [(1, 1, 2, "near")])
    (tmp_path / "a.ann").write_text("T1\tGPE 0 3;13 18\tNew Paris\n")
    with pytest.raises(DataError) as e:
        read_brat_dir(tmp_path)
    assert "a.ann:1" in str(e.value) and "discontinuous" in str(e.value)


def test_brat_reader_names_the_line_of_a_span_id_that_is_not_a_number(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Ana met Bob", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tP 0 3\tAna\nTx\tP 8 11\tBob\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_brat_dir(tmp_path)
    assert e.value.code == "E181" and "a.ann:2" in str(e.value) and "malformed brat line" in str(e.value)


def test_stratified_export_gives_each_split_its_share_of_a_rare_label(tmp_path: Path) -> None:
    def rec(n: int) -> Record:
        text = f"Doc {n} about Paris."
        start = text.index("Paris")
        return Record(
            text=text, doc_id=f"s{n}", entities=[Span(0, start, start + 5, "RARE" if n < 4 else "GPE")]
        )

    report = export_records(
        [rec(n) for n in range(20)],
        tmp_path / "out",
        ExportOptions(to=["spacy", "conll"], split="train=0.5,dev=0.5", stratify=True),
    )
    splits = report.manifest["counts"]["splits"]
    assert report.manifest["split"]["stratify"] is True
    assert splits["train"]["labels"]["RARE"] == splits["dev"]["labels"]["RARE"] == 2
    assert report.balanced and report.tallies["spacy"].spans_written == 20


CHARS = st.sampled_from(list("ab .\n\r\t") + ["\r\n", "😀", "e\u0301", "\u2028", "\xa0"])


@settings(max_examples=60, deadline=None)
@given(st.lists(CHARS, min_size=1, max_size=25).map("".join), st.data())
def test_brat_round_trip_is_exact_for_any_text_and_span(text: str, data: st.DataObject) -> None:
    spans = []
    for sid in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text) - 1))
        end = data.draw(st.integers(start + 1, len(text)))
        spans.append(Span(sid, start, end, data.draw(st.sampled_from(["A", "B c"]))))
    rels = [Relation(0, 0, len(spans) - 1, "r")]
    rec = Record(text=text, doc_id="p", entities=spans, relations=rels)
    with tempfile.TemporaryDirectory() as tmp:
        report = export_records([rec], Path(tmp) / "out", ExportOptions(to=["brat"], split="train=1"))
        lost = {o.id for o in report.tallies["brat"].omissions if o.kind == "span"}
        # only spans made of nothing but line breaks cannot be brat spans
        assert all(not text[s.start : s.end].strip("\n\r\u2028") for s in spans if s.id in lost)
        [back] = read_brat_dir(report.path("brat", "train"))
        assert back.text == text
        assert [(s.id, s.start, s.end, s.label) for s in back.entities] == [
            (s.id, s.start, s.end, s.label) for s in spans if s.id not in lost
        ]
