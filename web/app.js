// brickcast dashboard: plain JavaScript over the daemon's REST API and its live event stream
// (GET /api/v1/events). Pages by URL hash: #/ (site overview), #/equipment/<id>, #/alerts,
// #/models. No framework, no build step, nothing fetched from elsewhere.
'use strict';

const state = {
  token: localStorage.getItem('brickcast.token') || '',
  lastEventId: '',
  equipment: [],     // GET /api/v1/equipment
  refreshTimer: null,
  pointsShown: new Set(),  // points charted on the current page (forecast events refresh them)
};

// ---- API -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method || 'GET',
    headers,
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    const message = body && body.error ? body.error.message : res.status + ' ' + res.statusText;
    if (res.status === 401 || res.status === 403) showTokenForm(message);
    throw new ApiError(res.status, message);
  }
  return body;
}

const enc = encodeURIComponent;

// ---- small DOM helpers -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function localName(iri) {
  if (!iri) return '';
  const i = Math.max(iri.lastIndexOf('#'), iri.lastIndexOf('/'), iri.lastIndexOf(':'));
  return i >= 0 ? iri.slice(i + 1) : iri;
}

function fmtTime(iso) {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

function fmtNum(v, digits = 2) {
  return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '—';
}

function toast(text) {
  const box = document.getElementById('toasts');
  const t = el('button', { type: 'button', class: 'toast', title: 'dismiss', onclick: () => t.remove() }, text);
  box.append(t);
  setTimeout(() => t.remove(), 6000);
  while (box.children.length > 4) box.firstChild.remove();
}

function setMain(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function errorBox(e) {
  return el('p', { class: 'error', role: 'alert' }, 'Could not load: ' + e.message);
}

const SEVERITY_RANK = { pending: 1, no_data: 2, firing: 3 };

function badge(stateName, extra) {
  return el('span', { class: 'badge ' + (stateName || 'ok') }, extra || (stateName || 'ok').replace('_', ' '));
}

// ---- token -----------------------------------------------------------------------------------

function showTokenForm(why) {
  const form = document.getElementById('token-form');
  form.hidden = false;
  document.getElementById('token-why').textContent = why || '';
  document.getElementById('token-input').focus();
}

function setupToken() {
  document.getElementById('token-button').addEventListener('click', () => {
    const form = document.getElementById('token-form');
    if (form.hidden) showTokenForm(state.token ? 'A token is in use.' : 'No token in use.');
    else form.hidden = true;
  });
  document.getElementById('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = document.getElementById('token-input').value.trim();
    localStorage.setItem('brickcast.token', state.token);
    document.getElementById('token-input').value = '';
    document.getElementById('token-form').hidden = true;
    connectEvents(true);
    route();
  });
  document.getElementById('token-clear').addEventListener('click', () => {
    state.token = '';
    localStorage.removeItem('brickcast.token');
    document.getElementById('token-form').hidden = true;
    connectEvents(true);
    route();
  });
}

// ---- live events (server-sent events read with fetch, so the token goes in a header) -----------

let eventAbort = null;
let eventBackoff = 1000;

function setLive(on, text) {
  const live = document.getElementById('live');
  live.textContent = text;
  live.classList.toggle('off', !on);
}

async function connectEvents(restart) {
  if (restart && eventAbort) eventAbort.abort();
  const abort = new AbortController();
  eventAbort = abort;
  try {
    const headers = { Accept: 'text/event-stream' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
    const res = await fetch('/api/v1/events', { headers, signal: abort.signal });
    if (!res.ok || !res.body) throw new Error('events: ' + res.status);
    setLive(true, 'live');
    eventBackoff = 1000;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        handleFrame(frame);
      }
    }
    throw new Error('stream ended');
  } catch (e) {
    if (abort.signal.aborted) return;
    setLive(false, 'offline — retrying');
    setTimeout(() => { if (eventAbort === abort) connectEvents(false); }, eventBackoff);
    eventBackoff = Math.min(eventBackoff * 2, 30000);
  }
}

