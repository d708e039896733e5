"""Cue claims in free text: :func:`parse_claims` reads what an explanation says about pitch, loudness,
rate, pauses, contour, range and voice quality, in the words people use.

How a text is read:

1. Sentences are split at ``. ! ?`` (not inside numbers) and line breaks; each sentence into chunks
   at ``, ; :`` and at ``but``, ``while``, ``whereas``, ``although``. A chunk that names cues but
   no direction ("the pitch, the loudness and ...") is joined to the next one.
2. Chunks with a general or hedged statement ("usually", "typically", "tends to", "would", "may",
   "is associated with", ...) are skipped: they are not about this recording.
3. Fixed contour phrases first ("rises and then falls", "neither rises nor falls").
4. Each cue mention (longest first: "pitch variability" before "pitch") takes the nearest
   direction word its cue accepts (``higher``, ``louder``, ``fast``, ``rising``, ``about the
   same``, ``monotone``...), which also decides the measured cue the claim is about ("flat pitch"
   -> the pitch range). Direction words that no mention took and that name their cue by themselves
   ("louder", "fast", "monotone", "high-pitched", "rising") make a claim of their own.
5. A negation ("not", "no", "never", "n't", "hardly") up to three words before the direction word
   negates the claim; "no pauses" claims a pause count of zero.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

LEVEL, LOUD, RATE, RANGE, COUNT, LENGTH, CONTOUR, TILT, SAME, PITCHED, QUALITY = (
    "level", "loud", "rate", "range", "count", "length", "contour", "tilt", "same", "pitched", "quality")

#: Direction words -> [(family, sign)].
DIRECTIONS: dict[str, list[tuple[str, int]]] = {}


def _add(family: str, sign: int, words: str) -> None:
    for w in words.split("|"):
        DIRECTIONS.setdefault(w, []).append((family, sign))


_add(LEVEL, 1, "high|higher|raised|elevated|increased|heightened|above|greater|larger|bigger|more")
_add(LEVEL, -1, "low|lower|reduced|decreased|below|smaller|less|deep|deeper")
_add(LOUD, 1, "loud|louder|loudly|strong|stronger|intense|forceful|shouted|shouting|powerful")
_add(LOUD, -1, "soft|softer|softly|quiet|quieter|quietly|weak|weaker|hushed|whispered|faint")
_add(RATE, 1, "fast|faster|quick|quicker|quickly|rapid|rapidly|hurried|rushed|brisk")
_add(RATE, -1, "slow|slower|slowly|sluggish|unhurried|leisurely")
_add(RANGE, 1, "wide|wider|broad|broader|varied|variable|expressive|lively|animated|dynamic")
_add(RANGE, -1, "narrow|narrower|monotone|monotonous|flat|flatter|restricted|limited")
_add(COUNT, 1, "many|more|frequent|several|numerous")
_add(COUNT, -1, "few|fewer|rare|sparse")
_add(LENGTH, 1, "long|longer|lengthy|extended")
_add(LENGTH, -1, "short|shorter|brief")
_add(CONTOUR, 1, "rising|rises|rise|rose|climbs|climbing|upward|ascending")
_add(CONTOUR, -1, "falling|falls|fall|fell|drops|dropping|declining|declines|downward|descending|sinks|sinking")
_add(TILT, 1, "flatter|brighter|bright|sharper|tenser")
_add(TILT, -1, "steeper|duller|dull|darker|dark|mellow")
_add(PITCHED, 1, "high-pitched|shrill|squeaky")
_add(PITCHED, -1, "low-pitched")
_add(QUALITY, -1, "breathy|hoarse")
_add(SAME, 0, "about the same|the same|similar|unchanged|as usual|normal|average|typical|moderate|steady|stable"
     "|ordinary|usual|medium")

#: Words that name their cue by themselves: word -> (cue, family).
IMPLIED: dict[str, tuple[str, str]] = {
    **{w: ("loudness", LOUD) for w in ["loud", "louder", "loudly", "quiet", "quieter", "quietly", "soft", "softer", "softly", "shouted", "shouting", "whispered"]},
    **{w: ("speech_rate", RATE) for w in ["fast", "faster", "quick", "quicker", "quickly", "rapid", "rapidly", "hurried", "rushed", "slow", "slower", "slowly", "sluggish"]},
    **{w: ("pitch_range", RANGE) for w in ["monotone", "monotonous"]},
    **{w: ("pitch", LEVEL) for w in ("high-pitched", "low-pitched", "shrill", "squeaky")},
    **{w: ("contour", CONTOUR) for w in ["rising", "rises", "falling"]},
    **{w: ("hnr", LEVEL) for w in ("breathy", "hoarse")},
}
_IMPLIED_SIGN = {"high-pitched": 1, "low-pitched": -1, "shrill": 1, "squeaky": 1, "breathy": -1, "hoarse": -1}

#: Cue mentions -> {family: the measured cue the claim is about}.
_P = {LEVEL: "pitch", CONTOUR: "contour", SAME: "pitch", RANGE: "pitch_range", PITCHED: "pitch"}
_L = {LEVEL: "loudness", LOUD: "loudness", SAME: "loudness", CONTOUR: "loudness_contour"}
MENTIONS: dict[str, dict[str, str]] = {
    "pitch variability": {LEVEL: "pitch_variability", RANGE: "pitch_variability", SAME: "pitch_variability"},
    "pitch variation": {LEVEL: "pitch_variability", RANGE: "pitch_variability", SAME: "pitch_variability"},
    "pitch range": {LEVEL: "pitch_range", RANGE: "pitch_range", SAME: "pitch_range"},
    "range": {LEVEL: "pitch_range", RANGE: "pitch_range", SAME: "pitch_range"},
    "intonation": {CONTOUR: "contour", RANGE: "pitch_range", SAME: "pitch_range"},
    "melody": {CONTOUR: "contour", RANGE: "pitch_range", SAME: "pitch_range"},
    "pitch contour": {CONTOUR: "contour", RANGE: "pitch_range"},
    "pitch": _P, "f0": _P, "fundamental frequency": _P, "tone of voice": _P,
    "loudness variability": {LEVEL: "loudness_variability", RANGE: "loudness_variability",
                             SAME: "loudness_variability"},
    "intensity variability": {LEVEL: "loudness_variability", RANGE: "loudness_variability",
                              SAME: "loudness_variability"},
    "intensity": _L, "loudness": _L, "volume": _L, "vocal effort": _L, "voice": {LOUD: "loudness"},
    "articulation rate": {LEVEL: "articulation_rate", RATE: "articulation_rate", SAME: "articulation_rate"},
    **{m: {LEVEL: "speech_rate", RATE: "speech_rate", SAME: "speech_rate"}
       for m in ("speech rate", "speaking rate", "rate of speech", "tempo", "pace", "speed", "rate")},
    **{m: {COUNT: "pause_count", LENGTH: "pause_length", SAME: "pause_count"} for m in ("pauses", "pause")},
    "jitter": {LEVEL: "jitter", SAME: "jitter"}, "shimmer": {LEVEL: "shimmer", SAME: "shimmer"},
    **{m: {LEVEL: "hnr", SAME: "hnr", QUALITY: "hnr"} for m in ("harmonics-to-noise ratio", "hnr", "harmonicity")},
    **{m: {TILT: "spectral_tilt", LEVEL: "spectral_tilt", SAME: "spectral_tilt"}
       for m in ("spectral tilt", "tilt", "high-frequency energy", "spectral balance")},
}

GENERIC = re.compile(r"\b(usually|typically|tends? to|often|would|could|may|might|generally|in general|"
                     r"associated with|is common|are common|commonly|expected|likely|characteristic of)\b")
NEGATION = {"not", "no", "never", "n't", "hardly", "without", "nor", "neither"}
_SENTENCES = re.compile(r"(?<!\d)[.!?](?!\d)|\n+")
_CHUNKS = re.compile(r"[,;:]|\b(?:but|while|whereas|although|though|yet)\b")
_FIXED = [
    (re.compile(r"neither rises nor falls|stays level|does not (?:rise|fall) or (?:rise|fall)"), "level"),
    (re.compile(r"rises?,? (?:and )?then falls?|rise-fall|rising then falling|rises and falls"), "rise-fall"),
    (re.compile(r"falls?,? (?:and )?then rises?|fall-rise|falling then rising"), "fall-rise"),
]
_NO_PAUSE = re.compile(r"\b(?:no|without(?: any)?) pauses?\b")
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|n't")


@dataclass(frozen=True)
class Claim:
    """One statement about a cue of this recording.

    ``kind``: ``direction`` (sign +1/-1), ``same`` (sign 0), ``shape`` (contour shape in
    ``shape``) or ``zero`` (none at all: "no pauses"). ``cue`` is a catalogue cue, ``contour`` or
    ``loudness_contour``.
    """

    cue: str
    kind: str
    sign: int
    text: str
    negated: bool = False
    shape: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _phrases(table: dict[str, Any]) -> list[tuple[list[str], str]]:
    out = [(k.split(), k) for k in table]
    return sorted(out, key=lambda t: -len(t[0]))


_MENTION_PHRASES = _phrases(MENTIONS)
_DIRECTION_PHRASES = _phrases(DIRECTIONS)


def _find(tokens: list[str], phrases: list[tuple[list[str], str]]) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, phrase)`` matches, longest phrase first."""
    taken = [False] * len(tokens)
    found = []
    for words, key in phrases:
        n = len(words)
        for i in range(len(tokens) - n + 1):
            if tokens[i:i + n] == words and not any(taken[i:i + n]):
                found.append((i, i + n, key))
                taken[i:i + n] = [True] * n
    return sorted(found)


