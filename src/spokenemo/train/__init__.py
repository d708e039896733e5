"""Training, for every system: one generic loop on Hugging Face accelerate.

- :mod:`~spokenemo.train.loop`: :func:`~spokenemo.train.loop.fit` (a model, examples, a loss
  callable, settings -> trained in place, checkpointed, resumable); why accelerate, and how to
  launch on several GPUs or nodes (``accelerate launch`` / ``torchrun``);
- :mod:`~spokenemo.train.settings`: :class:`~spokenemo.train.settings.TrainSettings` and
  :class:`~spokenemo.train.settings.FitResult`;
- :mod:`~spokenemo.train.runtime`: the accelerator, seeds, data order, optimizer and schedule;
- :mod:`~spokenemo.train.checkpoint`: atomic checkpoints on accelerate's saved state.

A system maps its config onto ``TrainSettings`` and passes its own loss (AECoTD:
:mod:`spokenemo.systems.aecotd.training`); nothing here knows a system.
"""
