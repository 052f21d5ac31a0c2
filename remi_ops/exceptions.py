"""One exception hierarchy for the engine; errors carry data, not just strings."""

from __future__ import annotations

from collections.abc import Sequence


class RemiOpsError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(RemiOpsError):
    """The configuration cannot be used; one ``path.to.field: problem`` line per problem."""

    def __init__(self, problems: Sequence[str], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__("\n".join(self.problems))


class ProcessError(RemiOpsError):
    """A process operation failed (spawn, signal, stop)."""

    def __init__(self, target: str, operation: str, detail: str) -> None:
        self.target = target
        self.operation = operation
        self.detail = detail
        super().__init__(f"{target}: {operation} failed: {detail}")


class SpawnError(ProcessError):
    """The target's command could not be started (missing workdir, not executable, …)."""

    def __init__(self, target: str, detail: str) -> None:
        super().__init__(target, "start", detail)


class WorkdirMissing(SpawnError):
    """The target's workdir is gone or mistyped: a human must fix it, restarts cannot.

    Never answered by creating the directory (that would start the bot in an empty tree
    and crash-loop it); the act path should escalate it once and stop retrying hot.
    """

    def __init__(self, target: str, workdir: str, what: str = "does not exist") -> None:
        self.workdir = workdir
        super().__init__(target, f"workdir {what}: {workdir}")


class StopError(ProcessError):
    """Something of the target's process tree survived a stop."""

    def __init__(self, target: str, detail: str, survivors: Sequence[int] = ()) -> None:
        self.survivors = tuple(survivors)
        super().__init__(target, "stop", detail)


class LockHeld(RemiOpsError):
    """Another watcher holds the target's singleton lock."""

    def __init__(self, target: str, holder_pid: int | None) -> None:
        self.target = target
        self.holder_pid = holder_pid
        who = f"pid {holder_pid}" if holder_pid else "another watcher"
        super().__init__(f"{target}: already watched by {who}")


class StateShared(RemiOpsError):
    """Another watcher, for another Remi of the same name, uses the same ``state_dir``."""

    def __init__(self, target: str, state_dir: str, holder_pid: int | None) -> None:
        self.target, self.state_dir, self.holder_pid = target, state_dir, holder_pid
        who = f"pid {holder_pid}" if holder_pid else "another watcher"
        super().__init__(
            f"{target}: {state_dir} is already used by the watcher {who} for another "
            f"target named {target!r} (another workdir or command); they would share one "
            "outbox and one request spool: give each deployment its own state_dir")


class StoreError(RemiOpsError):
    """The SQLite store cannot be used (corrupt, unreadable, newer schema)."""

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"{path}: {detail}")


class UnknownTarget(RemiOpsError):
    """A command named a target that is not configured."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown target {name!r}; configured: {', '.join(known) or 'none'}")


class UnknownAlert(RemiOpsError):
    """An acknowledgement named nothing firing (by alert id, alert key or message key)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"nothing firing matches {ref!r} (resolved, or acknowledged already?)")


class UnknownErrorGroup(RemiOpsError):
    """A fingerprint that names no error group of the target."""

    def __init__(self, target: str, fingerprint: str) -> None:
        self.target = target
        self.fingerprint = fingerprint
        super().__init__(f"{target}: no error group {fingerprint!r} (see `remi-ops errors`)")


class WatcherError(RemiOpsError):
    """The running watcher refused a request, failed it, or did not answer in time.

    ``usage`` is true when the request itself was wrong (bad arguments, unknown target),
    so the command line exits 2 for it as it would without a watcher.
    """

    def __init__(self, action: str, detail: str, *, usage: bool = False) -> None:
        self.action = action
        self.detail = detail
        self.usage = usage
        super().__init__(detail)
