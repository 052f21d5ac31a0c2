"""What one ``remi-ops watch`` of one sleeper holds at its first check, and which imports
brought it (issue 12: RSS ≤ 1.5× supervisord's).

Two kinds of run, each a fresh interpreter watching one ``/bin/sleep`` target (the
configuration ``bench_scale`` builds):

* **plain** (``--runs`` of them): ``python -m remi_ops.cli.main --config C watch`` as it
  runs for an operator; once the target's first check has written its ``.bot_health``
  and ``--settle-s`` more have passed, the watcher's ``VmRSS`` (``/proc/<pid>/status``).
  The median is the figure to compare, before and after a cut: ``--compare TREE`` runs
  another checkout's watch (the commit before the cut) in turn with this one's. Compare
  only runs interleaved so: the same code measured ten minutes apart may differ by
  1.5 MB, because the pages of a shared library (``libcrypto``) a process is charged for
  include those the kernel maps around a fault when they are in the page cache, which
  depends on what else ran.
* **attributed** (one run): the same watch in an interpreter whose
  ``importlib._bootstrap._find_and_load`` (what every first import of a module goes
  through) is wrapped to read ``/proc/self/statm`` before and after. Each module gets
  the RSS its import added, *inclusive* (with what it imported first) and *self* (minus
  the inclusive RSS of the imports nested in it). The self figures are summed per
  top-level package (and per ``remi_ops`` subpackage) and ranked; the top modules by
  self and the inclusive figure of a few named ones follow.

Limits of the method, to read the figures by:

* RSS counts the pages touched, not the bytes allocated: pymalloc's arenas and glibc's
  heap grow in pages, so a module gets charged for the page its first object touched,
  and one that reuses memory a freed object left is charged nothing. Figures under about
  50 KB are noise; sums over a package are better than its modules one by one.
* A module is charged for everything that happens while it is imported: the objects its
  code builds (a dataclass's generated methods, a compiled regex, a cache filled at
  import) and the shared libraries an extension ``dlopen``s (``_hashlib`` loads
  OpenSSL's ``libcrypto``; whoever imports it first pays for it).
* The first importer pays: when ``asyncio`` imports ``ssl``, ``ssl`` is charged to
  itself, and ``asyncio``'s inclusive figure holds it. Cut an import and its cost moves
  to the next importer, if there is one: check a cut with the plain runs.
* What is built after imports (the configuration, the store, the loop, threads) is the
  difference between the total and the imports, shown as "after imports".
* The wrapper, its stack and its table cost a little themselves (counted in no module);
  the attributed total is thus a little above the plain one.

    .venv/bin/python bench/footprint.py [--runs 3] [--settle-s 3] [--top 25] [--compare TREE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
from bench_scale import ops_config
from simproc import ROOT

#: the driver of an attributed run: argv = config, health file, settle s, output file
ATTRIBUTED_WATCH = r"""
import os, sys
_STATM = os.open("/proc/self/statm", os.O_RDONLY)
_PAGE = os.sysconf("SC_PAGE_SIZE")

def _rss():
    return int(os.pread(_STATM, 64, 0).split()[1]) * _PAGE

import _frozen_importlib as _boot  # importlib._bootstrap, as the interpreter uses it
_original = _boot._find_and_load
_stack = []  # per import under way: [its name, the RSS its nested imports added]
_seen = {}  # module -> (inclusive, self) bytes, the module that imported it first

def _find_and_load(name, import_):
    start = _rss()
    nested = [name, 0]
    _stack.append(nested)
    try:
        return _original(name, import_)
    finally:
        _stack.pop()
        added = _rss() - start
        if _stack:
            _stack[-1][1] += added
        if name in sys.modules:  # not an import that failed (ssl left out, an optional one)
            _seen[name] = (added, added - nested[1], _stack[-1][0] if _stack else "")

_boot._find_and_load = _find_and_load
_START = _rss()

import threading, time

def _report_after_first_check():
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.05)
    time.sleep(float(sys.argv[3]))
    total, seen = _rss(), dict(_seen)
    _boot._find_and_load = _original
    import json
    with open(sys.argv[4] + ".part", "w") as out:
        json.dump({"start": _START, "total": total, "modules": seen}, out)
    os.rename(sys.argv[4] + ".part", sys.argv[4])

threading.Thread(target=_report_after_first_check, daemon=True).start()
from remi_ops.cli.main import main
main(["--config", sys.argv[1], "watch"])
"""


def vm_rss(pid: int) -> tuple[int, int]:
    """The process's ``VmRSS`` in bytes, and its number of threads."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["Threads"])


