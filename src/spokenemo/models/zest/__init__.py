"""S2S-ZEST building blocks (thesis chapter 5; issue #22): content units, F0, WORLD rendering, and the
torch modules (speaker and emotion embeddings with gradient reversal, F0 and duration predictors, a
reduced-width BigVGAN-style vocoder).

The numpy modules (:mod:`.units`, :mod:`.pitch`, :mod:`.world`) import no torch; the torch modules
(:mod:`.nets`, :mod:`.predictors`, :mod:`.style`, :mod:`.vocoder`) are imported by name. The method is
described in ``docs/methods/s2s-zest.md``.
"""

from spokenemo.models.zest.units import UnitTokenizer, dedup, duplicate, unit_quality

__all__ = ["UnitTokenizer", "dedup", "duplicate", "unit_quality"]
