"""Captions: schema validation, near-duplicates, the offline grammar, resume after a kill, and a chat model
behind a fake OpenAI-compatible server on loopback (good answers, 429, 500, malformed JSON, timeouts)."""

import json
import logging
import time

import pytest

from beatlm.dataset_builders import captions
from beatlm.dataset_builders.chat import ChatSource
from beatlm.dataset_builders.records import JsonlWriter, read_jsonl
from beatlm.utils.errors import BeatLMError

SECRET = "sk-test-DO-NOT-LEAK-1234567890"


def _valid(**changes):
    caption = {"description": "Dark trap beat with sliding 808s and eerie bells.", "style": "Trap", "bpm": 140,
               "key": "f min", "moods": ["Dark", "dark", "menacing"], "instruments": ["808", "bells"],
               "query": "dark trap type beat"}
    caption.update(changes)
    return caption


def test_validate_normalises_and_rejects():
    ok = captions.validate_caption(_valid())
    assert ok["style"] == "trap" and ok["key"] == "F minor" and ok["moods"] == ["dark", "menacing"]
    assert captions.validate_caption(_valid(style="boom bap", key="C#"))["style"] == "boom_bap"
    assert captions.validate_caption(_valid(key="Bb major", bpm=90.0))["key"] == "Bb major"
    assert captions.validate_caption(_valid(key=None))["key"] is None
    for bad in (dict(bpm="fast"), dict(bpm=400), dict(bpm=True), dict(key="H minor"), dict(style="polka"),
                dict(moods=[]), dict(moods="dark"), dict(description="short"), dict(query=None)):
        with pytest.raises(ValueError):
            captions.validate_caption(_valid(**bad))
    with pytest.raises(ValueError):
        captions.validate_caption(["not", "a", "dict"])


def test_schema_lists_every_field_and_style():
    schema = captions.response_schema()["properties"]["captions"]["items"]
    assert set(schema["required"]) == set(schema["properties"])
    assert "trap" in schema["properties"]["style"]["enum"]


def test_deduper_catches_rewordings_only():
    dedup = captions.Deduper(0.8)
    dedup.add("Dark trap beat with sliding 808s and eerie bells")
    assert dedup.is_duplicate("dark trap beat, with sliding 808s and eerie bells!")
    assert not dedup.is_duplicate("Warm boom bap loop with dusty vinyl and a jazzy upright bass")
    with pytest.raises(BeatLMError):
        captions.Deduper(0.0)


