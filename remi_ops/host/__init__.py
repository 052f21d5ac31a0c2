"""The one seam to the OS: identity, adoption, spawn, stop, death, dumps, lock, commands.

The old runbook restarted Remi with ``pkill -f "python.*main.py"``, which kills every
matching Python process on the machine. Everything here exists so that never happens:
a process is known by its identity, re-checked before every signal; the target is found
by its workdir *and* argv; a stop takes the whole tree and verifies nothing survives.

Only this package imports psutil, subprocess, signal or fcntl (tests/test_architecture.py).
The rest of remi_ops uses the names re-exported here (``from remi_ops import host``,
then ``host.make_manager(...)``). Calls block; callers run them in threads, off the loop.

Which module holds what (each depends only on those above it):

* :mod:`~remi_ops.host.commands` — short commands as argv, tree killed on timeout
  (``run_command``, ``CommandResult``, ``py_spy_dump``, ``which``)
* :mod:`~remi_ops.host.environment` — ``child_environment``: the allowlisted environment
  Remi and its scan test get (never Bubabot's own secrets)
* :mod:`~remi_ops.host.lock` — ``TargetLock``, one watcher per Remi (workdir + command);
  ``StateLock``, one per ``state_dir`` + target name
* :mod:`~remi_ops.host.workdir` — nothing is ever written into (so creates) a missing workdir
* :mod:`~remi_ops.host.proctable` — ``ProcessTable``, one pass over every process, and
  ``shared_table``: the pass a round of checks shares (for reporting only)
* :mod:`~remi_ops.host.known_processes` — ``KnownProcesses``: the shared table's passes
  read a process's argv once (pid, start time and exec mark seen before)
* :mod:`~remi_ops.host.proc_stat` — ``read_stat``: one ``/proc/<pid>/stat`` line (parent,
  state, start tick, CPU, memory) in one read
* :mod:`~remi_ops.host.shared_look` — ``one_look``: a check's questions share one read of
  its process's ``stat``
* :mod:`~remi_ops.host.identity` — who a pid is: ``identify``, ``same_process``,
  ``is_alive``, ``snapshot``
* :mod:`~remi_ops.host.spawnmark` — the per-spawn marker in a child's environment
  (``SPAWN_ENV``, ``spawn_id_of``, ``carriers``)
* :mod:`~remi_ops.host.adoption` — finding the running target to adopt by argv, workdir
  and user: ``argv_matches``, ``find_target_processes``, ``not_target_reason``
* :mod:`~remi_ops.host.pidfile` — the pidfile hint, believed only for our spawn or the
  target itself
* :mod:`~remi_ops.host.lifecycle` — ``spawn``, our children's exit status
  (``reap_exited_children``), ``wait_exit``
* :mod:`~remi_ops.host.exitwatch` — ``ExitWatch``: one waiter for every process's death
  (pidfd or kqueue on the loop's selector; one polling thread as the fallback)
* :mod:`~remi_ops.host.inotify` — Linux inotify on the loop (``open_inotify``): which files
  in some folders changed, with no thread
* :mod:`~remi_ops.host.signals` — the re-verified send, ``send_dump_signal`` (SIGUSR1),
  ``on_stop_signals`` (our own SIGINT/SIGTERM)
* :mod:`~remi_ops.host.stopping` — ``stop`` the whole tree, ``StopResult``
* :mod:`~remi_ops.host.base` — ``BaseManager``, what every manager does the same way
* :mod:`~remi_ops.host.direct` — ``DirectManager``, Remi as our own (or adopted) child
* :mod:`~remi_ops.host.service_status` — what systemctl / launchctl report, parsed, and
  how an adopted Remi ended (``unit_exit``, ``job_exit``)
* :mod:`~remi_ops.host.services` — ``SystemdManager``, ``LaunchdManager``
* :mod:`~remi_ops.host.servicectl` — ``remi-ops service``'s ``launchctl``/``systemctl``
  calls (``run_ctl``: never raises), and who is installing (``current_user``, ``current_uid``)
* :mod:`~remi_ops.host.logfiles` — the files a process really writes: ``std_targets``
  (its fd 1/2, across a rename), ``open_logs``
* :mod:`~remi_ops.host.managers` — the ``ProcessManager`` contract and ``make_manager``
"""

from __future__ import annotations

from remi_ops.host.adoption import argv_matches, find_target_processes, not_target_reason
from remi_ops.host.base import BaseManager
from remi_ops.host.commands import CommandResult, py_spy_dump, run_command, which
from remi_ops.host.direct import DirectManager
from remi_ops.host.environment import child_environment
from remi_ops.host.identity import identify, is_alive, same_process, snapshot
from remi_ops.host.lifecycle import reap_exited_children, spawn, wait_exit
from remi_ops.host.lock import StateLock, TargetLock
from remi_ops.host.logfiles import open_logs, std_targets
from remi_ops.host.managers import ProcessManager, make_manager
from remi_ops.host.pidfile import clear_pidfile, pidfile_path, read_pidfile, write_pidfile
from remi_ops.host.services import LaunchdManager, SystemdManager
from remi_ops.host.shared_look import one_look
from remi_ops.host.signals import on_stop_signals, send_dump_signal
from remi_ops.host.spawnmark import SPAWN_ENV, carriers, spawn_id_of
from remi_ops.host.stopping import StopResult, stop

__all__ = [
    "SPAWN_ENV",
    "BaseManager",
    "CommandResult",
    "DirectManager",
    "LaunchdManager",
    "ProcessManager",
    "StateLock",
    "StopResult",
    "SystemdManager",
    "TargetLock",
    "argv_matches",
    "carriers",
    "child_environment",
    "clear_pidfile",
    "find_target_processes",
    "identify",
    "is_alive",
    "make_manager",
    "not_target_reason",
    "on_stop_signals",
    "one_look",
    "open_logs",
    "pidfile_path",
    "py_spy_dump",
    "read_pidfile",
    "reap_exited_children",
    "run_command",
    "same_process",
    "send_dump_signal",
    "snapshot",
    "spawn",
    "spawn_id_of",
    "std_targets",
    "stop",
    "wait_exit",
    "which",
    "write_pidfile",
]