function handleFrame(frame) {
  let type = 'message', data = '', id = null;
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue;  // heartbeat or comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data += value;
    else if (field === 'id') id = value;
  }
  if (id !== null) state.lastEventId = id;
  if (!data) return;
  let payload = null;
  try { payload = JSON.parse(data); } catch (e) { return; }
  if (type === 'alert') {
    toast(`${payload.to.replace('_', ' ').toUpperCase()}: ${payload.summary || payload.rule} (${localName(payload.equipment)})`);
    scheduleRefresh(300);
  } else if (type === 'forecast') {
    if (state.pointsShown.has(payload.point)) scheduleRefresh(2000);
  } else if (type === 'reset') {
    scheduleRefresh(0);
  }
}

// Several events in a burst cause one redraw. Not while someone types in a form (an ack comment
// must not vanish under their fingers); expanded alerts stay expanded.
function scheduleRefresh(delay) {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    const focused = document.activeElement;
    const typing = focused && focused.matches('input, textarea, select') && focused.closest('main form');
    if (typing && focused.value) { scheduleRefresh(3000); return; }
    const open = new Set([...document.querySelectorAll('details[open][data-alert]')].map((d) => d.dataset.alert));
    route(true).then(() => {
      for (const d of document.querySelectorAll('details[data-alert]')) if (open.has(d.dataset.alert)) d.open = true;
    });
  }, delay);
}

// ---- pages -----------------------------------------------------------------------------------

function worstState(alerts) {
  const worst = new Map();  // equipment -> state
  for (const a of alerts) {
    const rank = SEVERITY_RANK[a.state] || 0;
    if (!rank) continue;
    const before = worst.get(a.equipment);
    if (!before || SEVERITY_RANK[before] < rank) worst.set(a.equipment, a.state);
  }
  return worst;
}

async function pageOverview() {
  const [eq, alerts, fc] = await Promise.all([
    api('/api/v1/equipment'),
    api('/api/v1/alerts?limit=1000'),
    api('/api/v1/forecast').catch(() => null),
  ]);
  state.equipment = eq.equipment;
  const byId = new Map(eq.equipment.map((e) => [e.id, e]));
  const own = worstState(alerts.alerts);
  // A unit shows the worst state of itself and its parts.
  const rolled = new Map();
  const rollUp = (id, seen = new Set()) => {
    if (rolled.has(id)) return rolled.get(id);
    if (seen.has(id)) return null;
    seen.add(id);
    let worst = own.get(id) || null;
    for (const p of (byId.get(id) || { parts: [] }).parts) {
      const s = rollUp(p, seen);
      if (s && (!worst || SEVERITY_RANK[s] > SEVERITY_RANK[worst])) worst = s;
    }
    rolled.set(id, worst);
    return worst;
  };
  const node = (e, depth) => {
    const s = rollUp(e.id);
    const kids = depth < 6 ? e.parts.map((p) => byId.get(p)).filter(Boolean) : [];
    return el('li', {},
      el('span', { class: 'node' },
        el('a', { href: '#/equipment/' + enc(e.id) }, e.label || localName(e.id)),
        el('span', { class: 'muted' }, e.class.replace(/_/g, ' ')),
        e.points ? el('span', { class: 'muted' }, `${e.points} point${e.points === 1 ? '' : 's'}`) : null,
        badge(s)),
      kids.length ? el('ul', {}, kids.map((k) => node(k, depth + 1))) : null);
  };
  const roots = eq.equipment.filter((e) => !e.part_of.length);
  const active = alerts.alerts.filter((a) => SEVERITY_RANK[a.state]);
  const count = (st) => active.filter((a) => a.state === st).length;
  const acc = fc && fc.accuracy ? fc.accuracy : null;
  setMain(
    el('h1', {}, 'Site overview'),
    el('section', { class: 'cards', 'aria-label': 'Summary' },
      el('div', { class: 'card' }, el('div', { class: 'big' }, String(count('firing'))), 'firing alerts'),
      el('div', { class: 'card' }, el('div', { class: 'big' }, String(count('pending'))), 'pending alerts'),
      el('div', { class: 'card' }, el('div', { class: 'big' }, String(count('no_data'))), 'without data'),
      el('div', { class: 'card' }, el('div', { class: 'big' }, String(eq.count)), 'equipment'),
      acc ? el('div', { class: 'card' },
        el('div', { class: 'big' }, fmtNum(acc.mae, 3)),
        `forecast MAE (persistence ${fmtNum(acc.persistence_mae, 3)})`) : null),
    el('h2', {}, 'Equipment'),
    roots.length ? el('ul', { class: 'tree' }, roots.map((r) => node(r, 0)))
      : el('p', { class: 'muted' }, 'No equipment in the Brick model yet.'),
    active.length ? el('h2', {}, 'Active alerts') : null,
    active.length ? alertList(active.slice(0, 20)) : null);
}

