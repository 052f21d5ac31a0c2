"""Running Bubabot as a service: the files a service manager reads, and the old jobs to retire.

Pure generation and detection only: nothing here runs ``launchctl`` or ``systemctl`` (that
is :mod:`remi_ops.host.servicectl`, the OS seam) and nothing prints (that is
:mod:`remi_ops.cli.service`). Which module holds what:

* :mod:`~remi_ops.deploy.paths` — ``ServiceSpec``: which service (watch or bot, launchd or
  systemd, per user or system-wide) and where its file, env file and logs go
* :mod:`~remi_ops.deploy.units` — the launchd plist and the systemd unit as text, and the
  argv they run (``program_argv``)
* :mod:`~remi_ops.deploy.oldjobs` — finding the old ``com.remi.watchdog``-style job (a
  launchd or systemd job running a watchdog script of the same Remi) and the exact
  commands that retire it
"""
