"""Options declared once: a dataclass field carries its command-line option.

Each reader's options dataclass (``dataprep/formats/<name>.py``) and each
option group of ``convert``/``validate``/``split`` (:mod:`dataprep.convert.options`)
declares a field's default once, on the field, and its option's flags and help
in the field's metadata with :func:`option`; the CLI (``dataprep/cli``) builds
its command-line options from these declarations. No third-party import here:
every layer may declare options.
"""

from __future__ import annotations

from typing import Any, Callable

#: The help panel of the source options (``--images``, ``--year``, the CSV ones).
SOURCE_PANEL = "Source annotation sets"


#: ``cli_default`` not given: the command line's default is the field's.
SAME = object()


def option(*flags: str, help: str, panel: str | None = None, required: bool = False, name: str | None = None,
           type: Any = None, cli_default: Any = SAME, parse: Callable[[Any], Any] | None = None) -> dict:
    """A field's command-line option, as the field's metadata:
    ``year: str | None = field(default=None, metadata=option("--year", help="..."))``.

    ``required``: no default on the command line. Where the command line says
    it differently from the field, ``name`` is the CLI parameter's name,
    ``type`` and ``cli_default`` its type and default there, and ``parse`` turns
    the CLI value into the field's (``--no-decode-check`` -> ``decode_check = not value``).
    """
    return {"cli": {"flags": flags, "help": help, "panel": panel, "required": required, "name": name,
                    "type": type, "default": cli_default, "parse": parse}}