function descendants(id, byId) {
  const out = [id];
  for (let i = 0; i < out.length && out.length < 200; ++i) {
    const e = byId.get(out[i]);
    if (e) for (const p of e.parts) if (!out.includes(p)) out.push(p);
  }
  return out;
}

async function pageEquipment(id) {
  const eq = state.equipment.length ? { equipment: state.equipment } : await api('/api/v1/equipment');
  state.equipment = eq.equipment;
  const byId = new Map(eq.equipment.map((e) => [e.id, e]));
  const e = byId.get(id);
  if (!e) {
    setMain(el('h1', {}, localName(id)), el('p', { class: 'error' }, 'No such equipment in the Brick model.'));
    return;
  }
  const ids = descendants(id, byId);
  const [pointLists, alerts, rules] = await Promise.all([
    Promise.all(ids.map((i) => api('/api/v1/points?equipment=' + enc(i) + '&limit=1000'))),
    api('/api/v1/alerts?state=all&limit=1000'),
    api('/api/v1/rules').catch(() => ({ rules: [] })),
  ]);
  // The constant limits of the threshold rules that read each point here.
  const ruleLimits = new Map();
  for (const r of rules.rules) {
    if (!r.limit) continue;
    for (const b of r.bindings || []) {
      const point = b.points[r.limit.input];
      if (!point || !ids.includes(b.equipment)) continue;
      if (!ruleLimits.has(point)) ruleLimits.set(point, []);
      ruleLimits.get(point).push({ v: r.limit.value, name: `${r.id} (${r.limit.direction})` });
    }
  }
  const points = [...new Map(pointLists.flatMap((p) => p.points).map((p) => [p.id, p])).values()];
  const mine = alerts.alerts.filter((a) => ids.includes(a.equipment));
  state.pointsShown = new Set(points.map((p) => p.id));
  const charts = el('section', { class: 'charts', 'aria-label': 'Points' });
  setMain(
    el('p', {}, el('a', { href: '#/' }, '← Overview'),
      e.part_of.length ? [' · part of ', el('a', { href: '#/equipment/' + enc(e.part_of[0]) }, localName(e.part_of[0]))] : null),
    el('h1', {}, (e.label || localName(e.id)) + ' ', el('span', { class: 'muted' }, e.class.replace(/_/g, ' '))),
    e.parts.length ? el('p', {}, 'Parts: ', e.parts.map((p, i) => [i ? ', ' : '', el('a', { href: '#/equipment/' + enc(p) }, localName(p))])) : null,
    el('h2', {}, 'Alerts'),
    mine.filter((a) => a.state !== 'inactive').length ? alertList(mine.filter((a) => a.state !== 'inactive'))
      : el('p', { class: 'muted' }, 'No alerts.'),
    el('h2', {}, `Points (${points.length})`),
    charts);
  for (const p of points) {
    const box = el('figure', { class: 'chart' }, el('h3', {}, p.label || p.short_name || localName(p.id)),
      el('p', { class: 'muted' }, 'loading…'));
    charts.append(box);
    loadChart(p, box, mine, ruleLimits.get(p.id) || []).catch((err) => box.replaceChildren(el('h3', {}, localName(p.id)), errorBox(err)));
  }
}

