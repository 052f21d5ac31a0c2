"""Every subcommand the parser knows runs somewhere (``remi_ops.cli.subcommands``): its
module is named, not imported, until it runs, so a name that drifts would only show when
an operator typed that subcommand."""

from __future__ import annotations

import argparse

import pytest

from remi_ops.cli.parser import build_parser
from remi_ops.cli.subcommands import (
    SETTINGS_FREE,
    WITH_SETTINGS,
    settings_free,
    with_settings,
)


def subcommand_names() -> set[str]:
    parser = build_parser()
    return {name for action in parser._actions  # argparse lists subparsers nowhere public
            if isinstance(action, argparse._SubParsersAction) for name in action.choices}


def test_every_subcommand_is_in_exactly_one_table() -> None:
    assert subcommand_names() == set(SETTINGS_FREE) | set(WITH_SETTINGS)
    assert not set(SETTINGS_FREE) & set(WITH_SETTINGS)


@pytest.mark.parametrize("name", sorted(WITH_SETTINGS))
def test_a_subcommand_with_settings_resolves_to_its_function(name: str) -> None:
    function = with_settings(name)
    assert callable(function)
    assert function.__name__ == "cmd_" + name.replace("-", "_")


def test_config_runs_without_settings() -> None:
    function = settings_free("config")
    assert function is not None and function.__name__ == "cmd_config"
    assert settings_free("watch") is None
