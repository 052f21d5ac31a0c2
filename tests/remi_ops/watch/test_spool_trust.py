"""Who may ask the watcher through the spool, who they are, and the audit of it all.

Real files with real owners (the tests run as root, so they can hand a file to a
stranger's uid with ``os.chown``), a real SQLite store and a real outbox.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bubabot_local.simkit import sim_settings

from remi_ops.domain import ErrorGroup, LogKind
from remi_ops.logs.redact import redact_patterns
from remi_ops.store.records import AuditEntry
from remi_ops.watch import spool
from remi_ops.watch.watcher import Watcher

STRANGER = 4242  # a uid with no name in the password database
FINGERPRINT = "3f2a9c0d1e4b5a69"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


@pytest.fixture
async def watcher(tmp_path: Path) -> AsyncIterator[Watcher]:
    assembled = Watcher(sim_settings(tmp_path), console=None, environ={})
    assembled.acquire_locks()
    now = datetime.now(UTC)
    assembled.store.upsert_error_groups("remi", [ErrorGroup(
        FINGERPRINT, "remi", redact_patterns("NameError"), LogKind.CRASH, 3, now, now,
        redact_patterns("Traceback"), "x.py")])
    yield assembled
    assembled.close()


def submit_resolve(watcher: Watcher, *, stated: str = "cli:ana", workdir: str = "") -> str:
    target = watcher.settings.targets[0]
    return spool.submit(watcher.settings.state_dir, "remi", "resolve",
                        {"fingerprint": FINGERPRINT}, stated,
                        workdir=workdir or str(target.workdir))


async def answer_to(watcher: Watcher, request_id: str) -> dict[str, Any]:
    await watcher.serve_requests()
    answer = spool.read_answer(watcher.settings.state_dir, request_id)
    assert answer is not None
    return answer


def audit_rows(watcher: Watcher) -> list[AuditEntry]:
    return watcher.store.audit_log()


def resolved(watcher: Watcher) -> bool:
    group = watcher.store.error_group("remi", FINGERPRINT)
    return group is not None and group.resolved_at is not None


def request_file(watcher: Watcher, request_id: str) -> Path:
    return spool.spool(watcher.settings.state_dir) / f"{request_id}.request.json"


async def test_the_actor_is_the_files_owner_and_the_action_is_audited_and_announced(
        watcher: Watcher) -> None:
    request_id = submit_resolve(watcher, stated="cli:the-boss")
    answer = await answer_to(watcher, request_id)
    assert answer["ok"], answer
    [row] = audit_rows(watcher)
    assert (row.actor, row.action, row.state, row.ok) == ("cli:root", "resolve", "done", True)
    assert row.request_id == request_id and "marked fixed" in row.result
    assert row.arguments["stated_who"] == "cli:the-boss"  # kept as stated, not the actor
    await watcher.settle()
    lines = watcher.settings.targets[0].alert_file.read_text(encoding="utf-8").splitlines()
    announced = [json.loads(line) for line in lines if "operator_action" in line]
    assert len(announced) == 1 and "cli:root: resolve of remi" in json.dumps(announced[0])
    assert "the-boss" not in json.dumps(announced)


async def test_a_request_file_owned_by_someone_else_is_refused_and_audited(
        watcher: Watcher) -> None:
    request_id = submit_resolve(watcher, stated="cli:root")
    os.chown(request_file(watcher, request_id), STRANGER, STRANGER)
    answer = await answer_to(watcher, request_id)
    assert not answer["ok"] and answer["error"].startswith("refused: the request file "
                                                           f"belongs to uid {STRANGER}")
    assert not resolved(watcher)
    [row] = audit_rows(watcher)
    assert (row.actor, row.state, row.ok) == (f"cli:uid {STRANGER}", "refused", False)
    assert row.arguments["stated_who"] == "cli:root"


async def test_a_spool_others_can_write_is_not_trusted(watcher: Watcher) -> None:
    request_id = submit_resolve(watcher)
    folder = spool.spool(watcher.settings.state_dir)
    assert folder.stat().st_mode & 0o777 == 0o700  # created private
    folder.chmod(0o777)
    answer = await answer_to(watcher, request_id)
    assert not answer["ok"] and "is writable by others (mode 777); run chmod 700" in \
        answer["error"]
    assert not resolved(watcher)
    assert [r.state for r in audit_rows(watcher)] == ["refused"]


async def test_a_request_for_another_deployments_workdir_is_refused(
        watcher: Watcher, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    request_id = submit_resolve(watcher, workdir=str(staging))
    answer = await answer_to(watcher, request_id)
    assert not answer["ok"] and answer["usage"]
    assert f"the request is for remi in {staging}, but this watcher watches remi in" in \
        answer["error"] and "give each its own state_dir" in answer["error"]
    assert not resolved(watcher)
    assert [r.state for r in audit_rows(watcher)] == ["refused"]


async def test_a_request_a_dead_watcher_held_is_answered_by_the_next(watcher: Watcher) -> None:
    state_dir = watcher.settings.state_dir
    never_begun = submit_resolve(watcher)
    cut_short = submit_resolve(watcher)
    [first, second] = spool.take(state_dir)  # claimed, then the watcher "died"
    watcher.store.audit_requested("cli:root", "restart", "remi", arguments={},
                                  request_id=cut_short)
    assert {first.id, second.id} == {never_begun, cut_short}
    assert "did not happen" in (await answer_to(watcher, never_begun))["error"]
    fate = spool.read_answer(state_dir, cut_short)
    assert fate is not None and "in the middle of the restart: it may have partly happened" \
        in fate["error"]
    assert list(spool.spool(state_dir).iterdir()) == []