async function loadChart(p, box, alerts, ruleLimits) {
  const [series, forecast] = await Promise.all([
    api('/api/v1/points/' + enc(p.id) + '/series?steps=144'),
    api('/api/v1/points/' + enc(p.id) + '/forecast').catch(() => null),
  ]);
  const limits = ruleLimits.slice();
  const markers = [];
  for (const a of alerts) {
    if (!a.points.includes(p.id)) continue;
    if (a.starts_at || a.pending_since) markers.push({ t: Date.parse(a.starts_at || a.pending_since), a });
    const ev = a.evidence;
    if (ev && ev.thresholds && ev.values && SEVERITY_RANK[a.state]) {
      const reads = ev.values.find((v) => v.point === p.id);
      for (const th of ev.thresholds) {
        if (reads && th.unit === reads.unit && typeof th.value === 'number' && !limits.some((l) => Math.abs(l.v - th.value) < 1e-9))
          limits.push({ v: th.value, name: th.name });
      }
    }
  }
  const unit = p.si_unit && p.si_unit !== '1' ? p.si_unit : (p.si_unit === '1' ? 'fraction' : '');
  const name = p.short_name || localName(p.id);
  box.replaceChildren(
    el('h3', {}, (p.label || name) + ' ', el('span', { class: 'muted' }, (p.label ? name + ' · ' : '') + p.class.replace(/_/g, ' '))),
    chartSvg(series, forecast && forecast.status === 'ok' ? forecast : null, limits, markers, unit),
    el('figcaption', { class: 'legend' },
      el('span', {}, el('span', { class: 'sw measured' }), 'measured'),
      forecast && forecast.status === 'ok' ? el('span', { title: forecast.served_reason || '' }, el('span', { class: 'sw forecast' }),
        forecast.served && forecast.served !== 'model' ? `forecast (${forecast.served.replace('_', ' ')}: more accurate than the model here)` : 'forecast') : null,
      forecast && forecast.status === 'ok' ? el('span', {}, el('span', { class: 'sw band' }), 'interval') : null,
      limits.length ? el('span', {}, el('span', { class: 'sw limit' }), 'limits: ' + limits.map((l) => `${l.name} ${fmtNum(l.v, 2)}`).join(', ')) : null,
      el('span', {}, 'last ', fmtNum(p.last_value, 2), unit ? ' ' + unit : '', ' at ', fmtTime(p.last_time)),
      forecast && forecast.accuracy ? el('span', {}, `MAE ${fmtNum(forecast.accuracy.mae, 3)} vs persistence ${fmtNum(forecast.accuracy.persistence_mae, 3)}`) : null));
}

