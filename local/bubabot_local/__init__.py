"""Local mode: a Discord emulator, the Remi simulator and the terminal console.

Nothing here talks to the real Discord; the end-to-end tests use the same pieces.
"""
