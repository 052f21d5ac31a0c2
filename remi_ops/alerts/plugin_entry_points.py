"""The entry points of one group, read from the installed distributions' files directly.

``importlib.metadata`` is the reference, and it costs a watcher 1.6 MB of RSS for as long
as it runs (it imports ``email``, ``zipfile`` and ``csv`` to read any distribution's
metadata, in any form: issue 12), to learn one thing at start: which plug-in alert sinks
are installed. Installers write that in one small file per distribution,
``<name>-<version>.dist-info/entry_points.txt`` in a directory on ``sys.path`` (the
"Recording installed projects" and "Entry points" specifications of packaging.python.org;
editable installs too), an ini-like file of ``[group]`` sections and ``name = value``
lines. This reads those files, the way ``importlib.metadata`` finds them: the path in
order, a distribution's first copy only (its normalized name), lines the same.

Everything else, it leaves to ``importlib.metadata`` whole (:func:`entry_points_of`
falls back, rather than read half): a zip file or an ``.egg`` on the path, a metadata
directory whose suffix is not in lower case, a finder of distributions other than the
standard one on ``sys.meta_path`` (a frozen application's, say).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any, Protocol

INFO_SUFFIXES = (".dist-info", ".egg-info")
#: an entry point's value, ``module:attr [extras]`` (``importlib.metadata``'s own pattern)
VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class Loadable(Protocol):
    """What both ``importlib.metadata.EntryPoint`` and :class:`EntryPoint` offer."""

    @property
    def name(self) -> str: ...

    def load(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One ``name = module:attr`` line of a group."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        """The object it names: the module imported, then its attributes in turn."""
        match = VALUE.match(self.value)
        if match is None:
            raise ValueError(f"{self.value!r} is not module:attribute")
        attrs = (match["attr"] or "").split(".")
        return functools.reduce(getattr, filter(None, attrs), import_module(match["module"]))


def entry_points_of(group: str) -> Sequence[Loadable]:
    """The installed entry points of ``group``: read here when the environment is plain
    directories of installed distributions, else by ``importlib.metadata``."""
    found = read_installed(group, sys.path, sys.meta_path)
    if found is not None:
        return found
    from importlib.metadata import entry_points  # noqa: PLC0415 - only when needed (see above)

    return list(entry_points(group=group))


def read_installed(group: str, path: Iterable[object],
                   meta_path: Iterable[object]) -> list[EntryPoint] | None:
    """The entry points of ``group`` in the distributions on ``path``, or None when the
    environment holds something only ``importlib.metadata`` reads (see the module)."""
    if any(finder is not PathFinder and hasattr(finder, "find_distributions")
           for finder in meta_path):
        return None
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in path:
        infos = _metadata_dirs(entry)
        if infos is None:
            return None
        for name, info in infos:
            if name not in seen:  # a distribution's first copy on the path, only
                seen.add(name)
                found += _group_in(info, group)
    return found


def _metadata_dirs(entry: object) -> list[tuple[str, Path]] | None:
    """(normalized name, path) of each metadata directory in one ``sys.path`` entry, in
    the directory's order; [] for an entry that is not there; None for one this does not
    read (a zip file, an egg)."""
    if not isinstance(entry, str) or entry.lower().endswith(".egg"):
        return None
    root = Path(entry)  # "" is the current directory
    try:
        children = list(root.iterdir())  # os.listdir's order, as importlib.metadata's
    except NotADirectoryError:  # a zip (python311.zip, an egg file): importlib's part
        return None
    except OSError:  # not there
        return []
    found = []
    for child in children:
        if child.name.lower().endswith(INFO_SUFFIXES):
            if not child.name.endswith(INFO_SUFFIXES):  # importlib would read its Name
                return None
            stem = child.name.rpartition(".")[0]
            found.append((_normalize(stem.partition("-")[0]), child))
    return found


def _normalize(name: str) -> str:
    """A distribution's name as ``importlib.metadata`` compares them (PEP 503, then _)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _group_in(info: Path, group: str) -> Iterator[EntryPoint]:
    try:
        text = (info / "entry_points.txt").read_text(encoding="utf-8")
    except OSError:  # none (most distributions), or a metadata file, not a directory
        return
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            yield EntryPoint(name.strip(), value.strip(), group)
