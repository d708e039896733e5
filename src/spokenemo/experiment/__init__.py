"""Experiments: run registered systems (students and baselines) on the same folds and report them.

>>> from spokenemo.experiment import load_config, run_experiment, RunOptions
>>> result = run_experiment("configs/ravdess-4class.yaml", "runs/ravdess",
...                         RunOptions(systems=["cue-lr", "egemaps-svm", "majority"]))  # doctest: +SKIP

See :mod:`.config` for the YAML layout, :mod:`.systems` for system rows (presets of registered
systems, :mod:`spokenemo.systems`), :mod:`.runner` for the output folder and resuming,
:mod:`.report` for results.json and report.md, :mod:`.layout` for where files go.
"""

from spokenemo.experiment.config import ExperimentConfig, config_from_dict, load_config, resolve_path
from spokenemo.experiment.results import ExperimentResult, RunOptions, SystemResult
from spokenemo.experiment.runner import Runner, run_experiment
from spokenemo.experiment.systems import PRESETS, SystemSpec, ablation_systems, make_spec, resolve_system
from spokenemo.systems.baselines.estimators import fit_predict, make_baseline, speaker_zscore

__all__ = ["PRESETS", "ExperimentConfig", "ExperimentResult", "RunOptions", "Runner", "SystemResult", "SystemSpec",
           "ablation_systems", "config_from_dict", "fit_predict", "load_config", "make_baseline", "make_spec",
           "resolve_path", "resolve_system", "run_experiment", "speaker_zscore"]
