"""Meta-tests that keep the architecture honest: the layout the README draws is the code's."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"remi_ops": ROOT / "remi_ops", "bubabot": ROOT / "bubabot",
            "bubabot_local": ROOT / "local" / "bubabot_local"}
ENGINE_FORBIDDEN = {"discord", "apscheduler", "bubabot", "bubabot_local"}
#: the one seam to the OS: only the ``host`` package may start processes or send signals
OS_SEAM = ROOT / "remi_ops" / "host"
OS_MODULES = {"psutil", "subprocess", "signal", "fcntl"}
#: the beacon runs inside Remi and may register faulthandler on a signal
#: (path under remi_ops/, module)
OS_EXCEPTIONS = {("beacon/__init__.py", "signal")}
#: where Bubabot may reach for local mode (only when it starts it)
LOCAL_MODE_ENTRY = ROOT / "bubabot" / "__main__.py"
MAX_LINES = 400


def modules(package: str) -> list[Path]:
    return sorted(PACKAGES[package].rglob("*.py"))


def module_name(path: Path) -> str:
    for name, root in PACKAGES.items():
        if path.is_relative_to(root):
            parts = path.relative_to(root).with_suffix("").parts
            return ".".join((name, *parts)).removesuffix(".__init__")
    raise ValueError(path)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in ast.walk(child))
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(path: Path, *, runtime_only: bool = False) -> Iterator[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` yields both)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _runtime_nodes(tree) if runtime_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def roots_of(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports_of(path)}


ENGINE_FILES = modules("remi_ops")
ALL_FILES = [*ENGINE_FILES, *modules("bubabot"), *modules("bubabot_local")]


@pytest.mark.parametrize("path", ENGINE_FILES, ids=module_name)
def test_engine_never_imports_discord_or_the_scheduler(path: Path) -> None:
    """remi_ops is the pure engine: no discord, apscheduler or bubabot imports."""
    assert not roots_of(path) & ENGINE_FORBIDDEN


@pytest.mark.parametrize("path", ENGINE_FILES, ids=module_name)
def test_engine_never_names_local_mode(path: Path) -> None:
    """Not even in a string: the demo is a plug-in, found through an entry point."""
    assert "bubabot_local" not in path.read_text(encoding="utf-8")
    assert "bubabot.local" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ENGINE_FILES, ids=module_name)
def test_only_the_host_package_touches_the_os(path: Path) -> None:
    """psutil, subprocess, signals and locks live in one place: ``remi_ops.host``."""
    if path.is_relative_to(OS_SEAM):
        return
    where = path.relative_to(ROOT / "remi_ops").as_posix()
    leaked = {m for m in roots_of(path) & OS_MODULES if (where, m) not in OS_EXCEPTIONS}
    assert not leaked, f"{module_name(path)} imports {leaked}"


@pytest.mark.parametrize("path", modules("bubabot"), ids=module_name)
def test_bubabot_reaches_local_mode_only_where_it_starts(path: Path) -> None:
    """``bubabot`` without the ``local`` extra installs and runs against Discord."""
    if path == LOCAL_MODE_ENTRY:
        return
    assert "bubabot_local" not in roots_of(path), module_name(path)


@pytest.mark.parametrize("path", ALL_FILES, ids=module_name)
def test_modules_stay_small(path: Path) -> None:
    """No module over 400 lines: one job each."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module_name(path)} has {lines} lines"


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports at run time, lazily too (not TYPE_CHECKING)."""
    known = {module_name(p): p for p in ALL_FILES}
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        deps = {dep for dep in imports_of(path, runtime_only=True) if dep in known}
        deps.discard(name)
        # a package's own __init__ importing its submodules is not a cycle
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    return graph


def test_no_import_cycles() -> None:
    """The flow goes one way; a cycle means two modules are really one (or need a third)."""
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_no_shell_anywhere() -> None:
    """Subprocesses get argv lists, never a shell."""
    for path in ALL_FILES:
        assert "shell=True" not in path.read_text(encoding="utf-8"), path


#: the only modules that may make a ``Redacted``: the type's own (cuts and joins of text
#: already redacted) and the redactor (from raw text)
REDACTED_MAKERS = {ROOT / "remi_ops" / "logs" / "redacted.py",
                   ROOT / "remi_ops" / "logs" / "redact.py"}


def _makes_redacted(node: ast.Call) -> bool:
    """``Redacted(…)``, ``x.Redacted(…)`` or ``cast(Redacted, …)`` / ``cast("Redacted", …)``."""
    name = ast.unparse(node.func)
    if name.split(".")[-1] == "Redacted":
        return True
    return (name.split(".")[-1] == "cast" and bool(node.args)
            and "Redacted" in ast.unparse(node.args[0]))


@pytest.mark.parametrize("path", [p for pkg in PACKAGES for p in modules(pkg)]
                         + sorted((ROOT / "tests").rglob("*.py")), ids=str)
def test_only_the_redactor_makes_redacted_text(path: Path) -> None:
    """Raw text becomes ``Redacted`` only through ``Redactor``: nothing else can mint it."""
    if path in REDACTED_MAKERS:
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    made = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and _makes_redacted(n)]
    assert not made, f"{path.relative_to(ROOT)} makes Redacted text at lines {made}"
