"""ABHINAYA: five speech, text and speech+text members trained with class-imbalance losses, joined
by majority vote (thesis.md 5; docs/methods/abhinaya.md). The registered systems are listed in
:mod:`spokenemo.systems.abhinaya.system`; :mod:`.vote` holds the vote and its tie rule."""