def test_jsonl_skips_broken_lines_and_repairs_an_unfinished_tail(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\nnot json\n[1]\n\n{"b": 2}\n{"c": ')
    records, broken = read_jsonl(path)
    assert records == [{"a": 1}, {"b": 2}] and broken == 3
    with JsonlWriter(path) as writer:
        assert writer.repaired == len('{"c": ')
        writer.write({"c": 3})
    assert read_jsonl(path) == ([{"a": 1}, {"b": 2}, {"c": 3}], 2)


def test_template_backend_is_deterministic_and_resumes_after_a_kill(tmp_path):
    out, ref = tmp_path / "captions.jsonl", tmp_path / "ref.jsonl"
    summary = captions.write_captions(ref, 8, captions.TemplateSource(seed=1), progress=False)
    assert summary.done == 8
    expected = read_jsonl(ref)[0]
    assert {r["style"] for r in expected} >= {"trap", "drill"} and all(r["query"] for r in expected)
    assert all(r["source"]["backend"] == "template" for r in expected)

    captions.write_captions(out, 5, captions.TemplateSource(seed=1), progress=False)
    text = out.read_text()
    out.write_text(text[:-20])  # a kill -9 in the middle of writing the 5th line
    summary = captions.write_captions(out, 8, captions.TemplateSource(seed=1), progress=False)
    assert summary.skipped == 4 and summary.done == 4 and summary.extra["unfinished line removed"] == 1
    got, broken = read_jsonl(out)
    assert broken == 0 and got == expected
    assert len({r["id"] for r in got}) == 8
    again = captions.write_captions(out, 8, captions.TemplateSource(seed=1), progress=False)
    assert again.done == 0 and again.skipped == 8 and read_jsonl(out)[0] == expected


def _source(server, **kwargs):
    options = dict(per_request=3, max_requests=20, max_retries=2, backoff=0.01, timeout=0.3, max_failures=3)
    options.update(kwargs)
    return ChatSource("fake-model", SECRET, base_url=server.url, **options)


def _no_leak(capsys, caplog, *paths):
    captured = capsys.readouterr()
    texts = [captured.out, captured.err, caplog.text] + [p.read_text() for p in paths if p.exists()]
    assert all(SECRET not in t for t in texts)


def test_chat_good_answers(fake_chat, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "c.jsonl"
    source = _source(fake_chat)
    summary = captions.write_captions(out, 5, source, progress=True)
    records, _ = read_jsonl(out)
    assert len(records) == 5 and summary.done == 5 and source.requests == 2
    headers, body = fake_chat.requests[0]
    assert headers["authorization"] == f"Bearer {SECRET}"  # the key is used ...
    assert body["model"] == "fake-model" and body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["captions"]
    assert records[0]["source"] == {"backend": "openai", "model": "fake-model", "request": 1}
    _no_leak(capsys, caplog, out)  # ... and never shown or written


def test_chat_retries_429_500_and_timeouts(fake_chat, tmp_path):
    fake_chat.script = ["429", "500", "timeout"]
    source = _source(fake_chat, max_retries=3)
    start = time.monotonic()
    summary = captions.write_captions(tmp_path / "c.jsonl", 3, source, progress=False)
    assert summary.done == 3 and summary.extra["retries"] == 3 and source.requests == 4
    assert time.monotonic() - start < 3.0


def test_chat_malformed_and_invalid_answers_are_counted_and_skipped(fake_chat, tmp_path):
    good = fake_chat.caption()
    mixed = json.dumps({"captions": [good, dict(good, bpm="fast"), dict(good, description=good["description"] + "!")]})
    fake_chat.script = ["malformed", lambda: mixed]
    summary = captions.write_captions(tmp_path / "c.jsonl", 4, _source(fake_chat), progress=False)
    assert summary.done == 4 and summary.extra["failed requests"] == 1 and summary.extra["invalid"] == 1
    assert summary.extra["duplicates"] == 1 and len(summary.failed) == 2  # the failed request and the invalid one


def test_chat_gives_up_on_a_failing_server_and_keeps_what_it_has(fake_chat, tmp_path):
    out = tmp_path / "c.jsonl"
    fake_chat.script = ["ok"] + ["500"] * 20
    with pytest.raises(BeatLMError, match="in a row failed"):
        captions.write_captions(out, 10, _source(fake_chat, max_retries=1, max_failures=2), progress=False)
    assert len(read_jsonl(out)[0]) == 3


def test_chat_request_budget(fake_chat, tmp_path):
    summary = captions.write_captions(tmp_path / "c.jsonl", 10, _source(fake_chat, max_requests=2), progress=False)
    assert summary.done == 6 and "budget" in summary.format()
    assert len(fake_chat.requests) == 2


def test_chat_bad_key_and_unreachable_server_fail_fast_without_the_key(fake_chat, tmp_path, capsys, caplog):
    fake_chat.script = ["401"]
    with pytest.raises(BeatLMError, match="401") as info:
        captions.write_captions(tmp_path / "c.jsonl", 3, _source(fake_chat), progress=False)
    assert SECRET not in str(info.value)
    source = ChatSource("m", SECRET, base_url="http://127.0.0.1:9/v1", timeout=2.0, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(BeatLMError, match="cannot reach") as info:
        captions.write_captions(tmp_path / "d.jsonl", 3, source, progress=False)
    assert SECRET not in str(info.value) and time.monotonic() - start < 2.0
    _no_leak(capsys, caplog)
    with pytest.raises(BeatLMError, match="--backend template"):
        ChatSource("m", "", base_url=fake_chat.url)
