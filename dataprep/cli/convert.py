"""``dataprep convert voc|coco|csv|yolo|tfrecord``.

One subcommand per format of the source registry
(:mod:`dataprep.formats.registry`) that declares a positional ``argument``:
its argument and its options dataclass's fields become the command's own
parameters (:func:`_format_parameters`), followed by the options every format
shares; the command reads the source through the registry and converts it.
"""

import dataclasses
import inspect
import typing
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from dataprep.cli import options as o
from dataprep.locations import is_url

#: --out of convert: a path, or a URL (gs://, s3://, hdfs://) with --runner beam (Path would fold its //).
OutLocation = Annotated[str, typer.Option(
    "--out", "-o", help="Output folder for the records (with --runner beam also a gs://, s3:// or hdfs:// URL).")]
LabelMapLocation = Annotated[Optional[str], typer.Option(
    "--label-map", help="StringIntLabelMap .pbtxt to use (with --runner beam also a URL); default: derived from the "
                        "data (sorted names, ids from 1).")]

#: The options every ``convert <format>`` shares, in their order on the command line.
COMMON = ("out", "label_map", "num_shards", "compression", "workers", "overwrite", "on_error", "strict", "drop_empty",
          "seed", "decode_check", "max_pixels", "follow_symlinks", "split", "group_by", "rebalance",
          "repeat_threshold", "max_per_class", "negative_ratio", "progress")


def _common_parameters() -> list[inspect.Parameter]:
    def p(name, annotation, default):
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    return [
        *o.declared(*COMMON, out=OutLocation, label_map=LabelMapLocation),
        p("runner", o.Runner, "local"),
        p("beam_option", o.BeamOption, None),
        p("beam_pipeline_options", o.BeamPipelineOptions, None),
    ]


def _check_urls(fmt: str, source_urls: list[str], shared: dict) -> None:
    """URLs before anything is read: a reader of local disk only refuses one,
    and only the Beam runner reads or writes them (through Beam's FileSystems)."""
    from dataprep.errors import UsageError
    from dataprep.formats.registry import refuse_url

    for url in source_urls:
        refuse_url(fmt, url)
    if shared["runner"] == "local":
        url = next((u for u in [*source_urls, shared["label_map"], shared["out"]] if is_url(u)), None)
        if url is not None:
            raise UsageError(f"{url}: URLs are read and written through Apache Beam's file systems: add --runner beam")


def _run(read, *, runner, beam_option, beam_pipeline_options, **options) -> None:
    from dataprep.convert import ConvertOptions, convert, prepare_output

    executor = _executor(runner, beam_option, beam_pipeline_options, options["workers"], options["quiet"])
    opts = o.from_cli(ConvertOptions, options)
    if not is_url(opts.out):  # a URL: checked by the Beam runner's writer, before any pipeline runs
        prepare_output(opts.out, opts.overwrite)  # fail before reading a large dataset
    echo_result(convert(read(executor), opts, executor=executor), opts.strict)


def _executor(runner: str, beam_option, beam_pipeline_options, workers=None, quiet: bool = False):
    """The local worker pool or a Beam executor; Beam is imported only here.
    Beam's log lines reach the terminal only with ``dataprep --debug``."""
    from dataprep.cli import debug_enabled
    from dataprep.errors import UsageError

    if runner not in ("local", "beam"):
        raise UsageError(f"--runner must be local or beam, got {runner!r}")
    if runner == "local":
        if beam_option or beam_pipeline_options:
            raise UsageError("--beam-option and --beam-pipeline-options only apply with --runner beam")
        from dataprep.convert.executor import LocalExecutor

        return LocalExecutor(workers, progress=not quiet)
    from dataprep.beam import BeamExecutor
    from dataprep.beam.options import pipeline_flags

    return BeamExecutor(pipeline_flags(beam_option, beam_pipeline_options), progress=not quiet,
                        show_logs=debug_enabled())


def echo_result(result, strict: bool) -> None:
    """The findings table, then the summary; exit 1 under --strict if any error."""
    for line in result.report.summary_lines():
        typer.echo(line)
    typer.echo("")
    for line in result.summary_lines():
        typer.echo(line)
    if strict and result.report.has_errors():
        raise typer.Exit(1)


def _format_parameters(fmt) -> list[inspect.Parameter]:
    """``convert <format>``'s own parameters, from its registry declaration:
    the positional argument, then one option per field of its options dataclass."""
    arg = fmt.argument
    annotation = str if arg.required else Optional[str]
    params = [inspect.Parameter(arg.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=... if arg.required else None,
                                annotation=Annotated[annotation, typer.Argument(help=arg.help)])]
    hints = typing.get_type_hints(fmt.options)
    params += [o.parameter(f, hints[f.name]) for f in dataclasses.fields(fmt.options)]
    return params


def _format_command(fmt):
    """``dataprep convert <format>``: its own parameters, then the shared ones; reads with the registry."""
    own = _format_parameters(fmt)
    common = _common_parameters()
    names = {c.name for c in common}

    def command(**kwargs):
        from dataprep.formats.registry import open_source

        shared = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        src = kwargs.pop(fmt.argument.name)
        _check_urls(fmt.name, [v for v in (src, *kwargs.values()) if is_url(v)], shared)

        def read(executor):
            # On the Beam runner, its workers parse the annotation files (a VOC set can be millions of them).
            parse_files = executor.annotation_parser(fmt.parse_file) if fmt.parse_file is not None else None
            return open_source(o.source_spec(src, fmt=fmt.name, workers=shared["workers"], progress=not shared["quiet"],
                                             label_map=shared["label_map"], parse_files=parse_files, **kwargs))

        _run(read, **shared)

    command.__name__ = fmt.name
    command.__doc__ = fmt.summary
    command.__signature__ = inspect.Signature(own + common)
    command.__annotations__ = {q.name: q.annotation for q in own + common}
    return command


class _FormatCommands(TyperGroup):
    """``convert``'s subcommands, one per registered format, built when asked
    for (``dataprep convert <format>``, ``dataprep convert --help``): other
    commands do not import the readers."""

    def list_commands(self, ctx) -> list[str]:
        from dataprep.formats.registry import READERS

        return [*READERS, *super().list_commands(ctx)]

    def get_command(self, ctx, name: str):
        from dataprep.formats.registry import READERS, source_format

        if name in READERS and name not in self.commands:
            fmt = source_format(name)
            if fmt.argument is None:
                return None
            single = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)
            single.command(name)(_format_command(fmt))
            self.commands[name] = typer.main.get_command(single)
        return super().get_command(ctx, name)


app = typer.Typer(help="Convert annotations to sharded TFRecords.", no_args_is_help=True, cls=_FormatCommands)
