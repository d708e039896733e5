"""The ``spokenemo`` command: a thin layer over the Python API.

Each area keeps its commands in ``spokenemo/apps/cli/<area>.py`` as a list named ``COMMANDS``; the
group below adds them all. A command reaches :mod:`spokenemo.api` (or a system's public
functions) only when it runs, and heavy packages (torch, transformers) load only through
:func:`spokenemo.core.lazy.optional_import` or inside the modules the API loads on use, so
``spokenemo --help`` imports neither and stays fast (``tests/test_api.py`` checks it).
"""

from __future__ import annotations

import importlib
import sys

import click

from spokenemo.core.errors import SpokenemoError

# Area modules, in the order their commands are listed in --help.
AREAS = ("corpus", "cues", "teach", "student", "experiment", "recognise", "evidence", "timeline", "serve", "silver",
         "care", "erc", "moe", "abhinaya", "convert")


class _SpokenemoGroup(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except SpokenemoError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_SpokenemoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spokenemo")
def cli() -> None:
    """spokenemo: which emotion is expressed in speech, and why."""


def _register() -> None:
    for area in AREAS:
        try:
            module = importlib.import_module(f"{__name__}.{area}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{area}":  # area not built yet
                continue
            raise
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


def main() -> None:
    cli()