// A line chart of the measured steps, the forecast and its interval band, thresholds of active
// alerts and alert start markers. The y range follows the measured values (a very wide interval
// band is clipped rather than flattening the data).
function chartSvg(series, forecast, limits, markers, unit) {
  const W = 600, H = 220, L = 48, R = 8, T = 10, B = 26;
  const pts = [];
  series.times.forEach((t, i) => { if (series.observed[i] || series.filled[i]) pts.push([Date.parse(t), series.values[i]]); });
  const fc = forecast ? forecast.times.map((t, i) => [Date.parse(t), forecast.values[i], forecast.lower[i], forecast.upper[i]]) : [];
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `chart of ${series.point}` });
  if (!pts.length && !fc.length) {
    const t = svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#4a4a4a' });
    t.textContent = 'no data yet';
    root.append(t);
    return root;
  }
  const xs = pts.map((p) => p[0]).concat(fc.map((f) => f[0]));
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let ys = pts.map((p) => p[1]).concat(limits.map((l) => l.v));
  if (!ys.length) ys = fc.map((f) => f[1]);
  ys = ys.concat(fc.map((f) => f[1]).filter((v) => isFinite(v)));
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  const pad = Math.max((y1 - y0) * 0.15, Math.abs(y1) * 0.02, 0.05);
  y0 -= pad; y1 += pad;
  const X = (t) => L + (t - x0) / (x1 - x0) * (W - L - R);
  const Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const clipId = 'c' + Math.random().toString(36).slice(2);
  const defs = svg('defs');
  const clip = svg('clipPath', { id: clipId });
  clip.append(svg('rect', { x: L, y: T, width: W - L - R, height: H - T - B }));
  defs.append(clip);
  root.append(defs);
  // Axes and grid: four value ticks, start and end times.
  for (let i = 0; i <= 4; ++i) {
    const v = y0 + (y1 - y0) * i / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: '#e2e2e2' }));
    const label = svg('text', { x: L - 4, y: Y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#333' });
    label.textContent = fmtNum(v, Math.abs(y1 - y0) < 2 ? 2 : 1);
    root.append(label);
  }
  for (const [t, anchor] of [[x0, 'start'], [x1, 'end']]) {
    const label = svg('text', { x: X(t), y: H - 8, 'text-anchor': anchor, 'font-size': 11, fill: '#333' });
    label.textContent = new Date(t).toISOString().slice(5, 16).replace('T', ' ');
    root.append(label);
  }
  const g = svg('g', { 'clip-path': `url(#${clipId})` });
  root.append(g);
  if (fc.length) {
    const band = fc.filter((f) => isFinite(f[2]) && isFinite(f[3]));
    if (band.length) {
      const d = band.map((f, i) => `${i ? 'L' : 'M'}${X(f[0]).toFixed(1)},${Y(f[3]).toFixed(1)}`).join('') +
        band.slice().reverse().map((f) => `L${X(f[0]).toFixed(1)},${Y(f[2]).toFixed(1)}`).join('') + 'Z';
      g.append(svg('path', { d, fill: '#9cc3ef', 'fill-opacity': 0.55, stroke: 'none', class: 'band' }));
    }
    const d = fc.map((f, i) => `${i ? 'L' : 'M'}${X(f[0]).toFixed(1)},${Y(f[1]).toFixed(1)}`).join('');
    g.append(svg('path', { d, fill: 'none', stroke: '#0b4f9c', 'stroke-width': 2, 'stroke-dasharray': '5 3', class: 'forecast' }));
  }
  if (pts.length) {
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');
    g.append(svg('path', { d, fill: 'none', stroke: '#111', 'stroke-width': 1.8, class: 'measured' }));
  }
  for (const l of limits) {
    const line = svg('line', { x1: L, x2: W - R, y1: Y(l.v), y2: Y(l.v), stroke: '#b00020', 'stroke-width': 1.5, 'stroke-dasharray': '2 2', class: 'limit' });
    const title = svg('title');
    title.textContent = `${l.name}: ${fmtNum(l.v, 2)}`;
    line.append(title);
    g.append(line);
  }
  for (const m of markers) {
    if (m.t < x0 || m.t > x1) continue;
    const line = svg('line', { x1: X(m.t), x2: X(m.t), y1: T, y2: H - B, stroke: '#b00020', 'stroke-width': 1.5, class: 'marker' });
    const title = svg('title');
    title.textContent = `${m.a.rule}: ${m.a.summary}`;
    line.append(title);
    g.append(line);
  }
  if (unit) {
    const u = svg('text', { x: 4, y: T + 8, 'font-size': 11, fill: '#333' });
    u.textContent = unit;
    root.append(u);
  }
  return root;
}

function alertList(alerts) {
  return el('div', { class: 'alerts' }, alerts.map(alertItem));
}

function alertItem(a) {
  const ev = a.evidence || {};
  const when = a.state === 'firing' ? a.starts_at : a.pending_since;
  const rows = (ev.values || []).map((v) =>
    el('tr', {}, el('td', {}, v.name), el('td', {}, fmtNum(v.value, 3) + (v.unit ? ' ' + v.unit : '')), el('td', { class: 'muted' }, localName(v.point || ''))));
  const limits = (ev.thresholds || []).map((t) =>
    el('tr', {}, el('td', {}, t.name), el('td', {}, fmtNum(t.value, 3) + (t.unit ? ' ' + t.unit : '')), el('td', { class: 'muted' }, 'limit')));
  const active = SEVERITY_RANK[a.state];
  return el('details', { class: 'alert ' + a.state, 'data-alert': a.id },
    el('summary', {},
      badge(a.state),
      el('span', { class: 'badge ' + (a.severity === 'critical' ? 'firing' : a.severity === 'warning' ? 'pending' : 'resolved') }, a.severity),
      a.predicted ? badge('predicted', 'predicted') : null,
      el('strong', {}, a.summary || a.rule),
      el('span', { class: 'muted' }, `${localName(a.equipment)} · ${a.rule} · since ${fmtTime(when || a.last_evaluated)}`),
      a.ack ? el('span', { class: 'badge resolved' }, 'acked by ' + a.ack.by) : null,
      a.silenced_by && a.silenced_by.length ? el('span', { class: 'badge resolved' }, 'silenced') : null),
    el('div', { class: 'body' },
      ev.detail ? el('p', {}, ev.detail) : null,
      a.predicted ? el('p', {}, 'Expected crossing: ', el('strong', {}, fmtTime(a.crossing_time)),
        a.lead_time_seconds !== null && a.lead_time_seconds !== undefined ? ` · realised ${Math.round(a.lead_time_seconds / 60)} min after the warning` : '') : null,
      rows.length || limits.length ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'evidence'), el('th', {}, 'value'), el('th', {}, ''))), el('tbody', {}, rows, limits)) : null,
      a.action ? el('p', {}, el('strong', {}, 'Recommended action: '), a.action) : null,
      a.ack ? el('p', {}, `Acknowledged by ${a.ack.by} at ${fmtTime(a.ack.at)}${a.ack.comment ? ': ' + a.ack.comment : ''}`) : null,
      el('p', {}, el('a', { href: '#/equipment/' + enc(a.equipment) }, 'Open ' + localName(a.equipment))),
      active ? el('div', { class: 'actions' }, ackForm(a), silenceForm(a)) : null));
}

