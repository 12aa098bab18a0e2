"""Formats as plugins, options declared once: what a format's declaration in
the registry gives the command line, and where each option's default lives."""

from __future__ import annotations

import dataclasses
import inspect
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from dataprep.cli import options as o
from dataprep.cli.convert import COMMON, _format_command
from dataprep.convert import CheckOptions, ConvertOptions, LayoutOptions, SplitOptions
from dataprep.convert.options import DECLARED
from dataprep.dataset import Dataset
from dataprep.formats import registry
from dataprep.formats.writers import formats as export_formats
from dataprep.options import option


def _flags(command) -> set[str]:
    """Every flag of a typer command's options."""
    click = typer.main.get_command(command) if isinstance(command, typer.Typer) else command
    return {flag for p in click.params for flag in (*p.opts, *p.secondary_opts) if flag.startswith("-")}


def test_convert_has_one_subcommand_per_registered_format_with_its_own_options():
    from dataprep.cli import app as root

    group = typer.main.get_command(root).commands["convert"]
    ctx = group.make_context("convert", ["--help"], resilient_parsing=True)
    assert group.list_commands(ctx) == list(registry.READERS)
    shared = {flag for name in COMMON for flag in DECLARED[name].metadata["cli"]["flags"]}
    for name, fmt in registry.formats().items():
        command = group.get_command(ctx, name)
        own = {flag.split("/")[0] for f in dataclasses.fields(fmt.options) for flag in f.metadata["cli"]["flags"]}
        flags = {f for f in _flags(command) if f not in ("--help", "--no-header")}
        assert flags - shared - {"--runner", "--beam-option", "--beam-pipeline-options"} == own, name
        assert command.help == fmt.summary
    assert group.get_command(ctx, "kitti") is None


