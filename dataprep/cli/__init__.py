"""The ``dataprep`` command line: thin commands that parse options and call
the library. Expected errors (:class:`dataprep.errors.DataprepError`) become a
one-line message and an exit code, without a traceback (``--debug`` shows it).

Exit codes: 0 done, 1 findings above the requested strictness or a failed
run, 2 usage.
"""

from __future__ import annotations

import sys

import typer

from dataprep import __version__

app = typer.Typer(
    name="dataprep",
    help="Object-detection annotations (VOC, COCO, CSV, YOLO, TFRecord) to validated, sharded TFRecords.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_state = {"debug": False}


def debug_enabled() -> bool:
    """Whether ``dataprep --debug`` was given (tracebacks and TensorFlow's notices shown)."""
    return _state["debug"]


def _version(value: bool):
    if value:
        typer.echo(f"dataprep {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for expected errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
):
    _state["debug"] = debug


def _register() -> None:
    from dataprep.cli import convert, inspect, validate

    app.add_typer(convert.app, name="convert")
    app.command("validate")(validate.validate_cmd)
    app.command("inspect")(inspect.inspect_cmd)
    app.command("verify", help="Alias of inspect.")(inspect.inspect_cmd)

    from dataprep.cli import stats

    app.command("stats")(stats.stats_cmd)

    from dataprep.cli import config

    app.command("config")(config.config_cmd)

    from dataprep.cli import split

    app.command("split")(split.split_cmd)

    from dataprep.cli import train

    app.command("train")(train.train_cmd)
    app.command("evaluate")(train.evaluate_cmd)
    app.command("export")(train.export_cmd)
    app.command("predict")(train.predict_cmd)

    from dataprep.cli import migrate

    app.command("migrate")(migrate.migrate_cmd)

    from dataprep.cli import export_annotations

    app.command("export-annotations")(export_annotations.export_annotations_cmd)


_register()


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused, however indirectly, by a KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    from dataprep.errors import DataprepError

    try:
        app(args=argv, prog_name="dataprep")  # standalone: usage errors exit 2 via SystemExit
    except SystemExit as exc:
        code = exc.code
        if _interrupted(exc):  # typer turns Ctrl-C into a silent exit 130
            typer.echo("interrupted", err=True)
        return code if isinstance(code, int) else (0 if code is None else 1)
    except DataprepError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