function ackForm(a) {
  const author = el('input', { name: 'author', required: true, placeholder: 'your name', 'aria-label': 'Acknowledged by', value: localStorage.getItem('brickcast.author') || '' });
  const comment = el('input', { name: 'comment', placeholder: 'comment', 'aria-label': 'Acknowledgement comment' });
  const msg = el('span', { role: 'status' });
  return el('form', {
    class: 'ack', onsubmit: async (ev) => {
      ev.preventDefault();
      localStorage.setItem('brickcast.author', author.value);
      try {
        await api('/api/v1/alerts/' + enc(a.id) + '/ack', { method: 'POST', body: { author: author.value, comment: comment.value } });
        msg.textContent = 'acknowledged';
        scheduleRefresh(200);
      } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
    },
  }, author, comment, el('button', { type: 'submit' }, 'Acknowledge'), msg);
}

function silenceForm(a) {
  const author = el('input', { name: 'author', required: true, placeholder: 'your name', 'aria-label': 'Silenced by', value: localStorage.getItem('brickcast.author') || '' });
  const comment = el('input', { name: 'comment', placeholder: 'why', 'aria-label': 'Silence comment' });
  const duration = el('select', { name: 'duration', 'aria-label': 'Silence for' },
    el('option', { value: '1h' }, '1 hour'), el('option', { value: '4h' }, '4 hours'),
    el('option', { value: '24h' }, '1 day'), el('option', { value: '168h' }, '1 week'));
  const msg = el('span', { role: 'status' });
  return el('form', {
    class: 'silence', onsubmit: async (ev) => {
      ev.preventDefault();
      localStorage.setItem('brickcast.author', author.value);
      try {
        await api('/api/v1/silences', {
          method: 'POST',
          body: { matchers: { rule: a.rule, equipment: a.equipment }, duration: duration.value, author: author.value, comment: comment.value },
        });
        msg.textContent = 'silenced';
        scheduleRefresh(200);
      } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
    },
  }, author, comment, duration, el('button', { type: 'submit', class: 'ghost' }, 'Silence rule here'), msg);
}

async function pageAlerts(params) {
  const stateSel = el('select', { name: 'state', 'aria-label': 'State' },
    ['', 'firing', 'pending', 'no_data', 'resolved', 'all'].map((s) =>
      el('option', { value: s, selected: (params.get('state') || '') === s }, s ? s.replace('_', ' ') : 'current')));
  const sevSel = el('select', { name: 'severity', 'aria-label': 'Severity' },
    ['', 'critical', 'warning', 'info'].map((s) => el('option', { value: s, selected: (params.get('severity') || '') === s }, s || 'any')));
  const equipment = el('input', { name: 'equipment', value: params.get('equipment') || '', placeholder: 'e.g. AHU', 'aria-label': 'Equipment' });
  const form = el('form', {
    class: 'filters', onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (stateSel.value) q.set('state', stateSel.value);
      if (sevSel.value) q.set('severity', sevSel.value);
      if (equipment.value.trim()) q.set('equipment', equipment.value.trim());
      location.hash = '#/alerts' + (q.toString() ? '?' + q : '');
    },
  }, el('label', {}, 'State', stateSel), el('label', {}, 'Severity', sevSel), el('label', {}, 'Equipment', equipment),
  el('button', { type: 'submit' }, 'Filter'));
  const q = new URLSearchParams(params);
  q.set('limit', '500');
  const list = await api('/api/v1/alerts?' + q);
  const shown = list.alerts.filter((a) => params.get('state') || a.state !== 'inactive');
  setMain(el('h1', {}, 'Alerts'), form,
    el('p', { class: 'muted' }, `${shown.length} of ${list.total}`),
    shown.length ? alertList(shown) : el('p', { class: 'muted' }, 'No alerts match.'));
}

