"""Bubabot: the Discord companion bot that runs Remi's self-healing runbook."""
