"""The chaos table: each fault done for real to a real ``remi-ops watch`` and its Remi.

Per fault, what an operator would want to know afterwards: how many Remi processes are
alive at the end (``copies``: every live process whose cwd is the workdir), whether the
watcher calls it running (its store's last state, and a process alive), how long it took
to be back, the ``.bot_alert`` lines written, and the watcher's CPU (its CPU seconds over
its wall seconds, Remi not included). Watchers use fast timings (a check every 2 s, alerts
after 0.5 s) so the table takes a few minutes; see ``chaos_rig``.

    .venv/bin/python bench/chaos.py [--only NAME[,NAME…]]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable

from bubabot_local.misbehaving import escaper, retitler
from chaos_logs import rotation, traceback_in_pieces
from chaos_rig import (
    Rig,
    Row,
    alert_summary,
    alerts,
    bot,
    cli,
    cpu,
    epoch,
    health,
    one_line,
    pids,
    query,
    running,
    running_cell,
    settle,
    state_of,
    wait_for,
)


def retitle_reexec(rig: Rig) -> Row:
    cfg = rig.config(rig.target(command=bot(rig, retitler(600))))
    w1 = rig.watch(cfg)
    workdir = rig.tmp / "remi"
    wait_for((workdir / "renamed").exists, 40, "the re-exec")
    settle(rig, workdir)
    first = pids(workdir)
    time.sleep(8)  # four checks
    after_checks = pids(workdir)
    c1 = cpu(w1)
    w1.stop()
    w2 = rig.watch(cfg)
    time.sleep(3)  # started up and adopted
    w2.mark()
    time.sleep(8)
    end = pids(workdir)
    same = "same pid" if end == first else f"pids {first} → {end}"
    return Row("retitle (comm) + re-exec with new argv; then a new watcher",
               f"after 4 checks {len(after_checks)} copy, after a new watcher {len(end)}; {same}",
               copies=str(len(end)), running=running_cell(rig.tmp / "state", workdir),
               alerts=alert_summary(alerts(workdir)), cpu=f"{c1}/{cpu(w2)}")


def state_dir_is_a_file(rig: Rig) -> Row:
    (rig.tmp / "state").write_text("not a directory", encoding="utf-8")
    cfg = rig.config(rig.target())
    w = rig.watch(cfg)
    try:
        code = w.proc.wait(30)
    except Exception:  # a watcher that keeps running is the finding
        code = None
    workdir = rig.tmp / "remi"
    outcome = (f"still running after 30 s; last log: {one_line(w.last_line())}" if code is None
               else f"exit {code}{' WITH TRACEBACK' if w.traceback() else ''}: "
                    f"{one_line(w.last_line())}")
    return Row("state_dir is a file (root: chmod cannot make it read-only)", outcome,
               copies=str(len(pids(workdir))), running=yn(bool(pids(workdir))),
               alerts=alert_summary(alerts(workdir)))


def damaged_wal(rig: Rig) -> Row:
    cfg = rig.config(rig.target())
    workdir = rig.tmp / "remi"
    w1 = rig.watch(cfg)
    settle(rig, workdir)
    time.sleep(3)
    before = pids(workdir)
    kept = query(rig.tmp / "state" / "bubabot.sqlite3", "SELECT count(*) FROM transitions")
    w1.stop(signal.SIGKILL)  # no checkpoint: the WAL stays
    wal = rig.tmp / "state" / "bubabot.sqlite3-wal"
    size = wal.stat().st_size if wal.exists() else 0
    if size > 64:
        with open(wal, "r+b") as fh:  # garbage over frame headers and pages
            fh.seek(32)
            fh.write(os.urandom(min(size - 32, 8192)))
    t0 = time.monotonic()
    w2 = rig.watch(cfg)
    wait_for(lambda: health(workdir).get("watcher", {}).get("pid") == w2.proc.pid
             and health(workdir).get("supervisor_state") == "running", 30, "running again")
    back = time.monotonic() - t0
    w2.mark()
    after = query(rig.tmp / "state" / "bubabot.sqlite3", "SELECT count(*) FROM transitions")
    time.sleep(4)
    aside = sorted(p.name for p in (rig.tmp / "state").iterdir() if "corrupt" in p.name
                   or "aside" in p.name or p.name.endswith(".bad"))
    end = pids(workdir)
    alive = "watcher alive" if w2.proc.poll() is None else f"watcher exit {w2.proc.returncode}"
    return Row(f"WAL ({size} B) overwritten with garbage after kill -9 of the watcher",
               f"{alive}; Remi {'kept (same pid)' if end == before else f'{before} → {end}'}"
               f"{'; set aside: ' + ', '.join(aside) if aside else ''}; transitions rows "
               f"{kept[0][0] if kept else '?'} → {after[0][0] if after else '?'}",
               copies=str(len(end)), running=running_cell(rig.tmp / "state", workdir),
               back=f"{back:.1f}s", alerts=alert_summary(alerts(workdir)), cpu=cpu(w2))


def two_configs_one_workdir(rig: Rig) -> Row:
    a = rig.config(rig.target(), state="state-a", file="a.toml")
    b = rig.config(rig.target(name="bot"), state="state-b", file="b.toml")
    workdir = rig.tmp / "remi"
    wa = rig.watch(a)
    settle(rig, workdir, "state-a")
    wb = rig.watch(b)
    try:
        code: int | None = wb.proc.wait(20)
    except Exception:  # a second watcher that stays is the finding
        code = None
    time.sleep(2)
    end = pids(workdir)
    second = "second watcher still running" if code is None else \
        f"second watcher exit {code}: {one_line(wb.last_line(), 90)}"
    return Row("two configs (other state_dir, other name) on one workdir", second,
               copies=str(len(end)), running=yn(running(rig.tmp / "state-a", workdir)),
               alerts=alert_summary(alerts(workdir)), cpu=cpu(wa))


def two_targets_one_workdir(rig: Rig) -> Row:
    cfg = rig.config(rig.target(), rig.target(name="copy"))
    result = cli(cfg, "watch", timeout=30)
    tb = " WITH TRACEBACK" if "Traceback" in result.stderr else ""
    return Row("two targets on one workdir + command, one config",
               f"exit {result.returncode}{tb}: {one_line(result.stderr)}",
               copies=str(len(pids(rig.tmp / "remi"))), running="no")


def staging_and_prod(rig: Rig) -> Row:
    """Two deployments with one state_dir and one target name: they would share one outbox
    and one request spool, so the second watcher is refused at start; prod goes on."""
    prod = rig.config(rig.target(workdir="prod"), file="prod.toml")
    staging = rig.config(rig.target(workdir="staging"), file="staging.toml")
    wp = rig.watch(prod)
    p, s = rig.tmp / "prod", rig.tmp / "staging"
    wait_for(lambda: pids(p) and state_of(rig.tmp / "state") == "running", 40, "prod running")
    ws = rig.watch(staging)
    wait_for(lambda: ws.proc.poll() is not None, 20, "staging's watcher to exit")
    refused = one_line(ws.log.read_text(encoding="utf-8", errors="replace"), 160)
    wp.mark()
    old = pids(p)
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: pids(p) and pids(p) != old, 30, "prod back")
    back = time.monotonic() - t0
    time.sleep(3)
    return Row("staging + prod: one state_dir, one target name, two workdirs; staging's "
               "watcher started second, then prod kill -9",
               f"staging's watcher exit {ws.proc.returncode}: \"{refused}\"; prod healed "
               f"alone; staging Remi never started: {yn(not pids(s))}",
               copies=f"{len(pids(p))}+{len(pids(s))}", running=yn(bool(pids(p))),
               back=f"{back:.1f}s", alerts=f"prod {alert_summary(alerts(p))}",
               cpu=cpu(wp))


def escaped_fork(rig: Rig) -> Row:
    cfg = rig.config(rig.target(command=bot(rig, escaper(600))))
    workdir = rig.tmp / "remi"
    w = rig.watch(cfg)
    wait_for(lambda: (workdir / "helper.pid").exists() and (workdir / "fork.pid").exists(), 40,
             "the escapes")
    settle(rig, workdir)
    time.sleep(6)  # three checks with the escapees of the first start about
    escapees = {int((workdir / f"{n}.pid").read_text()) for n in ("helper", "fork")}
    main = [c.pid for c in w.ps.children() if c.pid not in escapees]
    for name in ("helper", "fork"):
        (workdir / f"{name}.pid").unlink()
    for pid in main:
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: (workdir / "fork.pid").exists() and running(rig.tmp / "state", workdir),
             30, "the next start")
    back = time.monotonic() - t0
    time.sleep(3)
    left = escapees & set(pids(workdir))
    return Row("escaped setsid double fork (helper + Remi-argv fork); Remi kill -9",
               f"old escapees left {len(left)}/2; new start has {len(pids(workdir))} "
               "processes (Remi + its 2 new escapees)",
               copies=str(len(pids(workdir))), running=running_cell(rig.tmp / "state", workdir),
               back=f"{back:.1f}s", alerts=alert_summary(alerts(workdir)), cpu=cpu(w))


def watcher_killed_after_restart(rig: Rig) -> Row:
    cfg = rig.config(rig.target())
    workdir = rig.tmp / "remi"
    w1 = rig.watch(cfg)
    settle(rig, workdir)
    time.sleep(2)
    old = pids(workdir)
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    new = wait_for(lambda: [p for p in pids(workdir) if p not in old], 30, "the restart",
                   step=0.005)
    back = time.monotonic() - t0
    time.sleep(0.1)
    w1.stop(signal.SIGKILL)
    killed = time.time()
    w2 = rig.watch(cfg)
    time.sleep(3)
    w2.mark()
    time.sleep(7)
    lines = alerts(workdir)
    about = [x for x in lines if str(new[0]) in str(x.get("message", ""))]
    by_old = [x for x in about if epoch(str(x["ts"])) <= killed]
    deaths = [x for x in lines if "killed" in str(x.get("message", ""))
              or "exit" in str(x.get("message", ""))]
    return Row("watcher kill -9 0.1 s after it restarted a crashed Remi; new watcher",
               f"restart announced {len(about)}x (want 1), {len(about) - len(by_old)} of them "
               f"created by the new watcher; other death lines {len(deaths) - len(about)}",
               copies=str(len(pids(workdir))), running=running_cell(rig.tmp / "state", workdir),
               back=f"{back:.1f}s", alerts=alert_summary(lines), cpu=cpu(w2))


def config_bounds(rig: Rig) -> Row:
    target = rig.target()
    target["restart"]["budget_window_s"] = 1e308
    cfg = rig.config(target)
    result = cli(cfg, "watch", timeout=30)
    tb = " WITH TRACEBACK" if "Traceback" in result.stderr else ""
    return Row("budget_window_s = 1e308", f"exit {result.returncode}{tb}: "
               f"{one_line(result.stderr)}", copies=str(len(pids(rig.tmp / 'remi'))),
               running="no")


def alerts_seen(rig: Rig) -> list[str]:
    """Every ``.bot_alert`` line of the scenario, short: time, type, message."""
    return [f"{d.name}: {str(x.get('ts'))[11:19]} {x.get('type')} {str(x.get('message'))[:110]}"
            for d in sorted(rig.workdirs) for x in alerts(d)]


def yn(value: bool) -> str:
    return "yes" if value else "no"


SCENARIOS: dict[str, Callable[[Rig], Row]] = {
    "retitle": retitle_reexec,
    "state_file": state_dir_is_a_file,
    "wal": damaged_wal,
    "two_configs": two_configs_one_workdir,
    "two_targets": two_targets_one_workdir,
    "staging_prod": staging_and_prod,
    "setsid": escaped_fork,
    "kill_after_restart": watcher_killed_after_restart,
    "rotate_create": rotation("create"),
    "rotate_copytruncate": rotation("copytruncate"),
    "rotate_copytruncate_quiet": rotation("copytruncate", quiet=True),
    "pieces": traceback_in_pieces,
    "bounds": config_bounds,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(SCENARIOS)
    rows = []
    for name in names:
        rig = Rig(name)
        started = time.monotonic()
        try:
            row = SCENARIOS[name](rig)
        except Exception as exc:  # one scenario's failure is a row, not the end
            row = Row(name, f"SCENARIO FAILED: {type(exc).__name__}: {exc}")
        finally:
            for line in alerts_seen(rig):
                print(f"    .bot_alert {line}", file=sys.stderr)
            rig.close()
        rows.append(row)
        print(f"[{name} {time.monotonic() - started:.0f}s] {row.fault}: {row.outcome}",
              file=sys.stderr, flush=True)
    print("| fault | outcome | Remi copies at end | running | back in | .bot_alert lines |"
          " watcher CPU (from Remi running on) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.fault} | {r.outcome} | {r.copies} | {r.running} | {r.back} | {r.alerts} "
              f"| {r.cpu} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
