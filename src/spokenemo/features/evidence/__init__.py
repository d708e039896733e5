"""Cue evidence a person can check against the sound (docs/methods/explanations.md).

- :mod:`.tracks`: F0 (Praat, or pYIN), level and sounding span on the 10 ms cue grid;
- :mod:`.measure`: the cues of one segment in hearing units, and the pitch contour;
- :mod:`.evidence`: the segment against a stated baseline (:class:`Baseline`, :func:`compare`);
- :mod:`.profiles`: emotion profiles with their sources;
- :mod:`.explain`: grounded explanation text (:func:`explain`);
- :mod:`.claims`, :mod:`.faithfulness`: cue claims in free text, checked against the evidence;
- :mod:`.cuetext`: evidence read from an AECoTD cue text.
"""

from spokenemo.features.evidence.catalogue import CUE_NAMES, CUES, SPECS, CueSpec
from spokenemo.features.evidence.claims import Claim, parse_claims
from spokenemo.features.evidence.cuetext import evidence_from_cue_text
from spokenemo.features.evidence.evidence import Baseline, Comparison, Evidence, compare
from spokenemo.features.evidence.explain import CLOSE_MARGIN, CueRole, Explanation, explain
from spokenemo.features.evidence.faithfulness import Faithfulness, Verdict, check_faithfulness
from spokenemo.features.evidence.measure import Contour, CueMeasures, measure_cues
from spokenemo.features.evidence.profiles import Profile, profile, profile_table
from spokenemo.features.evidence.tracks import VoiceTracks, voice_tracks

__all__ = ["CLOSE_MARGIN", "CUES", "CUE_NAMES", "SPECS", "Baseline", "Claim", "Comparison", "Contour", "CueMeasures",
           "CueRole", "CueSpec", "Evidence", "Explanation", "Faithfulness", "Profile", "Verdict", "VoiceTracks",
           "check_faithfulness", "compare", "evidence_from_cue_text", "explain", "measure_cues", "parse_claims",
           "profile", "profile_table", "voice_tracks"]
