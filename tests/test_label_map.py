"""dataprep.label_map: StringIntLabelMap text format, ids >= 1, helpful lookups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataprep.errors import LabelMapError
from dataprep.label_map import LabelMap, LabelMapItem

REAL_LOOKING = """
# A label map as the TF OD API and LVIS ship them.
item {
  name: "/m/01g317"   # Freebase id
  id: 1
  display_name: "person"
  keypoints {
    id: 0
    label: "nose"
  }
  keypoints { id: 1 label: "left_eye" }
}
item {
  name: "aerosol_can"
  id: 3
  display_name: "aerosol can"
  frequency: RARE
  instance_count: 7
}
# trailing comment
item { id: 2 name: "bicycle" }
"""


def _write(tmp_path, text, name="label_map.pbtxt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_parse_real_looking_map_with_comments_keypoints_and_frequency(tmp_path):
    lm = LabelMap.read(_write(tmp_path, REAL_LOOKING))
    assert [(i.id, i.name, i.display_name) for i in lm] == [
        (1, "/m/01g317", "person"),
        (2, "bicycle", ""),
        (3, "aerosol_can", "aerosol can"),
    ]
    assert len(lm) == 3
    assert lm.names == ["/m/01g317", "bicycle", "aerosol_can"]


def test_display_name_lookups(tmp_path):
    lm = LabelMap.read(_write(tmp_path, REAL_LOOKING))
    assert lm.id_of("/m/01g317") == 1
    assert lm.id_of("person") == 1  # by display_name, like the TF OD API decoder
    assert lm.id_of("aerosol can") == 3
    assert lm.name_of(3) == "aerosol_can"
    assert lm.ids_for(["person", "bicycle", "aerosol_can"]).tolist() == [1, 2, 3]


def test_name_wins_over_another_items_display_name():
    lm = LabelMap([LabelMapItem(1, "a", display_name="b"), LabelMapItem(2, "b")])
    assert lm.id_of("b") == 2
    assert lm.ids_for(["b"]).tolist() == [2]


def test_item_with_only_display_name_uses_it_as_name():
    lm = LabelMap.from_pbtxt_string('item { id: 4 display_name: "Cat" }')
    assert [(i.id, i.name) for i in lm] == [(4, "Cat")]


def test_pbtxt_round_trip(tmp_path):
    first = LabelMap.read(_write(tmp_path, REAL_LOOKING))
    out = tmp_path / "again.pbtxt"
    first.write(out)
    second = LabelMap.read(out)
    assert second == first
    assert second.items == first.items
    # The written text is itself a fixed point.
    assert second.to_pbtxt() == first.to_pbtxt()
    assert 'display_name: "aerosol can"' in out.read_text(encoding="utf-8")


def test_non_ascii_names_round_trip_as_utf8(tmp_path):
    lm = LabelMap([LabelMapItem(1, "chien"), LabelMapItem(2, "猫"), LabelMapItem(3, "café", "Café ☕")])
    path = tmp_path / "lm.pbtxt"
    lm.write(path)
    raw = path.read_bytes()
    assert "猫".encode("utf-8") in raw  # written as UTF-8, not octal escapes
    assert "café".encode("utf-8") in raw
    back = LabelMap.read(path)
    assert back == lm
    assert back.id_of("猫") == 2
    assert back.id_of("Café ☕") == 3


def test_id_zero_is_refused_mentioning_background(tmp_path):
    path = _write(tmp_path, 'item { id: 0 name: "background" }\nitem { id: 1 name: "cat" }')
    with pytest.raises(LabelMapError, match="background") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)
    assert "id 0" in str(exc.value)


def test_negative_id_is_refused(tmp_path):
    path = _write(tmp_path, 'item { id: -3 name: "cat" }')
    with pytest.raises(LabelMapError, match="negative id -3") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)


def test_duplicate_ids_are_refused(tmp_path):
    path = _write(tmp_path, 'item { id: 2 name: "cat" }\nitem { id: 2 name: "dog" }')
    with pytest.raises(LabelMapError, match="id 2 is used by both") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)
    assert "'cat'" in str(exc.value) and "'dog'" in str(exc.value)


def test_duplicate_names_are_refused(tmp_path):
    path = _write(tmp_path, 'item { id: 1 name: "cat" }\nitem { id: 2 name: "cat" }')
    with pytest.raises(LabelMapError, match="'cat' appears twice") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)


def test_missing_id_is_refused(tmp_path):
    path = _write(tmp_path, 'item { id: 1 name: "cat" }\nitem { name: "dog" }')
    with pytest.raises(LabelMapError, match="has no id") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)
    assert "'dog'" in str(exc.value)


def test_item_without_any_name_is_refused(tmp_path):
    path = _write(tmp_path, "item { id: 1 }")
    with pytest.raises(LabelMapError, match="neither name nor display_name") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_map_is_refused(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(LabelMapError, match="no items") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("text", ['item { id: 1 name: "cat" ', 'item { id: "one" name: "cat" }', "item { id: 1 name: cat }"])
def test_malformed_text_names_the_file(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(LabelMapError, match="not a StringIntLabelMap") as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)


def test_a_file_in_another_format_is_refused_naming_the_file(tmp_path):
    # Unknown top-level fields are tolerated (allow_unknown_field), so a
    # `name: id` listing parses as an empty map, which is refused.
    path = _write(tmp_path, "cat: 1\ndog: 2\n")
    with pytest.raises(LabelMapError) as exc:
        LabelMap.read(path)
    assert str(path) in str(exc.value)


def test_unreadable_and_non_utf8_files_name_the_file(tmp_path):
    missing = tmp_path / "nope.pbtxt"
    with pytest.raises(LabelMapError, match="cannot read") as exc:
        LabelMap.read(missing)
    assert str(missing) in str(exc.value)
    latin = tmp_path / "latin1.pbtxt"
    latin.write_bytes('item { id: 1 name: "caf\xe9" }'.encode("latin-1"))
    with pytest.raises(LabelMapError, match="not UTF-8") as exc:
        LabelMap.read(latin)
    assert str(latin) in str(exc.value)


def test_from_names_sorted_ids_from_one():
    lm = LabelMap.from_names(["zebra", "ant", "dog", "ant", "zebra"])
    assert [(i.id, i.name) for i in lm] == [(1, "ant"), (2, "dog"), (3, "zebra")]
    assert lm.to_dict() == {"ant": 1, "dog": 2, "zebra": 3}


def test_ids_for_gives_minus_one_for_unknown():
    lm = LabelMap.from_names(["cat", "dog"])
    got = lm.ids_for(["dog", "Dog", "cat", "", "bird"])
    assert got.dtype == np.int64
    assert got.tolist() == [2, -1, 1, -1, -1]
    assert lm.ids_for([]).tolist() == []


def test_id_of_unknown_raises_with_suggestion():
    lm = LabelMap.from_names(["cat", "dog", "person"])
    with pytest.raises(LabelMapError, match="did you mean 'dog'"):
        lm.id_of("Dog")


def test_suggest_and_unknown_message_propose_dog_for_Dog():
    lm = LabelMap.from_names(["cat", "dog", "person"])
    assert lm.suggest("Dog")[0] == "dog"
    assert lm.suggest(" DOG ")[0] == "dog"
    msg = lm.unknown_message("Dog")
    assert msg == "'Dog' is not in the label map (known: cat, dog, person; did you mean 'dog'?)"
    assert "did you mean" not in lm.unknown_message("xylophone")


def test_unknown_message_truncates_long_lists():
    lm = LabelMap.from_names([f"class{i:02d}" for i in range(30)])
    msg = lm.unknown_message("zzz")
    assert "class19" in msg and "class20" not in msg and ", ..." in msg


def test_name_of_unknown_id_lists_ids():
    lm = LabelMap.from_names(["cat", "dog"])
    with pytest.raises(LabelMapError, match=r"no class has id 7 \(ids: \[1, 2\]\)"):
        lm.name_of(7)


def test_equality_and_order_by_id():
    a = LabelMap([LabelMapItem(5, "b"), LabelMapItem(2, "a")])
    b = LabelMap([LabelMapItem(2, "a"), LabelMapItem(5, "b")])
    assert a == b
    assert [i.id for i in a] == [2, 5]
    assert a != LabelMap([LabelMapItem(2, "a"), LabelMapItem(6, "b")])
    assert a != {"a": 2, "b": 5}


@pytest.mark.parametrize(("name", "count", "max_id"), [("mscoco.pbtxt", 80, 90), ("pascal_voc.pbtxt", 20, 20)])
def test_shipped_label_maps_parse_and_round_trip(tmp_path, name, count, max_id):
    path = Path(__file__).resolve().parent.parent / "dataprep" / "label_maps" / name
    lm = LabelMap.read(path)
    assert len(lm) == count
    assert max(i.id for i in lm) == max_id and min(i.id for i in lm) == 1
    out = tmp_path / name
    lm.write(out)
    assert LabelMap.read(out) == lm
