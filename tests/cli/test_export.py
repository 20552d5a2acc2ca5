"""`beatlm export codec`: writes one file; refuses existing targets and wrong sources with one line."""

import pytest

from beatlm.cli.main import main


def test_export_codec_then_refuse_existing(codec_xp, tmp_path, capsys):
    _, xp = codec_xp
    out = tmp_path / "codec.th"
    assert main(["export", "codec", f"//sig/{xp.sig}", str(out)]) == 0
    first = out.read_bytes()
    assert main(["export", "codec", str(xp.folder), str(out)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("beatlm: error:")]
    assert len(errors) == 1 and "already exists" in errors[0] and "--force" in errors[0]
    assert out.read_bytes() == first
    assert main(["export", "codec", str(xp.folder), str(out), "--force"]) == 0


@pytest.mark.parametrize("source,expected", [("//sig/deadbeef", "no checkpoint found"),
                                             ("/nowhere/at/all", "no checkpoint found")])
def test_export_bad_source(source, expected, tmp_path, capsys):
    out = tmp_path / "codec.th"
    assert main(["export", "codec", source, str(out)]) == 2
    assert expected in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_export_of_an_export_is_refused(codec_xp, tmp_path, capsys):
    _, xp = codec_xp
    first = tmp_path / "a.th"
    assert main(["export", "codec", str(xp.folder), str(first)]) == 0
    assert main(["export", "codec", str(first), str(tmp_path / "b.th")]) == 2
    assert "already an exported file" in capsys.readouterr().err