def _chunks(text: str) -> list[str]:
    out: list[str] = []
    for sentence in _SENTENCES.split(text.lower()):
        pending = ""
        for part in _CHUNKS.split(sentence):
            part = (pending + " and " + part) if pending else part
            tokens = _TOKEN.findall(part)
            has_mention, has_dir = bool(_find(tokens, _MENTION_PHRASES)), bool(_find(tokens, _DIRECTION_PHRASES))
            pending = part if has_mention and not has_dir else ""
            if not pending and part.strip():
                out.append(part.strip())
        if pending.strip():
            out.append(pending.strip())
    return out


def _negated(tokens: list[str], start: int) -> bool:
    return any(t in NEGATION or t.endswith("n't") for t in tokens[max(0, start - 3):start])


def _chunk_claims(chunk: str) -> list[Claim]:
    claims: list[Claim] = []
    for pattern, shape in _FIXED:
        if pattern.search(chunk):
            claims.append(Claim("contour", "shape", 0, chunk, shape=shape))
            chunk = pattern.sub(" ", chunk)
    if _NO_PAUSE.search(chunk):
        claims.append(Claim("pause_count", "zero", 0, chunk))
        chunk = _NO_PAUSE.sub(" ", chunk)
    tokens = _TOKEN.findall(chunk)
    mentions = _find(tokens, _MENTION_PHRASES)
    directions = _find(tokens, _DIRECTION_PHRASES)
    used: set[int] = set()
    for m0, m1, mention in mentions:
        accepts = MENTIONS[mention]
        best = None
        for j, (d0, d1, word) in enumerate(directions):
            for family, sign in DIRECTIONS[word]:
                if family in accepts:
                    dist = d0 - m1 if d0 >= m1 else m0 - d1
                    if best is None or dist < best[0]:
                        best = (dist, j, family, sign)
        if best is not None:
            _, j, family, sign = best
            used.add(j)
            d0 = directions[j][0]
            claims.append(Claim(accepts[family], SAME if family == SAME else "direction", sign, chunk,
                                negated=_negated(tokens, d0)))
    for j, (d0, _d1, word) in enumerate(directions):
        if j in used or word not in IMPLIED:
            continue
        cue, family = IMPLIED[word]
        sign = _IMPLIED_SIGN[word] if word in _IMPLIED_SIGN else next(s for f, s in DIRECTIONS[word] if f == family)
        claims.append(Claim(cue, "direction", sign, chunk, negated=_negated(tokens, d0)))
    return claims


def parse_claims(text: str) -> list[Claim]:
    """Every cue claim in ``text`` (general or hedged statements are skipped); duplicates removed."""
    out: list[Claim] = []
    seen: set[tuple[str, str, int, bool, str | None]] = set()
    for chunk in _chunks(text or ""):
        if GENERIC.search(chunk):
            continue
        for claim in _chunk_claims(chunk):
            key = (claim.cue, claim.kind, claim.sign, claim.negated, claim.shape)
            if key not in seen:
                seen.add(key)
                out.append(claim)
    return out
