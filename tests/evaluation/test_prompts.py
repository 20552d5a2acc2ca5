"""Prompt files for `beatlm eval`: .txt with BPM/key/style read from the words, .jsonl whose fields win."""

import json

import pytest

from beatlm.evaluation.prompts import Prompt, parse_bpm, parse_key, parse_prompt, parse_style, read_prompts
from beatlm.utils.errors import BeatLMError


@pytest.mark.parametrize("text,bpm", [
    ("dark trap beat, 140 bpm, heavy 808", 140.0), ("boom bap at 90bpm", 90.0), ("drill 142 BPM", 142.0),
    ("lofi 72.5 bpm", 72.5), ("modern trap beat, bpm 137, key of G min", 137.0), ("BPM: 95, dusty", 95.0),
    ("trap beat with 808s", None), ("1400 bpm", None), ("5 bpm", None), ("bpm 1400", None),
])
def test_parse_bpm(text, bpm):
    assert parse_bpm(text) == bpm


@pytest.mark.parametrize("text,key", [
    ("sad piano in A minor", "A minor"), ("F# major trap", "F# major"), ("boom bap, key of Eb minor", "Eb minor"),
    ("in a minor, 90 bpm", "A minor"), ("bpm 137, key of G min", "G minor"), ("dark beat in c# min", "C# minor"),
    ("Bb Major chords", "Bb major"),
    ("in e flat minor", "Eb minor"), ("key: g sharp minor", "G# minor"), ("Db major", "Db major"),
    ("a major hit record", None), ("minor details", None), ("trap beat", None), ("in Fb major", None),
])
def test_parse_key(text, key):
    assert parse_key(text) == key


def test_parse_style_takes_the_longest_name():
    assert parse_style("a jazzy boom bap beat") == "jazz_rap"
    assert parse_style("Boom-bap, 90 bpm") == "boom_bap"
    assert parse_style("UK drill with slides") == "drill" and parse_style("a song") is None
    assert parse_prompt("  dark trap beat in F minor, 140 bpm ") == Prompt("dark trap beat in F minor, 140 bpm",
                                                                          140.0, "F minor", "trap")


def test_text_file(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("# evaluation set\n\nlofi beat, 80 bpm, in D minor\nsomething odd\n", encoding="utf-8")
    assert read_prompts(path) == [Prompt("lofi beat, 80 bpm, in D minor", 80.0, "D minor", "lofi"),
                                  Prompt("something odd")]


def test_jsonl_fields_win(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [{"prompt": "trap beat, 140 bpm in A minor", "bpm": 150, "key": "c# Minor", "style": "custom"},
            {"prompt": "boom bap, 90 bpm"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert read_prompts(path) == [Prompt("trap beat, 140 bpm in A minor", 150.0, "C# minor", "custom"),
                                  Prompt("boom bap, 90 bpm", 90.0, None, "boom_bap")]


@pytest.mark.parametrize("name,content,message", [
    ("p.txt", "\n# only a comment\n", "holds no prompt"),
    ("p.jsonl", "{\"prompt\": \"x\"}\nnot json\n", "p.jsonl:2: not JSON"),
    ("p.jsonl", "{\"text\": \"x\"}\n", "non-empty \"prompt\""),
    ("p.jsonl", "{\"prompt\": \"x\", \"bpm\": \"fast\"}\n", "bpm must be"),
    ("p.jsonl", "{\"prompt\": \"x\", \"key\": \"H dorian\"}\n", "key must look like"),
])
def test_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BeatLMError, match=message):
        read_prompts(path)
    with pytest.raises(BeatLMError, match="does not exist"):
        read_prompts(tmp_path / "missing.txt")
