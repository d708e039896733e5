"""The lowest layer: what every other layer shares, one place each.

- :mod:`~spokenemo.core.errors`: typed errors that name the thing and the fix.
- :mod:`~spokenemo.core.fileio`: atomic writes, append-only JSONL.
- :mod:`~spokenemo.core.cache`: the fingerprinted, resumable store of per-item results.
- :mod:`~spokenemo.core.registry`: name -> object registries.
- :mod:`~spokenemo.core.speakers`: the one speaker rule (``corpus/speaker``).
- :mod:`~spokenemo.core.sampling`: seeded, order-independent subsets.
- :mod:`~spokenemo.core.config`: the YAML config loader (dotted overrides, typed validation).
- :mod:`~spokenemo.core.lazy`: :func:`~spokenemo.core.lazy.optional_import` for heavy optional packages.

Nothing here imports another spokenemo layer (docs/architecture.md).
"""
