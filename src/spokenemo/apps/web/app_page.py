"""The page ``spokenemo serve`` answers at ``/``: one HTML document, CSS and script inline, no CDN.

A person chooses a file (or records from the microphone with MediaRecorder) and sees the
emotion, the probabilities as bars, the cue plot (pitch and intensity over the clip's
segments), the cue text and the explanation; a long recording gets the timeline instead:
segments coloured by emotion per speaker, with an audio player whose cursor runs along it.
Everything the server sent is put into the page as text (``textContent``), never as HTML.
The script is in :mod:`spokenemo.apps.web.app_script`.
"""

from __future__ import annotations

from spokenemo.apps.web.app_script import SCRIPT

__all__ = ["PAGE"]

_CSS = """
:root{--ink:#1f2328;--mute:#656d76;--line:#d0d7de}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1000px;
  color:var(--ink);padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0} .sub,.mute{color:var(--mute)} .sub{margin-top:0}
.box{border:1px solid var(--line);border-radius:10px;padding:1rem 1.2rem;margin:1rem 0}
.row{display:flex;gap:.8rem;align-items:center;flex-wrap:wrap}
button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;
  cursor:pointer} button.alt{background:#fff;color:#1f6feb} button:disabled{opacity:.5;cursor:default}
#status{min-height:1.3rem} #error{display:none;border-color:#cf222e;background:#fff5f5}
#error b{color:#cf222e} .hint{color:var(--mute)}
#emotion{font-size:2rem;font-weight:700;text-transform:capitalize} #verdict{color:var(--mute)}
.prob{display:grid;grid-template-columns:7rem 1fr 3.5rem;gap:.6rem;align-items:center;margin:.25rem 0}
.track{background:#eef1f4;border-radius:4px;height:1.05rem;overflow:hidden}
.fill{display:block;height:100%;border-radius:4px} .pv{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.2rem} @media(max-width:760px){.cols{grid-template-columns:1fr}}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.6rem;border-radius:6px;font-size:.85rem;margin:.3rem 0}
svg text{font-size:11px;fill:#57606a} audio{width:100%;margin:.5rem 0}
#tl-svg rect.seg{cursor:pointer;stroke:#fff;stroke-width:1} #tl-svg rect.now{stroke:#111;stroke-width:2}
#tl-now{min-height:1.3rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{padding:.2rem .5rem;border-bottom:1px solid #eee;text-align:left} tr.now{background:#fff8c5}
tbody tr{cursor:pointer} .legend span{display:inline-block;margin-right:.9rem}
.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.25rem;vertical-align:-1px}
"""

_BODY = """
<h1>spokenemo: which emotion, and why</h1>
<p class="sub">Upload a recording or record your voice. Short clips get one answer with its reasons;
long recordings get the emotion over time. <a href="/docs">API</a> &middot; <span id="limits"></span></p>
<div class="box">
  <div class="row">
    <input type="file" id="file" accept="audio/*,video/*">
    <label>analyse as <select id="mode"><option value="auto">auto</option>
      <option value="clip">one clip</option><option value="timeline">timeline</option></select></label>
    <label>speakers <input type="number" id="speakers" min="1" max="10" placeholder="auto"
      style="width:4rem"></label>
    <label title="the transcript takes most of the time"><input type="checkbox" id="transcribe"> transcript
      (slower)</label>
    <button id="send">Analyse</button>
    <button id="record" class="alt">Record</button>
  </div>
  <p id="status" class="mute" data-state="idle"></p>
</div>
<div id="error" class="box" role="alert"><b>Error:</b> <span id="error-message"></span>
  <div class="hint" id="error-hint"></div></div>
<div id="result" class="box" hidden>
  <div class="row" style="justify-content:space-between"><span id="emotion"></span><span id="verdict"></span></div>
  <audio id="player" controls></audio>
  <div class="cols">
    <div><h3>Probabilities</h3><div id="probs"></div></div>
    <div><h3>Cues</h3><svg id="cueplot" width="440" height="210" viewBox="0 0 440 210"
      role="img" aria-label="cue plot"></svg></div>
  </div>
  <h3>Why</h3><p id="explanation"></p>
  <p class="mute">Transcript: <span id="transcript"></span></p>
  <details><summary>Cues the model read</summary><pre id="cuetext"></pre></details>
</div>
<div id="timeline" class="box" hidden>
  <h3>Emotion over time <span class="mute" id="tl-summary"></span></h3>
  <audio id="tl-player" controls></audio>
  <svg id="tl-svg" width="940" height="120" viewBox="0 0 940 120" role="img" aria-label="timeline"></svg>
  <div class="legend" id="tl-legend"></div>
  <p id="tl-now"></p>
  <table><thead><tr><th>start</th><th>end</th><th>speaker</th><th>emotion</th><th>p</th><th>why</th></tr>
  </thead><tbody id="tl-rows"></tbody></table>
</div>
"""

PAGE = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>spokenemo</title><style>{_CSS}</style></head><body>{_BODY}"
        f"<script>{SCRIPT}</script></body></html>\n")
