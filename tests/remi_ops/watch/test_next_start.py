"""``remi-ops status`` says when a backing-off Remi is started next: the words (pure), the
supervisor persisting it, and a real Remi that crashes at once under a real watcher."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bubabot_local.simkit import SIM, sim_config_file

from remi_ops.config import RestartPolicy
from remi_ops.domain import ExitInfo, ProcessIdentity
from remi_ops.supervision.supervisor import State, Supervisor
from remi_ops.testing import wait_until
from remi_ops.watch.next_start import NextStart, next_start
from tests.remi_ops.watch.test_verb_journeys import run, watcher_process

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("retry", "words"), [
    (NextStart(NOW, 8.2, False, 3, 5),
     "backing off: next start in 8.2s (at {at}), attempt 3 of 5"),
    (NextStart(NOW, 0.0, False, 1, 5), "backing off: next start due now, attempt 1 of 5"),
    (NextStart(NOW, 1500, True), "gave up: next slow retry in 25m 00s (at {at})"),
])
def test_the_next_start_in_words(retry: NextStart, words: str) -> None:
    assert retry.words() == words.format(at=f"{NOW.astimezone():%H:%M:%S}")


@pytest.mark.parametrize("state", [
    {}, {"state": "running", "next_attempt_at": NOW.isoformat()}, {"state": "backoff"},
    {"state": "backoff", "next_attempt_at": "yesterday"},
])
def test_no_next_start_unless_a_backoff_scheduled_one(state: dict[str, object]) -> None:
    assert next_start(state, NOW) is None


def test_the_supervisor_persists_its_next_attempt_while_backing_off() -> None:
    policy = RestartPolicy(backoff_initial_s=20, jitter=0, budget_restarts=5)
    sup = Supervisor("remi", policy)
    sup.adopted(ProcessIdentity(10, 1.0, ("remi",)), NOW, 0.0)
    sup.exited(ExitInfo(10, 1, None, NOW), NOW, 1.0)  # first crash: restarted at once
    sup.started(ProcessIdentity(11, 2.0, ("remi",)), NOW, 1.0)
    sup.exited(ExitInfo(11, 1, None, NOW), NOW, 1.1)  # again at once: backs off 20 s
    assert sup.state is State.BACKOFF
    saved = sup.to_dict()
    retry = next_start(saved, NOW + timedelta(seconds=5))
    assert retry == NextStart(NOW + timedelta(seconds=20), 15.0, False, 2, 5)
    sup.operator_stop(NOW, "ops", "deploy")
    assert "next_attempt_at" not in sup.to_dict()  # stopped: nothing is scheduled


@pytest.mark.integration
@pytest.mark.usefixtures("reap_sims")
def test_status_shows_when_a_crashing_remi_is_started_next(tmp_path: Path) -> None:
    cfg = sim_config_file(tmp_path)
    crashing = json.dumps([*SIM, "--crash-after", "0.05"])
    text = cfg.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^command = .*$", f"command = {crashing}", text, count=1)
    text = text.replace("[targets.restart]\n", "[targets.restart]\nbackoff_initial_s = 30\n"
                        "jitter = 0\nstart_seconds = 0.5\n")
    cfg.write_text(text, encoding="utf-8")
    with watcher_process(cfg):
        def backing_off() -> dict[str, object] | None:
            [doc] = json.loads(run(cfg, "status", "--json").stdout)
            return doc if doc["next_start"] else None

        doc = wait_until(backing_off, timeout=30, what="a backoff in status")
        retry = doc["next_start"]
        assert isinstance(retry, dict) and doc["supervisor_state"] == "backoff"
        # it died while starting: no quick first restart, a 30-s backoff at once
        assert retry["attempt"] == 1 and retry["budget_restarts"] == 5 and not retry["gave_up"]
        assert 0 < retry["in_s"] <= 30
        at = datetime.fromisoformat(retry["at"])
        shown = run(cfg, "status")
        assert shown.returncode == 1  # Remi is not running
        assert re.search(r"backing off: next start in \d+s \(at \d\d:\d\d:\d\d\), attempt 1 "
                         r"of 5", shown.stdout), shown.stdout
        assert f"(at {at.astimezone():%H:%M:%S})" in shown.stdout