async function pageModels() {
  const [fc, rules] = await Promise.all([api('/api/v1/forecast'), api('/api/v1/rules').catch(() => null)]);
  const acc = fc.accuracy || {};
  const beats = typeof acc.mae === 'number' && typeof acc.persistence_mae === 'number'
    ? acc.mae < acc.persistence_mae && (typeof acc.seasonal_naive_mae !== 'number' || acc.mae < acc.seasonal_naive_mae) : null;
  setMain(el('h1', {}, 'Models'),
    el('dl', { class: 'kv' },
      el('dt', {}, 'Model in service'), el('dd', {}, fc.model || 'none (seasonal naive fallback)'),
      el('dt', {}, 'File'), el('dd', {}, fc.model_path || '—'),
      el('dt', {}, 'Forecasts made'), el('dd', {}, String(fc.forecasts)),
      el('dt', {}, 'Points forecast'), el('dd', {}, String(fc.points)),
      el('dt', {}, 'Rolling MAE'), el('dd', {}, fmtNum(acc.mae, 4), beats === null ? '' : beats ? ' — beats the baselines' : ' — worse than a baseline'),
      el('dt', {}, 'Persistence MAE'), el('dd', {}, fmtNum(acc.persistence_mae, 4), ' (repeating the last value)'),
      el('dt', {}, 'Seasonal naive MAE'), el('dd', {}, acc.seasonal_naive_mae === null || acc.seasonal_naive_mae === undefined
        ? 'not yet (under a day of data)' : fmtNum(acc.seasonal_naive_mae, 4) + ' (the same time yesterday)'),
      el('dt', {}, 'Interval coverage'), el('dd', {}, fmtNum(acc.interval_coverage, 3), ' (target ', fmtNum(acc.target_coverage, 2), ')'),
      el('dt', {}, 'Residuals scored'), el('dd', {}, String(acc.residuals || 0)),
      el('dt', {}, 'Latency p50 / p99'), el('dd', {}, `${fmtNum(fc.latency_p50_s * 1000, 1)} / ${fmtNum(fc.latency_p99_s * 1000, 1)} ms`),
      el('dt', {}, 'Fallback forecasts'), el('dd', {}, String(fc.fallback_forecasts))),
    rules ? el('h2', {}, `Rules (${rules.count})`) : null,
    rules ? el('table', {}, el('thead', {}, el('tr', {}, ['rule', 'kind', 'applies to', 'evaluations', 'faults', 'errors'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rules.rules.map((r) => el('tr', {}, el('td', {}, r.id), el('td', {}, r.kind), el('td', {}, String(r.applies.length)),
        el('td', {}, String(r.evaluations)), el('td', {}, String(r.faults)), el('td', {}, String(r.errors)))))) : null);
}

// ---- router ----------------------------------------------------------------------------------

let routing = 0;

async function route(keepScroll) {
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const page = path.startsWith('/equipment/') ? 'overview' : path === '/alerts' ? 'alerts' : path === '/models' ? 'models' : 'overview';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const mine = ++routing;
  const scroll = window.scrollY;
  if (!path.startsWith('/equipment/')) state.pointsShown = new Set();
  try {
    if (path.startsWith('/equipment/')) await pageEquipment(decodeURIComponent(path.slice('/equipment/'.length)));
    else if (path === '/alerts') await pageAlerts(params);
    else if (path === '/models') await pageModels();
    else await pageOverview();
    if (keepScroll === true) window.scrollTo(0, scroll);
  } catch (e) {
    if (mine === routing) setMain(errorBox(e));
  }
}

window.addEventListener('hashchange', () => { route(false); document.getElementById('main').focus(); });
document.addEventListener('DOMContentLoaded', () => {
  setupToken();
  route(false);
  connectEvents(false);
});
