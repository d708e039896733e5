"""protocols.paired: paired differences between two rows on shared seeds or folds."""

from __future__ import annotations

import pytest

from spokenemo.protocols.paired import paired_difference


def test_paired_difference_by_hand_and_only_on_shared_keys():
    d = paired_difference({0: 0.9, 1: 0.7, 2: 0.5, 9: 0.1}, {0: 0.8, 1: 0.8, 2: 0.2})
    assert d.n == 3 and d.wins == 2
    assert d.mean == pytest.approx((0.1 - 0.1 + 0.3) / 3)
    diffs = [0.1, -0.1, 0.3]
    m = sum(diffs) / 3
    assert d.std == pytest.approx((sum((x - m) ** 2 for x in diffs) / 2) ** 0.5)
    assert d.describe() == f"+{m * 100:.1f} ± {d.std * 100:.1f} (2 of 3 favour A)"


def test_a_gain_larger_than_its_spread_is_not_within_spread():
    assert not paired_difference({s: 0.8 + 0.001 * s for s in range(5)}, {s: 0.7 for s in range(5)}).within_spread
    assert paired_difference({0: 0.5}, {0: 0.5}).std == 0.0


def test_nothing_shared_is_an_error_naming_both_sides():
    with pytest.raises(ValueError, match="no shared seed"):
        paired_difference({0: 1.0}, {1: 1.0})