def wait_for_file(path: Path, watcher: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if watcher.poll() is not None:
            raise RuntimeError(f"the watcher exited ({watcher.returncode}) before {path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {path} within {timeout:g} s")
        time.sleep(0.05)


def stop(watcher: subprocess.Popen[bytes]) -> None:
    """SIGTERM the watcher as an operator would, then kill the sleeper it leaves running."""
    children = psutil.Process(watcher.pid).children(recursive=True)
    watcher.send_signal(signal.SIGTERM)
    try:
        watcher.wait(20)
    except subprocess.TimeoutExpired:
        watcher.kill()
        watcher.wait()
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue


def a_config(root: Path) -> tuple[Path, Path]:
    """A fresh configuration of one sleeper under ``root``; the target's health file."""
    root.mkdir()
    return ops_config(root, 1, 60.0), root / "w000" / ".bot_health"


def launch(argv: list[str], tree: Path = ROOT) -> subprocess.Popen[bytes]:
    """``argv`` with ``tree``'s ``remi_ops`` first on the path."""
    return subprocess.Popen(argv, cwd=tree, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(tree)})


def plain_rss(root: Path, settle_s: float, tree: Path = ROOT) -> tuple[int, int]:
    """``VmRSS`` of a plain watch from ``tree``, ``settle_s`` after its first check."""
    cfg, health = a_config(root)
    watcher = launch([sys.executable, "-m", "remi_ops.cli.main", "--config", str(cfg),
                      "watch"], tree)
    try:
        wait_for_file(health, watcher, 60)
        time.sleep(settle_s)
        return vm_rss(watcher.pid)
    finally:
        stop(watcher)


def attributed(root: Path, settle_s: float) -> dict[str, object]:
    """What the attributed run found: start and total RSS, each module's (inclusive, self)."""
    cfg, health = a_config(root)
    out = root / "found.json"
    watcher = launch([sys.executable, "-c", ATTRIBUTED_WATCH, str(cfg), str(health),
                      str(settle_s), str(out)])
    try:
        wait_for_file(out, watcher, 60 + settle_s)
    finally:
        stop(watcher)
    found: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return found


def group_of(module: str) -> str:
    """``remi_ops.watch.target`` → ``remi_ops.watch``; ``email.message`` → ``email``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "remi_ops" and len(parts) > 1 else parts[0]


def mb(n: float) -> str:
    return f"{n / 2**20:6.2f} MB"


def show_plain(tree: Path, plain: list[tuple[int, int]]) -> None:
    runs = ", ".join(f"{mb(rss).strip()}/{threads}" for rss, threads in plain)
    print(f"plain watch of {tree}, VmRSS at the first check: median "
          f"{mb(statistics.median(rss for rss, _ in plain))} (runs, MB/threads: {runs})")


def show(found: dict[str, object], top: int, named: list[str]) -> None:
    modules: dict[str, tuple[int, int, str]] = found["modules"]  # type: ignore[assignment]
    total, start = int(found["total"]), int(found["start"])  # type: ignore[call-overload]
    imported = sum(self_ for _, self_, _ in modules.values())
    print(f"attributed run: total {mb(total)}; before the first import {mb(start)}; "
          f"imports {mb(imported)} ({len(modules)} modules); after imports "
          f"{mb(total - start - imported)}")
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, (_, self_, _) in modules.items():
        groups[group_of(name)][0] += self_
        groups[group_of(name)][1] += 1
    print(f"\nper package (self RSS of its modules; top {top}):")
    for name, (size, count) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {mb(size)}  {name} ({count})")
    print(f"\nper module (self RSS; top {top}):")
    for name, (_, self_, by) in sorted(modules.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"  {mb(self_)}  {name}  (imported by {by or '-'})")
    print("\nnamed modules (inclusive RSS, with what they imported first; who imported "
          "them first):")
    for name in named:
        if name in modules:
            inclusive, _, by = modules[name]
            print(f"  {mb(inclusive)}  {name}  (imported by {by or '-'})")
        else:
            print(f"  {'-':>9}  {name}  (not imported)")


NAMED = ["asyncio", "ssl", "_ssl", "hashlib", "_hashlib", "importlib.metadata", "email",
         "zipfile", "shutil", "lzma", "bz2", "fractions", "decimal", "statistics", "ast",
         "inspect", "uuid", "zoneinfo", "sqlite3", "psutil", "pydantic", "remi_ops.cli",
         "remi_ops.cli.commands", "remi_ops.watch.watcher"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="plain runs (median)")
    parser.add_argument("--settle-s", type=float, default=3.0,
                        help="wait after the first check before reading RSS")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--named", nargs="*", default=NAMED)
    parser.add_argument("--compare", nargs="*", type=Path, default=[], metavar="TREE",
                        help="checkouts to run plain watches of too, interleaved with this "
                        "one's (e.g. `git worktree add` or `git archive` of the commit "
                        "before a cut)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} "
          f"cores; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        trees = [ROOT, *args.compare]
        plain: dict[Path, list[tuple[int, int]]] = {tree: [] for tree in trees}
        for i in range(args.runs):  # interleaved: the machine's state moves between runs
            for t, tree in enumerate(trees):
                plain[tree].append(plain_rss(Path(tmp) / f"plain{i}-{t}", args.settle_s,
                                             tree))
        found = attributed(Path(tmp) / "attributed", args.settle_s)
    for tree, figures in plain.items():
        show_plain(tree, figures)
    show(found, args.top, args.named)


if __name__ == "__main__":
    main()
