"""The kinds of anchor settings, by name: one table instead of sniffing for keys.

==============  ===========================  =====================================
kind            settings class               TF OD API generator
==============  ===========================  =====================================
``ssd``         :class:`AnchorConfig`        ``ssd_anchor_generator`` (SSD grid)
``multiscale``  :class:`MultiscaleAnchorConfig`  ``multiscale_anchor_generator`` (FPN)
==============  ===========================  =====================================

Each settings class carries its ``kind`` and writes it into ``to_dict()``;
:func:`anchor_config_from_dict` reads it back. Dicts written before the kind
was recorded (run folders' ``config.json``, anchors JSON ``anchor_config``)
are read as multiscale when they hold ``min_level`` -- the one key only the
multiscale settings have -- else as SSD grid settings.
"""

from __future__ import annotations

from typing import Any, Union

from dataprep.anchors.generator import AnchorConfig, AnchorConfigError
from dataprep.anchors.multiscale import MultiscaleAnchorConfig

#: Either kind of anchor settings; both have ``kind``, ``generate``, ``grid``,
#: ``num_anchors``, ``feature_maps``, ``to_dict``/``from_dict``.
AnyAnchorConfig = Union[AnchorConfig, MultiscaleAnchorConfig]

SSD_GRID = AnchorConfig.kind
MULTISCALE = MultiscaleAnchorConfig.kind

#: kind -> settings class.
ANCHOR_KINDS: dict[str, type] = {SSD_GRID: AnchorConfig, MULTISCALE: MultiscaleAnchorConfig}


def anchor_class(kind: str) -> type:
    """The settings class of ``kind``; an :class:`AnchorConfigError` lists the known kinds."""
    try:
        return ANCHOR_KINDS[kind]
    except (KeyError, TypeError):
        raise AnchorConfigError(f"unknown anchors kind {kind!r} (known: {', '.join(ANCHOR_KINDS)})") from None


def legacy_kind(data: dict[str, Any]) -> str:
    """The kind of a dict written without one (before dataprep recorded it)."""
    return MULTISCALE if "min_level" in data else SSD_GRID


def anchor_config_from_dict(data: dict[str, Any]) -> AnyAnchorConfig:
    """Inverse of ``config.to_dict()`` for either kind, by its ``kind`` key.

    >>> anchor_config_from_dict(MultiscaleAnchorConfig().to_dict()).kind
    'multiscale'
    >>> anchor_config_from_dict({"min_scale": 0.1}).kind  # an old dict without kind
    'ssd'
    """
    if not isinstance(data, dict):
        raise AnchorConfigError(f"anchor config must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind", legacy_kind(data))
    return anchor_class(kind).from_dict(data)
