"""S2S-ZEST (issue #22): training of the analysis modules, the converter folder, transfer and the vocoder
loop. Not a recognition system (no ``system`` module): reached through :mod:`spokenemo.api.convert`."""
