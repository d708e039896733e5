"""The product layer, thin over :mod:`spokenemo.api`: the ``spokenemo`` command
(:mod:`~spokenemo.apps.cli`), the static explanation page (:mod:`~spokenemo.apps.web`) and
``make demo`` (:mod:`~spokenemo.apps.demo`).
"""
