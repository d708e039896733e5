"""Evaluation: metrics (plain functions any layer above protocols may import) and figures.

``plot_confusion`` imports matplotlib only when called.
"""

from .metrics import (
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
from .plots import plot_confusion, row_percentages

__all__ = ["SCALARS", "AggregateResult", "ClassificationResult", "MetricWarning", "aggregate_metrics", "ccc",
           "compute_metrics", "confusion_matrix", "metrics_from_confusion", "plot_confusion", "row_percentages"]
