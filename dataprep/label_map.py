"""Label maps in the TF Object Detection API ``StringIntLabelMap`` text format.

    item { id: 1 name: "cat" display_name: "Cat" }

Parsed and written with protobuf's text format (never regexes). Id 0 is
reserved for the background class by every TF detection pipeline and is
refused, as are duplicate ids and duplicate names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from google.protobuf import text_format

from dataprep.errors import LabelMapError
from dataprep.protos import StringIntLabelMap


@dataclass(frozen=True)
class LabelMapItem:
    id: int
    name: str
    display_name: str = ""


class LabelMap:
    """An ordered, validated mapping between class names and ids (>= 1).

    >>> lm = LabelMap.from_names(["dog", "cat", "dog"])
    >>> [(i.id, i.name) for i in lm]
    [(1, 'cat'), (2, 'dog')]
    >>> lm.id_of("dog")
    2
    """

    def __init__(self, items: Iterable[LabelMapItem], *, source: str = "<label map>"):
        self.items: tuple[LabelMapItem, ...] = tuple(sorted(items, key=lambda i: i.id))
        self.source = source
        self._check()
        self._by_name = {i.name: i for i in self.items}
        self._by_display = {i.display_name: i for i in self.items if i.display_name}
        self._by_id = {i.id: i for i in self.items}

    # -- construction -------------------------------------------------------
    @classmethod
    def from_names(cls, names: Iterable[str]) -> "LabelMap":
        """Ids 1..K assigned to the sorted distinct names."""
        unique = sorted({str(n) for n in names})
        return cls((LabelMapItem(i, n) for i, n in enumerate(unique, start=1)), source="<derived from data>")

    @classmethod
    def from_pbtxt_string(cls, text: str, *, source: str = "<string>") -> "LabelMap":
        msg = StringIntLabelMap()
        try:
            text_format.Parse(text, msg)
        except text_format.ParseError as exc:
            raise LabelMapError(f"{source}: not a StringIntLabelMap text proto: {exc}") from None
        items = []
        for k, item in enumerate(msg.item, start=1):
            if not item.HasField("id"):
                raise LabelMapError(f"{source}: item {k} ({item.name!r}) has no id; every item needs `id: N` with N >= 1")
            if not item.name and not item.display_name:
                raise LabelMapError(f"{source}: item {k} (id {item.id}) has neither name nor display_name")
            items.append(LabelMapItem(int(item.id), item.name or item.display_name, item.display_name))
        if not items:
            raise LabelMapError(f"{source}: the label map has no items")
        return cls(items, source=source)

    @classmethod
    def read(cls, path: str | Path) -> "LabelMap":
        """A ``.pbtxt`` file (or a URL, read through Beam's FileSystems: ``--runner beam``)."""
        from dataprep.locations import location

        path = location(path)
        from dataprep.textio import TextFileError, read_text

        try:
            text = read_text(path, "label map")
        except TextFileError as exc:
            raise LabelMapError(f"the label map {exc}") from None
        return cls.from_pbtxt_string(text, source=str(path))

    # -- output ------------------------------------------------------------
    def to_pbtxt(self) -> str:
        msg = StringIntLabelMap()
        for i in self.items:
            it = msg.item.add(id=i.id, name=i.name)
            if i.display_name:
                it.display_name = i.display_name
        return text_format.MessageToString(msg, as_utf8=True)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.to_pbtxt(), encoding="utf-8")

    def to_dict(self) -> dict[str, int]:
        return {i.name: i.id for i in self.items}

    # -- lookups -----------------------------------------------------------
    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelMap) and self.items == other.items

    def __repr__(self) -> str:
        return f"LabelMap({', '.join(f'{i.id}:{i.name}' for i in self.items)})"

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.items]

    def id_of(self, name: str) -> int:
        """The id of ``name`` (matched on name, then display_name, like the TF
        OD API decoder); raises :class:`LabelMapError` naming the closest."""
        item = self._by_name.get(name) or self._by_display.get(name)
        if item is None:
            raise LabelMapError(self.unknown_message(name))
        return item.id

    def name_of(self, label_id: int) -> str:
        try:
            return self._by_id[int(label_id)].name
        except KeyError:
            raise LabelMapError(f"{self.source}: no class has id {label_id} (ids: {sorted(self._by_id)})") from None

    def ids_for(self, names: Sequence[str]) -> np.ndarray:
        """Vectorised :meth:`id_of`: int64 array, -1 where a name is unknown."""
        lookup = {**{k: v.id for k, v in self._by_display.items()}, **{k: v.id for k, v in self._by_name.items()}}
        return np.fromiter((lookup.get(n, -1) for n in names), dtype=np.int64, count=len(names))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Known names close to ``name``: case/space variants first, then fuzzy."""
        folded = name.strip().casefold()
        exact = [k for k in self.names if k.strip().casefold() == folded]
        fuzzy = difflib.get_close_matches(name, self.names, n=n, cutoff=0.6)
        return list(dict.fromkeys(exact + fuzzy))[:n]

    def unknown_message(self, name: str) -> str:
        known = ", ".join(self.names[:20]) + (", ..." if len(self) > 20 else "")
        hint = self.suggest(name)
        did_you_mean = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
        return f"{name!r} is not in the label map (known: {known}{did_you_mean})"

    # -- checks ------------------------------------------------------------
    def _check(self) -> None:
        seen_ids: dict[int, str] = {}
        seen_names: dict[str, int] = {}
        for item in self.items:
            if not item.name.strip():
                raise LabelMapError(f"{self.source}: class id {item.id} has an empty name")
            if item.id == 0:
                raise LabelMapError(
                    f"{self.source}: class {item.name!r} has id 0, which is reserved for the background; "
                    "number classes from 1"
                )
            if item.id < 0:
                raise LabelMapError(f"{self.source}: class {item.name!r} has a negative id {item.id}; ids start at 1")
            if item.id in seen_ids:
                raise LabelMapError(
                    f"{self.source}: id {item.id} is used by both {seen_ids[item.id]!r} and {item.name!r}"
                )
            if item.name in seen_names:
                raise LabelMapError(
                    f"{self.source}: name {item.name!r} appears twice (ids {seen_names[item.name]} and {item.id})"
                )
            seen_ids[item.id] = item.name
            seen_names[item.name] = item.id
