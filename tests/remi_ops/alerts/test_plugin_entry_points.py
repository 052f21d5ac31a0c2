"""Plug-in alert sinks found without ``importlib.metadata``
(``remi_ops.alerts.plugin_entry_points``): the same entry points it finds, for Bubabot's
webhook sink and a third-party one installed beside it, and ``importlib.metadata`` itself
wherever the installed files are not plain directories."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from remi_ops.alerts.plugin_entry_points import EntryPoint, entry_points_of, read_installed
from remi_ops.alerts.sink_plugins import SINKS_GROUP, extra_sinks
from remi_ops.config import Settings
from remi_ops.config_file import load_settings

#: a third party's sink module: its factory returns a sink when PAGER_URL is set
PAGER_MODULE = '''
class PagerSink:
    name = "pager"

    def __init__(self, url):
        self.url = url

    def deliver(self, notification):
        pass


def from_environment(settings, environ):
    url = environ.get("PAGER_URL")
    return PagerSink(url) if url else None
'''


def install(site: Path, dist: str, module: str, entry_points: str) -> None:
    """What pip leaves in site-packages for a distribution with one module."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(PAGER_MODULE, encoding="utf-8")
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


def as_tuples(found: Any) -> list[tuple[str, str]]:
    return [(e.name, e.value) for e in found]


def importlibs(group: str) -> list[tuple[str, str]]:
    return as_tuples(importlib.metadata.entry_points(group=group))


@pytest.mark.parametrize("group", [SINKS_GROUP, "console_scripts", "pytest11"])
def test_this_environment_reads_as_importlib_metadata_reads_it(group: str) -> None:
    found = read_installed(group, sys.path, sys.meta_path)
    assert found is not None  # a plain venv: read here
    assert as_tuples(found) == importlibs(group)
    assert as_tuples(found)  # something to compare: bubabot's sink, the scripts, plug-ins


def test_a_third_party_sink_is_found_and_built(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    install(site, "acme_pager", "acme_pager", "[console_scripts]\nacme = acme_pager:main\n\n"
            f"[{SINKS_GROUP}]\n# paging\npager = acme_pager:from_environment [extra]\n")
    monkeypatch.syspath_prepend(str(site))
    found = entry_points_of(SINKS_GROUP)
    assert as_tuples(found) == importlibs(SINKS_GROUP)
    assert ("pager", "acme_pager:from_environment [extra]") in as_tuples(found)
    sinks = extra_sinks(plain_settings(tmp_path), {"PAGER_URL": "https://pager.example/x"})
    assert [type(s).__name__ for s in sinks] == ["PagerSink"]  # bubabot's: no webhook set


def test_a_distribution_found_twice_counts_once_the_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two copies on the path (a user site and the venv, say): the first one wins."""
    install(tmp_path / "first", "Acme.Pager", "acme_first", f"[{SINKS_GROUP}]\n"
            "pager = acme_first:from_environment\n")
    install(tmp_path / "second", "acme_pager", "acme_second", f"[{SINKS_GROUP}]\n"
            "pager = acme_second:from_environment\n")
    monkeypatch.syspath_prepend(str(tmp_path / "second"))
    monkeypatch.syspath_prepend(str(tmp_path / "first"))
    found = as_tuples(entry_points_of(SINKS_GROUP))
    assert found == importlibs(SINKS_GROUP)
    assert ("pager", "acme_first:from_environment") in found
    assert ("pager", "acme_second:from_environment") not in found


def test_a_sink_in_a_zip_on_the_path_is_importlib_metadatas(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "acme.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("acme_zipped.py", PAGER_MODULE)
        z.writestr("acme_zipped-1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: acme_zipped\nVersion: 1.0\n")
        z.writestr("acme_zipped-1.0.dist-info/entry_points.txt",
                   f"[{SINKS_GROUP}]\nzipped = acme_zipped:from_environment\n")
    monkeypatch.syspath_prepend(str(archive))
    assert read_installed(SINKS_GROUP, sys.path, sys.meta_path) is None
    found = as_tuples(entry_points_of(SINKS_GROUP))
    assert ("zipped", "acme_zipped:from_environment") in found


def test_another_finder_of_distributions_is_importlib_metadatas() -> None:
    class FrozenApp:
        def find_distributions(self, context: object = None) -> list[object]:
            return []

    assert read_installed(SINKS_GROUP, sys.path, [FrozenApp(), *sys.meta_path]) is None


def test_a_metadata_directory_in_other_case_is_importlib_metadatas(tmp_path: Path) -> None:
    (tmp_path / "Acme-1.0.DIST-INFO").mkdir()
    assert read_installed(SINKS_GROUP, [str(tmp_path)], []) is None


def test_an_entry_point_loads_what_it_names() -> None:
    point = EntryPoint("x", "remi_ops.alerts.plugin_entry_points:EntryPoint.load", "g")
    assert point.load() is EntryPoint.load
    with pytest.raises(ValueError, match="not module:attribute"):
        EntryPoint("x", "-nonsense-", "g").load()


def test_finding_the_sinks_imports_no_importlib_metadata() -> None:
    """What it is for: 1.6 MB of RSS a watcher would otherwise keep."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom remi_ops.alerts.plugin_entry_points import "
         "entry_points_of\nprint([e.load().__name__ for e in entry_points_of("
         f"{SINKS_GROUP!r})], 'importlib.metadata' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["['sink_from_environment']", "False"]


def plain_settings(tmp_path: Path) -> Settings:
    path = tmp_path / "bubabot.toml"
    path.write_text(f'[watchdog]\nstate_dir = "{tmp_path}/state"\n[[targets]]\n'
                    f'name = "remi"\nworkdir = "{tmp_path}"\ncommand = ["sleep", "1"]\n',
                    encoding="utf-8")
    return load_settings(path)