def test_the_cli_starts_without_importing_the_readers():
    """`convert`'s subcommands are built when asked for: other commands start without pandas and the readers."""
    import subprocess

    code = ("import sys\nfrom dataprep.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('dataprep.formats') or m == 'pandas'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_export_formats_are_the_formats_with_a_writer():
    from dataprep.cli.export_annotations import FORMAT_HELP, format_help

    assert export_formats() == ("coco", "voc", "yolo")
    assert FORMAT_HELP == format_help(export_formats())  # the help names exactly the registry's writers
    assert all(registry.formats()[name].write is not None for name in export_formats())


@dataclass(frozen=True)
class ToyOptions:
    images: str | None = field(default=None, metadata=option("--images", help="Toy images.", required=True))
    flip: bool = field(default=False, metadata=option("--flip", help="Mirror the boxes."))


def _toy_module(tmp_path: Path, seen: list) -> types.ModuleType:
    """A format declared in one module, as a plugin would be: ``dataprep.formats.toy``."""
    def open_source(spec):
        opts = spec.options_for(ToyOptions)
        registry.require_images(spec, opts.images, "toy")
        seen.append((spec.path, opts, spec.workers))
        images = pd.DataFrame([{"image_id": 1, "file": "a.jpg", "split": "train", "width": 96.0, "height": 72.0}])
        objects = pd.DataFrame([{"image_id": 1, "index": 0, "text": "cat", "xmin": 1.0, "ymin": 2.0,
                                 "xmax": 30.0, "ymax": 40.0}])
        return Dataset.build(images, objects, Path(opts.images))

    module = types.ModuleType("dataprep.formats.toy")
    module.SOURCE = registry.SourceFormat(
        "toy", lambda path: path.suffix == ".toy", open_source, "a .toy file", options=ToyOptions,
        argument=registry.Argument("file", "The toy file."), summary="Toy boxes.")
    return module


def test_a_format_declared_in_one_module_gets_its_convert_command_and_format_name(tmp_path, monkeypatch):
    from conftest import distinct_jpeg

    seen: list = []
    monkeypatch.setitem(sys.modules, "dataprep.formats.toy", _toy_module(tmp_path, seen))
    monkeypatch.setattr(registry, "READERS", (*registry.READERS, "toy"))
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(distinct_jpeg(0))
    (tmp_path / "x.toy").write_text("")

    assert registry.detect_format(tmp_path / "x.toy") == "toy"
    assert "toy" in registry.format_names()
    app = typer.Typer()
    app.command("toy")(_format_command(registry.formats()["toy"]))
    app.command("other")(lambda: None)  # a group, as `convert` is
    runner = CliRunner()
    help_text = runner.invoke(app, ["toy", "--help"]).output
    assert "Toy boxes." in help_text and "--flip" in help_text and "--max-pixels" in help_text
    missing = runner.invoke(app, ["toy", str(tmp_path / "x.toy"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "--images" in missing.output  # required, as declared
    done = runner.invoke(app, ["toy", str(tmp_path / "x.toy"), "--images", str(tmp_path / "img"), "--flip",
                               "--out", str(tmp_path / "out"), "-q", "-j", "1"])
    assert done.exit_code == 0, done.output
    assert seen == [(tmp_path / "x.toy", ToyOptions(images=str(tmp_path / "img"), flip=True), 1)]
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_every_option_default_is_the_groups_declaration():
    """The flat classes and the CLI take each option's default from the one field that declares it."""
    for cls in (ConvertOptions, SplitOptions):
        for f in dataclasses.fields(cls):
            assert f.default == DECLARED[f.name].default and f.metadata == DECLARED[f.name].metadata, f.name
    params = {p.name: p for p in o.declared(*COMMON)}
    assert params["max_pixels"].default == CheckOptions.max_pixels == 100_000_000
    assert params["compression"].default == "none" and params["no_decode_check"].default is False
    assert params["quiet"].default is False and params["seed"].default == LayoutOptions.seed


def test_cli_defaults_make_the_default_options():
    """Every command-line default, parsed back, is the dataclass's default: no second copy can drift."""
    values = {p.name: p.default for p in o.declared(*COMMON)}
    values["out"] = "o"
    assert o.from_cli(ConvertOptions, values) == ConvertOptions(out="o")
    assert o.from_cli(CheckOptions, values) == CheckOptions()
    parsed = o.from_cli(ConvertOptions, {**values, "no_decode_check": True, "quiet": True, "compression": "GZIP",
                                         "repeat_threshold": "0.25", "split": "train=0.5,val=0.5"})
    assert (parsed.decode_check, parsed.progress, parsed.compression, parsed.repeat_threshold) == \
        (False, False, "gzip", 0.25)
    assert parsed.split == {"train": 0.5, "val": 0.5}


def test_commands_list_the_declared_options_by_name():
    from dataprep.cli.split import split_cmd
    from dataprep.cli.validate import validate_cmd

    for command in (split_cmd, validate_cmd):
        params = inspect.signature(command).parameters
        for name in ("max_pixels", "on_error", "label_map", *o.SOURCE_OPTIONS):
            declared = o.declared(name)[0]
            assert params[declared.name].default == declared.default, (command.__name__, name)


def test_records_are_a_registered_format_outside_the_readers_detection(tmp_path, capsys):
    from dataprep.cli import main

    fmt = registry.records_format()
    (tmp_path / "out").mkdir()
    assert not fmt.detect(tmp_path / "out")
    (tmp_path / "out" / "manifest.json").write_text("{}")
    assert fmt.detect(tmp_path / "out") and fmt.name == "records" and fmt.argument is None
    assert registry.format_names(records=True) == ("auto", "records", *registry.READERS)
    assert "records" not in registry.formats()  # convert and validate detect annotation readers only
    assert main(["split", str(tmp_path / "out"), "--out", str(tmp_path / "new"), "--split", "train=1",
                 "--format", "kitti"]) == 2
    assert "--format must be one of auto, records, voc, coco, csv, yolo, tfrecord, got 'kitti'" in \
        capsys.readouterr().err
