"""The baselines, each a registered system: ``cue-lr``, ``egemaps-svm``, ``majority``, ``tfidf-lr``.

Importing this package registers them (the registry imports it on its first lookup).
:mod:`.estimators` builds their scikit-learn pipelines; :mod:`.numeric` holds what the
feature-matrix baselines share (speaker z-scoring, segments without features).
"""

from spokenemo.systems.baselines.cue_lr import CueLR, CueLRConfig
from spokenemo.systems.baselines.egemaps_svm import EgemapsSVM, EgemapsSVMConfig
from spokenemo.systems.baselines.estimators import fit_predict, make_baseline, speaker_zscore
from spokenemo.systems.baselines.majority import Majority, MajorityConfig
from spokenemo.systems.baselines.tfidf_lr import TfidfLR, TfidfLRConfig

__all__ = ["CueLR", "CueLRConfig", "EgemapsSVM", "EgemapsSVMConfig", "Majority", "MajorityConfig", "TfidfLR",
           "TfidfLRConfig", "fit_predict", "make_baseline", "speaker_zscore"]
