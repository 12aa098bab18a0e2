"""What a conversion returns: the manifest, the report, and the summary the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dataprep.label_map import LabelMap
from dataprep.findings import Report


@dataclass
class ConvertResult:
    out: Path
    manifest: dict
    report: Report
    seconds: float
    label_map: LabelMap
    shards: list[Path] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        c = self.report.counts
        m = self.manifest
        rate = c.images_read / self.seconds if self.seconds > 0 else float("nan")
        lines = [
            f"Wrote {self.out}",
            f"  images   {c.images_read} read, {c.images_written} written, {c.images_skipped} skipped",
            f"  boxes    {c.boxes_read} read, {c.boxes_written} written, {c.boxes_dropped} dropped",
            f"  classes  {len(self.label_map)} ({', '.join(self.label_map.names[:8])}"
            f"{', ...' if len(self.label_map) > 8 else ''})",
        ]
        for split, s in m["splits"].items():
            lines.append(f"  {split:8} {s['examples']} examples, {s['boxes']} boxes in {len(s['shards'])} shard(s)")
        lines.extend(class_table_lines(m, self.label_map))
        sev = self.report.by_severity()
        lines.append(f"  findings {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info "
                     f"(report.json)")
        lines.append(f"  time     {self.seconds:.1f} s, {rate:.0f} images/s")
        return lines


def class_table_lines(manifest: dict, label_map: LabelMap, max_classes: int = 30) -> list[str]:
    """Boxes (images) per class and split; with --rebalance, the rebalanced
    split before and after."""
    splits = manifest["splits"]
    if not splits or len(label_map) > max_classes:
        return []
    reb = manifest.get("rebalance")
    before = {}
    if reb:
        for key, v in reb["per_class"].items():
            name = label_map.name_of(int(key)) if str(key).lstrip("-").isdigit() else key
            before[name] = f"{v['instances_before']} ({v['images_before']})"
    cols = list(splits)
    head = [f"{s} before" if reb and s == reb["split"] else None for s in cols]
    width = max(8, max(len(n) for n in label_map.names))
    header = f"  {'class':{width}}" + "".join(
        (f"  {h:>14}" if h else "") + f"  {s:>14}" for s, h in zip(cols, head))
    lines = ["", header]
    for item in label_map:
        row = f"  {item.name:{width}}"
        for s, h in zip(cols, head):
            c = splits[s]["classes"].get(item.name, {"boxes": 0, "images": 0})
            if h:
                row += f"  {before.get(item.name, '0 (0)'):>14}"
            row += f"  {str(c['boxes']) + ' (' + str(c['images']) + ')':>14}"
        lines.append(row)
    lines.append(f"  {'':{width}}  boxes (images) per split" + ("; repeats counted" if reb else ""))
    return lines
