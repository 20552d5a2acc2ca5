import subprocess
import sys

from beatlm import __version__
from beatlm.cli.main import main


def test_version(capsys):
    proc = subprocess.run([sys.executable, "-m", "beatlm", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"beatlm {__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "export" in capsys.readouterr().out


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for command in ("generate", "quickstart", "doctor", "export"):
        assert command in out
