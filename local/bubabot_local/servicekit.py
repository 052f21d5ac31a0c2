"""Stand-in ``launchctl`` and ``systemctl`` for testing ``remi-ops service``.

Tiny Python scripts written into a folder put first on PATH: each appends its argv as
one JSON line to ``calls.jsonl`` and answers from ``responses.json`` (by its whole argv
joined with spaces, else up to its first non-option argument — ``systemctl --user show``
— else by that argument alone — ``launchctl print``; exit 0 and no output when nothing
is set), so a test asserts the exact commands a real manager would have got.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TOOLS = ("launchctl", "systemctl")

_SCRIPT = """#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).resolve().parent
with open(here / "calls.jsonl", "a", encoding="utf-8") as fh:
    fh.write(json.dumps([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]]) + "\\n")
responses = json.loads((here / "responses.json").read_text()) if (
    here / "responses.json").exists() else {{}}
args = sys.argv[1:]
at = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
name = pathlib.Path(sys.argv[0]).name
keys = [" ".join([name, *args]), " ".join([name, *args[:at + 1]]),
        " ".join([name, *args[at:at + 1]])]
code, out = next((responses[k] for k in keys if k in responses), [0, ""])
print(out, end="")
sys.exit(code)
"""


class StandIns:
    """The stand-ins in ``folder``; :meth:`install` puts them first on ``os.environ['PATH']``
    (tests restore it with monkeypatch)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for tool in TOOLS:
            script = folder / tool
            script.write_text(_SCRIPT.format(python=sys.executable), encoding="utf-8")
            script.chmod(0o755)

    def path_with_us(self, path: str) -> str:
        return os.pathsep.join([str(self.folder), path])

    def respond(self, key: str, exit_code: int, output: str = "") -> None:
        """Answer ``key`` (``"launchctl print"``, ``"systemctl --user show …"``) this way."""
        file = self.folder / "responses.json"
        doc = json.loads(file.read_text()) if file.exists() else {}
        doc[key] = [exit_code, output]
        file.write_text(json.dumps(doc), encoding="utf-8")

    def calls(self) -> list[list[str]]:
        """Every call so far, in order: ``[tool, *args]``."""
        file = self.folder / "calls.jsonl"
        if not file.exists():
            return []
        return [json.loads(line) for line in file.read_text().splitlines() if line]

    def forget(self) -> None:
        (self.folder / "calls.jsonl").unlink(missing_ok=True)
