"""Timeline metrics (protocols/timeline_metrics.py): every value below is computed by hand."""

from __future__ import annotations

import pytest

from spokenemo.core.errors import ProtocolError
from spokenemo.protocols.metrics import MetricWarning
from spokenemo.protocols.timeline_metrics import (
    NO_LABEL,
    Span,
    boundary_f1,
    eder,
    eder_parts,
    frame_labels,
    frame_ua,
    frames_to_spans,
    resolve_overlaps,
    speaker_purity_coverage,
)


def test_eder_reproduces_speechbrains_example():
    # prediction n n n a a a, 0.2 s windows and stride; truth angry 0.39-1.10 in a 1.22 s utterance.
    # correct: neutral 0-0.39 (0.39) + angry 0.6-1.1 (0.5) = 0.89 of 1.22 s
    hyp = frames_to_spans(["n", "n", "n", "a", "a", "a"], window_length=0.2, stride=0.2)
    assert [(s.start, s.end, s.label) for s in hyp] == [(0.0, pytest.approx(0.6), "n"), (pytest.approx(0.6), 1.2, "a")]
    assert eder([Span(0.39, 1.10, "a")], hyp, 1.22, fill="n") == pytest.approx(1 - 0.89 / 1.22)


def test_eder_parts_split_missed_false_alarm_and_confusion():
    ref = [Span(0.0, 2.0, "angry")]  # 2-4 s is neutral (fill)
    hyp = [Span(0.0, 1.0, "angry"), Span(1.0, 2.0, "sad"), Span(2.0, 3.0, "happy")]  # 3-4 s uncovered
    parts = eder_parts(ref, hyp, 4.0, fill="neutral")
    assert parts == pytest.approx({"missed": 0.25, "false_alarm": 0.25, "confusion": 0.25, "eder": 0.75})
    # a hypothesis fill for pauses turns the missed second into a correct neutral
    assert eder(ref, hyp, 4.0, fill="neutral", hypothesis_fill="neutral") == pytest.approx(0.5)
    assert eder(ref, [], 4.0, fill="neutral", hypothesis_fill="neutral") == pytest.approx(0.5)


def test_overlapping_hypotheses_are_merged_then_shared_at_the_midpoint():
    # SpeechBrain's distribute_overlap example
    spans = [Span(5.5, 9.0, "s1"), Span(8.0, 11.0, "s2"), Span(11.5, 13.0, "s2"), Span(12.0, 15.0, "s1")]
    got = [(s.start, s.end, s.label) for s in resolve_overlaps(spans)]
    assert got == [(5.5, 8.5, "s1"), (8.5, 11.0, "s2"), (11.5, 12.5, "s2"), (12.5, 15.0, "s1")]
    assert [(s.start, s.end) for s in resolve_overlaps([Span(0, 2, "a"), Span(1, 3, "a")])] == [(0, 3)]


def test_frame_ua_strict_and_with_nearest_fill():
    ref = [Span(0.0, 1.0, "angry"), Span(1.0, 2.0, "sad")]
    hyp = [Span(0.0, 0.8, "angry"), Span(1.2, 2.0, "sad")]  # a 0.4 s pause in the middle
    strict = frame_ua(ref, hyp, ["angry", "sad"], step=0.1)
    assert strict.n == 20 and strict.n_invalid == 4
    assert strict.recall == pytest.approx({"angry": 0.8, "sad": 0.8}) and strict.ua == pytest.approx(0.8)
    # frames 0.85, 0.95 are nearer the angry span, 1.05, 1.15 the sad one
    assert frame_ua(ref, hyp, ["angry", "sad"], step=0.1, hypothesis_fill="nearest").ua == pytest.approx(1.0)
    r, h = frame_labels(ref, [Span(0.0, 1.5, "angry")], step=0.5)
    assert r == ["angry", "angry", "sad", "sad"] and h == ["angry", "angry", "angry", NO_LABEL]
    wrong = frame_ua(ref, [Span(0.0, 1.5, "angry")], ["angry", "sad"], step=0.1)
    assert wrong.recall == pytest.approx({"angry": 1.0, "sad": 0.0}) and wrong.ua == pytest.approx(0.5)


def test_frames_outside_the_reference_are_not_scored():
    ref = [Span(1.0, 2.0, "happy")]
    with pytest.warns(MetricWarning, match="sad"):
        result = frame_ua(ref, [Span(0.0, 3.0, "happy")], ["happy", "sad"], step=0.25)
    assert result.n == 4 and result.wa == 1.0


def test_boundary_f1_matches_within_the_tolerance_one_to_one():
    ref = [Span(0.0, 2.0, "a"), Span(2.0, 4.0, "b")]  # boundaries 0, 2, 4
    hyp = [Span(0.0, 2.3, "a"), Span(2.3, 4.0, "b")]  # boundaries 0, 2.3, 4
    assert boundary_f1(ref, hyp, tolerance=0.5)["f1"] == pytest.approx(1.0)
    tight = boundary_f1(ref, hyp, tolerance=0.2)
    assert (tight["precision"], tight["recall"], tight["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # same label on both sides of a pause: the pause edges are boundaries; touching same labels are not
    assert boundary_f1([Span(0, 1, "a"), Span(2, 3, "a")], [Span(0, 3, "a")], tolerance=0.1)["recall"] == 0.5
    extra = boundary_f1(ref, [Span(0.0, 1.0, "a"), Span(1.0, 2.0, "b"), Span(2.0, 4.0, "b")], tolerance=0.1)
    # the two touching b spans merge: hypothesis boundaries 0, 1, 4 against 0, 2, 4
    assert (extra["precision"], extra["recall"]) == pytest.approx((2 / 3, 2 / 3))


def test_speaker_purity_and_coverage_on_time():
    ref = [Span(0, 4, "x", "A"), Span(4, 6, "x", "B")]
    one = speaker_purity_coverage(ref, [Span(0, 6, "x", "S1")])
    assert one == pytest.approx({"purity": 4 / 6, "coverage": 1.0})
    split = speaker_purity_coverage(ref, [Span(0, 2, "x", "S1"), Span(2, 4, "x", "S2"), Span(4, 6, "x", "S3")])
    assert split == pytest.approx({"purity": 1.0, "coverage": 4 / 6})


def test_bad_references_are_refused():
    with pytest.raises(ProtocolError, match="overlap"):
        eder([Span(0, 2, "a"), Span(1, 3, "b")], [], 3.0)
    with pytest.raises(ProtocolError, match="end <= start"):
        eder([Span(2, 1, "a")], [], 3.0)
    with pytest.raises(ProtocolError, match="duration"):
        eder([], [], 0.0)
    with pytest.raises(ProtocolError):
        speaker_purity_coverage([], [Span(0, 1, "a")])
