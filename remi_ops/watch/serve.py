"""The running watcher's side of the spool: every request answered, every refusal audited.

A request is refused (and audited as refused, the file's owner as the actor) when its
file or the spool is not the watcher's user's alone, or when it names another workdir
than the target's: a second deployment sharing ``state_dir`` and the target's name. A
request a dead watcher had claimed is answered with what became of it, read from the
audit log (audit first makes that possible): done, failed, cut short, or never begun.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from remi_ops.alerts.hub import jsonable
from remi_ops.exceptions import RemiOpsError, UnknownTarget
from remi_ops.store.database import Store
from remi_ops.watch import audit, spool, verb_calls

if TYPE_CHECKING:
    from remi_ops.watch.watcher import Watcher

log = logging.getLogger(__name__)


async def serve_requests(watcher: Watcher) -> None:
    """Carry out (or refuse) what the command line asked; each request gets an answer,
    even one that hits a bug: the command line is waiting for it."""
    state_dir = watcher.settings.state_dir
    for req in await asyncio.to_thread(spool.take, state_dir):
        if req.orphan:
            fate = await asyncio.to_thread(orphan_fate, watcher.store, req.id)
            await asyncio.to_thread(spool.answer, state_dir, req.id, ok=False, error=fate)
            continue
        refusal = req.refusal or workdir_refusal(watcher, req)
        if refusal:
            await refuse(watcher, req, refusal)
            continue
        try:
            value = await verb_calls.perform(watcher, req.action, req.target, _audited_args(req),
                                             req.who, request_id=req.id)
        except Exception as exc:
            if not isinstance(exc, RemiOpsError | ValueError | KeyError):
                log.exception("request %s (%s) failed", req.id, req.action)
            await asyncio.to_thread(
                spool.answer, state_dir, req.id, ok=False,
                error=f"{req.action} failed: {exc}",
                usage=isinstance(exc, UnknownTarget | ValueError | KeyError))
            continue
        await asyncio.to_thread(spool.answer, state_dir, req.id, ok=True,
                                value=jsonable(value))


def _audited_args(req: spool.Request) -> dict[str, object]:
    """The request's arguments; a ``who`` the file stated that is not its owner is kept
    for the audit log as "stated" (the verbs read only the arguments they know)."""
    if req.stated_who and req.stated_who != req.who:
        return {**req.args, "stated_who": req.stated_who}
    return req.args


async def refuse(watcher: Watcher, req: spool.Request, why: str) -> None:
    log.warning("refused request %s (%s by %s): %s", req.id, req.action, req.who, why,
                extra={"target": req.target})
    await audit.refused(watcher, req.who, req.action, req.target, why, request_id=req.id,
                        arguments={**req.args, "stated_who": req.stated_who,
                                   "workdir": req.workdir})
    await asyncio.to_thread(spool.answer, watcher.settings.state_dir, req.id, ok=False,
                            error=f"refused: {why}", usage=True)


def workdir_refusal(watcher: Watcher, req: spool.Request) -> str:
    """Why a request for another deployment's target must not be carried out here."""
    if not req.workdir or req.target not in watcher.watches:
        return ""  # an older command line, or an unknown target (the verb says so)
    mine = watcher.watches[req.target].target.workdir
    if _same_dir(Path(req.workdir), mine):
        return ""
    return (f"the request is for {req.target} in {req.workdir}, but this watcher watches "
            f"{req.target} in {mine}: two configurations share state_dir "
            f"{watcher.settings.state_dir} and the name {req.target}; give each its own "
            "state_dir")


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


def orphan_fate(store: Store, request_id: str) -> str:
    """What became of a request whose watcher died before answering, from the audit log."""
    entry = store.audit_of_request(request_id)
    died = "the watcher died before answering"
    if entry is None:
        return f"{died}; it did not happen (it had not begun)"
    if entry.state == "requested":
        return (f"{died}, in the middle of the {entry.action}: it may have partly happened; "
                f"check remi-ops status {entry.target}")
    if entry.state == "done":
        return f"{died}; the {entry.action} did happen: {entry.result}"
    return f"{died}; the {entry.action} {entry.state}: {entry.result}"
