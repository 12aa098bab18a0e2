"""Option groups: each command takes only what it uses, each group checks its values."""

from __future__ import annotations

import pytest

from dataprep.convert import BalanceOptions, CheckOptions, ConvertOptions, LayoutOptions, SplitOptions
from dataprep.errors import UsageError


def test_convert_options_are_the_three_groups():
    opts = ConvertOptions(out="o", on_error="skip", num_shards=3, compression="gzip", seed=7,
                          split="train=0.8,val=0.2", rebalance="images")
    assert opts.checks == CheckOptions(on_error="skip")
    assert opts.layout == LayoutOptions(num_shards=3, compression="gzip", seed=7)
    assert opts.balance == BalanceOptions(split={"train": 0.8, "val": 0.2}, rebalance="images", seed=7)
    assert opts.split == {"train": 0.8, "val": 0.2}


@pytest.mark.parametrize("make, message", [
    (lambda: CheckOptions(on_error="ignore"), "--on-error must be fix, skip or fail, got 'ignore'"),
    (lambda: CheckOptions(workers=0), "--workers must be >= 1, got 0"),
    (lambda: LayoutOptions(compression="zstd"), "--compression must be gzip or none, got 'zstd'"),
    (lambda: LayoutOptions(num_shards=0), "--num-shards must be >= 1, got 0"),
    (lambda: BalanceOptions(rebalance="classes"), "--rebalance must be images or instances, got 'classes'"),
    (lambda: BalanceOptions(group_by="(x)"), "--group-by only applies with --split"),
    (lambda: SplitOptions(out="o", workers=0), "--workers must be >= 1, got 0"),
    (lambda: SplitOptions(out="o", compression="zstd", split="train=1"), "--compression must be gzip or none"),
])
def test_each_group_checks_its_values(make, message):
    with pytest.raises(UsageError, match=message):
        make()


def test_split_options_record_only_what_split_uses():
    split = ConvertOptions(out="o", split="train=0.5,val=0.5", num_shards=2, drop_empty=True).for_split()
    assert isinstance(split, SplitOptions)
    recorded = split.to_json()
    assert recorded["split"] == {"train": 0.5, "val": 0.5} and recorded["num_shards"] == 2
    assert not {"label_map", "on_error", "drop_empty", "decode_check", "progress"} & set(recorded)


def test_check_options_make_a_dry_run():
    opts = ConvertOptions.for_checks(CheckOptions(max_pixels=10, drop_empty=True))
    assert opts.dry_run and opts.max_pixels == 10 and opts.drop_empty
