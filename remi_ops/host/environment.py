"""The environment Remi and its scan test get: an allowlist, never Bubabot's own.

Bubabot runs with secrets of its own (``DISCORD_TOKEN`` above all). A child that simply
inherited ``os.environ`` would log in to Discord as Bubabot, and a traceback printing its
environment would leak Bubabot's token. So a child gets only the harmless variables a
program needs to find its tools, its home, its locale and its time zone, plus the
variables the target's configuration names: ``env`` (values set in the config) and
``pass_env`` (names whose values are taken from Bubabot's environment, for a secret the
operator chose to hand on, such as ``SOUNDCLOUD_CLIENT_ID``).

``PYTHON*`` and ``VIRTUAL_ENV`` are deliberately *not* passed: Bubabot's ``PYTHONPATH``
or ``PYTHONHOME`` would make Remi's interpreter import Bubabot's packages instead of its
own virtualenv's. A target that wants one names it in ``pass_env`` or ``env``.
"""

from __future__ import annotations

from collections.abc import Mapping

from remi_ops.config import TargetSettings

#: passed whenever Bubabot has them: where programs are, who and where we are, locale, time
HARMLESS_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ",
                "TMPDIR")
#: every locale category (LC_ALL, LC_CTYPE, …) is harmless too, and so is coverage.py's
#: pointer to its measurement config (a file path, set only while tests measure coverage)
HARMLESS_PREFIXES = ("LC_", "COVERAGE_PROCESS_")


def child_environment(target: TargetSettings, environ: Mapping[str, str],
                      extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for one of ``target``'s processes, built from ``environ``.

    Later wins: the allowlist, then ``pass_env`` names, then the target's ``env``, then
    ``extra`` (what the seam itself adds: the beacon file, the spawn marker).
    """
    env = {k: v for k, v in environ.items()
           if k in HARMLESS_ENV or k.startswith(HARMLESS_PREFIXES)}
    env.update((name, environ[name]) for name in target.pass_env if name in environ)
    env.update(target.env)
    env.update(extra or {})
    return env
