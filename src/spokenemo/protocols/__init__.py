"""Evaluation protocols: label names and sets, folds, manifest summaries, metrics and their figures."""

from spokenemo.protocols.folds import (
    MELD4_PER_CLASS,
    MELD4_SEED,
    PROTOCOLS,
    SPEAKER_SHARING_SPLITS,
    Fold,
    build_folds,
    check_conversations,
    check_speaker_independence,
    contiguous_groups,
    cross_corpus,
    dialogue_ids,
    dialogue_kfold,
    fold_counts,
    leave_one_session_out,
    leave_one_speaker_out,
    meld4_protocol,
    meld4_test_keys,
    normalize_split,
    official_split,
    read_folds,
    read_folds_index,
    speaker_kfold,
    split_conversations,
    write_folds,
)
from spokenemo.protocols.labels import (
    CANONICAL,
    LABEL_SETS,
    LabelledUtterances,
    LabelSet,
    apply_label_set,
    get_label_set,
    normalize_label,
)
from spokenemo.protocols.metrics import (
    SCALARS,
    AggregateResult,
    ClassificationResult,
    MetricWarning,
    aggregate_metrics,
    ccc,
    compute_metrics,
    confusion_matrix,
    metrics_from_confusion,
)
from spokenemo.protocols.plots import plot_confusion, row_percentages
from spokenemo.protocols.summary import ManifestSummary, summarize

__all__ = [
    "SCALARS", "AggregateResult", "ClassificationResult", "MetricWarning", "aggregate_metrics", "ccc",
    "compute_metrics", "confusion_matrix", "metrics_from_confusion", "plot_confusion", "row_percentages",
    "CANONICAL", "LABEL_SETS", "MELD4_PER_CLASS", "MELD4_SEED", "PROTOCOLS", "SPEAKER_SHARING_SPLITS",
    "Fold", "LabelSet", "LabelledUtterances", "ManifestSummary", "apply_label_set", "build_folds",
    "check_conversations", "check_speaker_independence", "contiguous_groups", "cross_corpus", "dialogue_ids",
    "dialogue_kfold", "fold_counts", "get_label_set", "leave_one_session_out", "leave_one_speaker_out",
    "meld4_protocol", "meld4_test_keys", "normalize_label", "normalize_split", "official_split", "read_folds",
    "read_folds_index", "speaker_kfold", "split_conversations", "summarize", "write_folds",
]
