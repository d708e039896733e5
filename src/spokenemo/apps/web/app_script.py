"""The script of the page at ``/`` (:mod:`spokenemo.apps.web.app_page`): upload, record, draw the answer.

Plain JavaScript, no library. Server text goes into the page with ``textContent`` only.
"""

from __future__ import annotations

__all__ = ["SCRIPT"]

SCRIPT = r"""
'use strict';
const $ = id => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = {angry:'#d1495b', happy:'#edae49', neutral:'#8d99ae', sad:'#3d5a80', calm:'#66a182',
  fearful:'#7b2cbf', fear:'#7b2cbf', disgust:'#6a994e', surprised:'#00a6a6', surprise:'#00a6a6'};
let limits = null, recorder = null;

function colour(label) {
  if (COLOURS[label]) return COLOURS[label];
  let h = 0; for (const c of String(label)) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h},55%,50%)`;
}
function el(tag, attrs = {}, text = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}
function clock(s) { const m = Math.floor(s / 60); return `${m}:${(s - 60 * m).toFixed(1).padStart(4, '0')}`; }
function status(text, state) { $('status').textContent = text; $('status').dataset.state = state; }
function showError(err) {
  $('error').style.display = 'block';
  $('error-message').textContent = (err && err.message) || 'the request failed';
  $('error-hint').textContent = (err && err.hint) ? 'What to do: ' + err.hint : '';
  status('refused' + (err && err.code ? ` (${err.code})` : ''), 'error');
}
function reset() {
  $('error').style.display = 'none'; $('result').hidden = true; $('timeline').hidden = true;
}

fetch('/api/health').then(r => r.json()).then(h => {
  limits = h.limits;
  $('limits').textContent = `up to ${limits.max_upload_mb} MB; clips up to ${limits.max_seconds} s, ` +
    `recordings up to ${limits.max_timeline_seconds} s`;
  if (!h.engine.timeline) $('mode').querySelector('[value=timeline]').disabled = true;
}).catch(() => {});

function durationOf(blob) {
  return new Promise(resolve => {
    const a = new Audio(); const url = URL.createObjectURL(blob);
    const done = d => { URL.revokeObjectURL(url); resolve(d); };
    a.onloadedmetadata = () => done(a.duration); a.onerror = () => done(NaN);
    setTimeout(() => done(NaN), 3000); a.src = url;
  });
}

async function send(blob, name) {
  reset();
  if (!blob || blob.size === 0) { showError({message: `${name}: the file is empty`, code: 'empty_upload'}); return; }
  if (limits && blob.size > limits.max_upload_mb * 1e6) {
    showError({message: `${name} is ${(blob.size / 1e6).toFixed(1)} MB, over the ${limits.max_upload_mb} MB limit`,
               code: 'too_large', hint: 'send a shorter or compressed recording'}); return;
  }
  let mode = $('mode').value;
  if (mode === 'auto') {
    const d = await durationOf(blob);
    const long = isFinite(d) && limits && d > limits.max_seconds && !$('mode').querySelector('[value=timeline]').disabled;
    mode = long ? 'timeline' : 'clip';
  }
  const form = new FormData(); form.append('file', blob, name);
  status(`analysing ${name}...`, 'busy'); $('send').disabled = true;
  const t0 = performance.now();
  try {
    const speakers = $('speakers').value ? '?speakers=' + encodeURIComponent($('speakers').value) : '';
    const target = mode === 'timeline' ? '/api/timeline' + speakers :
      '/api/explain' + ($('transcribe').checked ? '' : '?asr=none');
    const r = await fetch(target, {method: 'POST', body: form});
    const body = await r.json().catch(() => ({error: {message: `HTTP ${r.status}`}}));
    if (!r.ok) { showError(body.error); return; }
    const url = URL.createObjectURL(blob);
    if (body.kind === 'timeline') showTimeline(body, url); else showClip(body, url);
    status(`${name}: answered in ${((performance.now() - t0) / 1000).toFixed(2)} s`, 'done');
  } catch (e) {
    showError({message: 'the server could not be reached: ' + e, hint: 'is spokenemo serve still running?'});
  } finally { $('send').disabled = false; }
}

function probBars(box, probs) {
  box.replaceChildren();
  for (const [label, p] of Object.entries(probs).sort((a, b) => b[1] - a[1])) {
    const row = el('div', {class: 'prob', 'data-label': label});
    row.append(el('span', {class: 'pl'}, label));
    const track = el('span', {class: 'track'});
    track.append(el('span', {class: 'fill', style: `width:${(100 * p).toFixed(1)}%;background:${colour(label)}`}));
    row.append(track, el('span', {class: 'pv'}, p.toFixed(2)));
    box.append(row);
  }
}

function cuePanel(svg, raw, top, height, name, unit, duration) {
  const values = raw.map(v => (v === null || v === undefined) ? NaN : Number(v));  // null: not measured
  const good = values.filter(v => isFinite(v));
  svg.append(el('text', {x: 4, y: top + 11}, `${name} (${unit})`, SVG));
  if (!good.length) { svg.append(el('text', {x: 60, y: top + height / 2}, 'not measured', SVG)); return; }
  const lo = Math.min(...good), hi = Math.max(...good), span = (hi - lo) || 1;
  const x0 = 50, w = 380, n = values.length;
  const pts = values.map((v, i) => isFinite(v) ?
    [x0 + w * (i + 0.5) / n, top + 16 + (height - 24) * (1 - (v - lo) / span)] : null);
  const line = pts.filter(Boolean).map(p => p.map(q => q.toFixed(1)).join(',')).join(' ');
  svg.append(el('polyline', {points: line, fill: 'none', stroke: name === 'pitch' ? '#0b5cad' : '#bc4c00',
    'stroke-width': 2}, null, SVG));
  for (const p of pts.filter(Boolean)) svg.append(el('circle', {cx: p[0], cy: p[1], r: 3,
    fill: name === 'pitch' ? '#0b5cad' : '#bc4c00'}, null, SVG));
  const digits = Math.abs(hi) < 10 && Math.abs(lo) < 10 ? 2 : 0;
  svg.append(el('text', {x: 4, y: top + 26}, hi.toFixed(digits), SVG));
  svg.append(el('text', {x: 4, y: top + height - 4}, lo.toFixed(digits), SVG));
  if (duration) svg.append(el('text', {x: x0 + w - 30, y: top + height + 8}, `${duration.toFixed(1)} s`, SVG));
}

function comparisonPanel(svg, rows, top) {
  // each measured cue against its baseline: a bar from the baseline (centre) to the value, in % of the baseline
  const shown = rows.filter(c => c.value !== null && c.baseline).slice(0, 6);
  svg.append(el('text', {x: 4, y: top + 11}, 'cues against the baseline', SVG));
  svg.append(el('line', {x1: 240, x2: 240, y1: top + 16, y2: top + 100, stroke: '#999'}, null, SVG));
  shown.forEach((c, i) => {
    const rel = Math.max(-1, Math.min(1, (c.value - c.baseline) / Math.abs(c.baseline)));
    const y = top + 18 + 14 * i;
    svg.append(el('text', {x: 4, y: y + 9}, c.cue, SVG));
    svg.append(el('rect', {class: 'cmp', x: rel < 0 ? 240 + 180 * rel : 240, y: y, height: 10,
      width: Math.max(1, 180 * Math.abs(rel)), fill: rel < 0 ? '#0b5cad' : '#bc4c00'}, null, SVG));
  });
}

function showClip(body, url) {
  $('result').hidden = false;
  $('emotion').textContent = body.emotion; $('emotion').style.color = colour(body.emotion);
  $('verdict').textContent = body.verdict === body.emotion ? `${body.duration.toFixed(1)} s of audio` : body.verdict;
  $('player').src = url;
  probBars($('probs'), body.probabilities || {});
  const svg = $('cueplot'); svg.replaceChildren();
  const cp = body.cue_plot || {};
  cuePanel(svg, cp.pitch || [], 0, 95, 'pitch', cp.pitch_unit || 'Hz', null);
  if (cp.intensity) cuePanel(svg, cp.intensity, 105, 95, 'intensity', cp.intensity_unit || 'dBFS', body.duration);
  else comparisonPanel(svg, body.comparisons || [], 105);
  $('explanation').textContent = body.explanation_text || '(no explanation)';
  $('transcript').textContent = body.transcript_text || '(none)';
  $('cuetext').textContent = body.cue_text ||
    (body.comparisons || []).map(c => `${c.cue}: ${c.value === null ? c.reason : c.value.toFixed(2) + ' ' +
      (c.unit || '') + ' (baseline ' + (c.baseline === null ? '-' : c.baseline.toFixed(2)) + ')'}`).join('\n');
}

function showTimeline(body, url) {
  const box = $('timeline'); box.hidden = false;
  const segs = body.segments, total = body.duration || Math.max(...segs.map(s => s.end));
  const speakers = [...new Set(segs.map(s => s.speaker || 'speech'))];
  const svg = $('tl-svg'), W = 860, X0 = 70, rowH = 28;
  svg.setAttribute('height', 30 + rowH * speakers.length); svg.replaceChildren();
  const rows = $('tl-rows'); rows.replaceChildren();
  const share = {};
  segs.forEach((s, i) => {
    const y = 6 + rowH * speakers.indexOf(s.speaker || 'speech');
    const p = (s.probabilities || {})[s.emotion];
    const r = el('rect', {class: 'seg', 'data-i': i, x: X0 + W * s.start / total, y: y,
      width: Math.max(1, W * (s.end - s.start) / total), height: rowH - 6, fill: colour(s.emotion)}, null, SVG);
    r.append(el('title', {}, `${clock(s.start)}-${clock(s.end)} ${s.speaker || ''} ${s.emotion}`, SVG));
    r.onclick = () => { $('tl-player').currentTime = s.start; };
    svg.append(r);
    share[s.emotion] = (share[s.emotion] || 0) + (s.end - s.start);
    const tr = el('tr', {'data-i': i});
    for (const v of [clock(s.start), clock(s.end), s.speaker || '', s.emotion || '', p ? p.toFixed(2) : '',
                     s.explanation || '']) tr.append(el('td', {}, v));
    tr.onclick = () => { $('tl-player').currentTime = s.start; $('tl-player').play(); };
    rows.append(tr);
  });
  speakers.forEach((sp, k) => svg.append(el('text', {x: 2, y: 24 + rowH * k}, sp, SVG)));
  const axisY = 14 + rowH * speakers.length;
  for (let t = 0; t <= total; t += Math.max(1, Math.ceil(total / 8))) {
    svg.append(el('text', {x: X0 + W * t / total - 8, y: axisY + 10}, clock(t), SVG));
  }
  const cursor = el('line', {id: 'tl-cursor', x1: X0, x2: X0, y1: 0, y2: axisY, stroke: '#111',
    'stroke-width': 2}, null, SVG);
  svg.append(cursor);
  svg.onclick = e => {
    if (e.target.tagName === 'rect') return;
    const box = svg.getBoundingClientRect(), x = (e.clientX - box.left) * 940 / box.width;
    $('tl-player').currentTime = Math.min(total, Math.max(0, (x - X0) / W * total));
  };
  const legend = $('tl-legend'); legend.replaceChildren();
  for (const [label, secs] of Object.entries(share).sort((a, b) => b[1] - a[1])) {
    const item = el('span'); item.append(el('span', {class: 'sw', style: `background:${colour(label)}`}),
      document.createTextNode(`${label} ${(100 * secs / total).toFixed(0)} % of the time`));
    legend.append(item);
  }
  $('tl-summary').textContent = `${segs.length} segments, ${speakers.length} speaker(s), ${clock(total)}`;
  const player = $('tl-player'); player.src = url;
  const follow = () => {
    const t = player.currentTime, x = X0 + W * Math.min(t, total) / total;
    cursor.setAttribute('x1', x); cursor.setAttribute('x2', x); cursor.dataset.t = t.toFixed(2);
    const i = segs.findIndex(s => s.start <= t && t < s.end);
    svg.querySelectorAll('rect.now').forEach(r => r.classList.remove('now'));
    rows.querySelectorAll('tr.now').forEach(r => r.classList.remove('now'));
    if (i >= 0) {
      svg.querySelector(`rect[data-i="${i}"]`).classList.add('now');
      rows.querySelector(`tr[data-i="${i}"]`).classList.add('now');
      const s = segs[i];
      $('tl-now').replaceChildren(el('b', {}, `${clock(t)}  ${s.speaker || ''} ${s.emotion}`),
        document.createTextNode(s.explanation ? ` - ${s.explanation}` : ''));
    } else { $('tl-now').textContent = `${clock(t)}  (no speech)`; }
    if (!player.paused) requestAnimationFrame(follow);
  };
  player.ontimeupdate = follow; player.onplay = () => requestAnimationFrame(follow); player.onseeked = follow;
}

$('send').onclick = () => {
  const f = $('file').files[0];
  if (!f) { showError({message: 'choose a file first', code: 'no_file'}); return; }
  send(f, f.name);
};

$('record').onclick = async () => {
  if (recorder && recorder.state === 'recording') { recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError({message: 'this browser cannot record here', hint: 'microphones need https or localhost'}); return;
  }
  let stream;
  try { stream = await navigator.mediaDevices.getUserMedia({audio: true}); }
  catch (e) { showError({message: 'no microphone: ' + e.message, hint: 'allow the microphone for this page'}); return; }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = e => { if (e.data.size) chunks.push(e.data); };
  recorder.onstop = () => {
    stream.getTracks().forEach(t => t.stop());
    const type = recorder.mimeType || 'audio/webm';
    const ext = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
    $('record').textContent = 'Record';
    send(new Blob(chunks, {type: type}), `recording.${ext}`);
  };
  recorder.start(250); $('record').textContent = 'Stop';
  reset(); status('recording... press Stop to analyse', 'recording');
};
"""
