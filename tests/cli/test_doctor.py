from beatlm.cli import doctor
from beatlm.cli.main import main


def test_doctor_reports_versions_and_tools(capsys):
    rc = main(["doctor", "--no-network"])
    out = capsys.readouterr().out
    for name in ("torch", "audiocraft", "dora-search", "ffmpeg", "fluidsynth", "soundfonts", "free disk", "dora dir"):
        assert name in out
    assert rc == 0, out


def test_doctor_names_the_fix_for_missing_tools(monkeypatch, capsys):
    monkeypatch.setattr(doctor.shutil, "which", lambda tool: None)
    monkeypatch.setattr(doctor, "_version", lambda dist: None if dist == "audiocraft" else "1.0")
    assert main(["doctor", "--no-network"]) == 1
    out = capsys.readouterr().out
    assert "apt-get install -y ffmpeg" in out and "audiocraft: make setup" in out


def test_offline_detection(monkeypatch):
    monkeypatch.setattr(doctor, "reachable", lambda host, port, timeout=2.0: host == "pypi.org")
    rows = {name: finding for name, finding, _ in doctor.checks(network=True)}
    assert rows["network pypi.org"] == "reachable"
    assert rows["network huggingface.co"].startswith("unreachable")
    assert "offline" in rows["model hub"]
