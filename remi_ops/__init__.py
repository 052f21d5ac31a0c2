"""remi_ops: the self-healing engine for the Remi Discord bot.

Knows processes, logs, health, restart policy, alerts and storage. It never imports
discord or apscheduler (a test enforces it), so it runs headless as ``remi-ops watch``.
"""

__version__ = "0.1.0"
