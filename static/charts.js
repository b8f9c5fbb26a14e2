// Pushgateway status page: charts of pushed values over time, from the pushed history
// (GET <base>/api/v1/history/series). Loaded only for an opened group: when its families
// fragment arrives, one request fetches every charted series of the group and its push events.
// Each gauge, counter and untyped series (a histogram's or summary's count and sum) gets a
// sparkline with its latest value, minimum and maximum; a click opens a larger chart with a
// time axis in the viewer's local time, a point per push, a tooltip, gaps where pushes failed
// or the group was deleted, and a range selector. The group's header shows a strip of its
// recent pushes. Colours are Okabe-Ito's, and every outcome also has its own shape.
// No dependencies.
(() => {
  'use strict';

  const base = document.body.dataset.base || '.';
  const list = document.getElementById('group-list');
  if (!list) return;
  const SVG = 'http://www.w3.org/2000/svg';
  const API = `${base}/api/v1/history/series`;
  // The most metric names per request (the URL stays short).
  const METRICS_PER_REQUEST = 64;
  // Sparkline size (CSS reserves the same box) and the points asked for it.
  const SPARK_W = 120;
  const SPARK_H = 28;
  const SPARK_POINTS = 240;
  // The push strip: its size, and how many of the latest pushes it shows.
  const STRIP_W = 132;
  const STRIP_H = 16;
  const STRIP_EVENTS = 20;
  const OUTCOMES = {
    accepted: 'accepted',
    rejected: 'rejected (push failed)',
    deleted: 'group deleted',
    expired: 'group expired',
  };

  const el = (name, attrs = {}, ns = null) => {
    const e = ns ? document.createElementNS(ns, name) : document.createElement(name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const svgEl = (name, attrs) => el(name, attrs, SVG);

  // --- Numbers and times ------------------------------------------------------------------

  const compact = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
  const fullTime = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });

  // A value as the page shows it in the stats line: short, but never misleading.
  function short(v) {
    if (typeof v !== 'number') return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e7 || a < 1e-3)) return v.toPrecision(4).replace(/\.?0+e/, 'e');
    return compact.format(v);
  }
  // The exact value, as JSON carried it (JavaScript prints the shortest exact form).
  const exact = (v) => (typeof v === 'number' ? String(v) : v);
  const finite = (p) => typeof p.value === 'number';

  // --- Tooltip ----------------------------------------------------------------------------

  const tip = el('div', { id: 'chart-tip', role: 'tooltip' });
  tip.hidden = true;
  document.body.append(tip);

  function showTip(x, y, lines) {
    // Over the larger chart, the tooltip must be in the dialog's top layer.
    const host = dialog && dialog.open ? dialog : document.body;
    if (tip.parentNode !== host) host.append(tip);
    tip.replaceChildren(...lines.map(([cls, text]) => {
      const line = el('div', { class: cls });
      line.textContent = text;
      return line;
    }));
    tip.hidden = false;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    const left = Math.min(Math.max(4, x + 12), window.innerWidth - w - 4);
    const top = y - h - 12 < 4 ? y + 16 : y - h - 12;
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }
  function hideTip() {
    tip.hidden = true;
  }

  function pointLines(p) {
    return [
      ['tip-value', exact(p.value)],
      ['tip-time', fullTime.format(new Date(p.t))],
      ['tip-outcome', `${p.method} · ${OUTCOMES[p.outcome] || p.outcome} · push #${p.push_id}`],
    ];
  }
  function eventLines(e) {
    const lines = [
      [`tip-kind kind-${e.kind}`, `${OUTCOMES[e.kind] || e.kind} (${e.method}, ${e.status})`],
      ['tip-time', fullTime.format(new Date(e.t))],
    ];
    if (e.error) lines.push(['tip-error', e.error.length > 300 ? `${e.error.slice(0, 300)}…` : e.error]);
    return lines;
  }

  // --- Shapes: every outcome has its own ------------------------------------------------

  function marker(kind, x, y, r) {
    let shape;
    if (kind === 'rejected') {
      shape = svgEl('path', { d: `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}` });
    } else if (kind === 'deleted') {
      shape = svgEl('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r });
    } else if (kind === 'expired') {
      shape = svgEl('path', { d: `M${x},${y - r}L${x + r},${y + r}L${x - r},${y + r}Z` });
    } else {
      shape = svgEl('circle', { cx: x, cy: y, r });
    }
    shape.setAttribute('class', `mark kind-${kind}`);
    return shape;
  }

  // --- Drawing a series -------------------------------------------------------------------

  // The scales of a chart of `points` (and `events`) in a `w` x `h` box inside `pad`.
  function scales(points, events, w, h, pad, range) {
    const values = points.filter(finite).map((p) => p.value);
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (!values.length) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
    const times = points.map((p) => p.t).concat(events.map((e) => e.t));
    let t0 = range ? range[0] : Math.min(...times);
    let t1 = range ? range[1] : Math.max(...times);
    if (t0 === t1) { t0 -= 1000; t1 += 1000; }
    const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (w - pad.left - pad.right);
    const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (h - pad.top - pad.bottom);
    return { x, y, lo, hi, t0, t1 };
  }

  // The line through `points`, broken where the series has a gap or a value is not finite.
  function linePath(points, x, y) {
    let d = '';
    let pen = false;
    for (const p of points) {
      if (!finite(p)) { pen = false; continue; }
      d += `${pen && !p.gap_before ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`;
      pen = true;
    }
    return d;
  }

  // Points as circles carrying their data (value, time, push), for tooltips and tests.
  function pointMarks(points, x, y, r, h) {
    const g = svgEl('g', { class: 'points' });
    for (const p of points) {
      const cy = finite(p) ? y(p.value) : h / 2;
      const c = svgEl('circle', { class: 'pt', cx: x(p.t).toFixed(1), cy: cy.toFixed(1), r });
      c.dataset.value = exact(p.value);
      c.dataset.time = p.time;
      c.dataset.push = p.push_id;
      g.append(c);
    }
    return g;
  }

  // Tooltips for a chart: the point (or event marker) nearest the pointer.
  function hover(svg, targets) {
    let hot = null;
    const leave = () => {
      if (hot) hot.el.classList.remove('hot');
      hot = null;
      hideTip();
    };
    svg.addEventListener('pointermove', (event) => {
      const box = svg.getBoundingClientRect();
      const scale = box.width / (svg.viewBox.baseVal.width || box.width);
      const px = (event.clientX - box.left) / scale;
      const py = (event.clientY - box.top) / scale;
      let best = null;
      let bestD = Infinity;
      for (const target of targets) {
        const d = Math.abs(target.x - px) + (target.y === null ? 0 : Math.abs(target.y - py) / 4);
        if (d < bestD) { best = target; bestD = d; }
      }
      if (!best || bestD > 40) return leave();
      if (hot !== best) {
        if (hot) hot.el.classList.remove('hot');
        hot = best;
        hot.el.classList.add('hot');
      }
      const r = hot.el.getBoundingClientRect();
      showTip(r.left + r.width / 2, r.top, hot.lines());
    });
    svg.addEventListener('pointerleave', leave);
  }

  function sparkline(series) {
    const pad = { left: 3, right: 3, top: 3, bottom: 3 };
    const pts = series.points;
    const { x, y } = scales(pts, [], SPARK_W, SPARK_H, pad);
    const svg = svgEl('svg', {
      class: 'spark-svg', viewBox: `0 0 ${SPARK_W} ${SPARK_H}`,
      width: SPARK_W, height: SPARK_H, 'aria-hidden': 'true',
    });
    svg.append(svgEl('path', { class: 'line', d: linePath(pts, x, y) }));
    const marks = pointMarks(pts, x, y, 1.8, SPARK_H);
    if (pts.length > 40) svg.classList.add('dense');
    svg.append(marks);
    const circles = Array.from(marks.children);
    hover(svg, pts.map((p, i) => ({
      el: circles[i], x: x(p.t), y: null, lines: () => pointLines(p),
    })));
    return svg;
  }

  // --- Sparklines ---------------------------------------------------------------------------

  const seriesKey = (metric, labels) => `${metric}\u0000${labels}`;

  function statsLine(series) {
    const stats = el('span', { class: 'spark-stats' });
    const last = series.points[series.points.length - 1];
    for (const [name, value] of [['latest', last.value], ['min', series.min], ['max', series.max]]) {
      const item = el('span', { class: `stat-${name}` });
      const label = el('span', { class: 'spark-label' });
      label.textContent = name;
      const b = el('b');
      b.textContent = value === null || value === undefined ? '–' : short(value);
      b.title = value === null || value === undefined ? '' : exact(value);
      item.append(label, ' ', b);
      stats.append(item);
    }
    return stats;
  }

  function drawSpark(spark, series, truncated) {
    spark.replaceChildren();
    if (spark.dataset.caption) {
      const caption = el('span', { class: 'spark-caption' });
      caption.textContent = spark.dataset.caption;
      spark.append(caption);
    }
    // Two values make a line; with fewer there is nothing over time to show.
    if (!series || series.points.length < 2) {
      spark.dataset.state = 'few';
      const note = el('span', { class: 'spark-note' });
      if (series) note.textContent = 'one value recorded';
      else note.textContent = truncated ? 'not charted: too many series' : 'no recorded values';
      spark.append(note);
      return;
    }
    spark.dataset.state = 'drawn';
    spark.dataset.points = series.points.length;
    spark.setAttribute('role', 'button');
    spark.setAttribute('tabindex', '0');
    spark.setAttribute('aria-label', `${spark.dataset.metric}: open a larger chart`);
    spark.title = 'Click for a larger chart';
    spark.append(sparkline(series), statsLine(series));
  }

  function sparkFailed(spark, message) {
    spark.dataset.state = 'failed';
    const note = el('span', { class: 'spark-note bad' });
    note.textContent = message;
    spark.replaceChildren(note);
  }

  async function fetchSeries(params) {
    const response = await fetch(`${API}?${params}`, { headers: { Accept: 'application/json' } });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
    return body.data;
  }

  // Loads every sparkline of an opened group, and its push strip, in as few requests as the
  // number of its metric names needs (one, usually).
  async function loadGroup(item) {
    const sparks = Array.from(item.querySelectorAll('.spark:not([data-state])'));
    for (const s of sparks) s.dataset.state = 'loading';
    const names = [...new Set(sparks.map((s) => s.dataset.metric))];
    // A group with no charted family still shows its pushes.
    if (!names.length) names.push('push_time_seconds');
    const found = new Map();
    let events = [];
    let truncated = false;
    try {
      for (let i = 0; i < names.length; i += METRICS_PER_REQUEST) {
        const params = new URLSearchParams({ group: item.dataset.path, max_points: SPARK_POINTS });
        for (const name of names.slice(i, i + METRICS_PER_REQUEST)) params.append('metric', name);
        const data = await fetchSeries(params);
        for (const s of data.series) found.set(seriesKey(s.metric, JSON.stringify(s.labels)), s);
        truncated = truncated || data.truncated;
        if (i === 0) events = data.events;
      }
    } catch (error) {
      for (const s of sparks) sparkFailed(s, `history unavailable: ${error.message}`);
      return;
    }
    for (const spark of sparks) {
      drawSpark(spark, found.get(seriesKey(spark.dataset.metric, spark.dataset.labels)), truncated);
    }
    drawStrip(item, events);
  }

  // --- The push strip in the group's header -----------------------------------------------

  function stripBox(item) {
    let strip = item.querySelector('.row .push-strip');
    if (!strip) {
      strip = el('span', { class: 'push-strip', role: 'img' });
      strip.dataset.state = 'loading';
      const meta = item.querySelector('.row .meta');
      if (meta) meta.prepend(strip);
    }
    return strip;
  }

  function drawStrip(item, events) {
    const strip = stripBox(item);
    const shown = events.slice(-STRIP_EVENTS);
    strip.dataset.state = 'drawn';
    strip.replaceChildren();
    if (!shown.length) {
      strip.setAttribute('aria-label', 'no recorded pushes');
      strip.title = 'No recorded pushes';
      return;
    }
    // One slot per push, newest on the right; the header's "pushed … ago" says how long ago.
    const slot = (STRIP_W - 10) / (STRIP_EVENTS - 1);
    const x = (i) => STRIP_W - 5 - (shown.length - 1 - i) * slot;
    const svg = svgEl('svg', {
      viewBox: `0 0 ${STRIP_W} ${STRIP_H}`, width: STRIP_W, height: STRIP_H, 'aria-hidden': 'true',
    });
    svg.append(svgEl('line', {
      class: 'axis', x1: x(0), x2: STRIP_W - 5, y1: STRIP_H / 2, y2: STRIP_H / 2,
    }));
    const targets = [];
    shown.forEach((e, i) => {
      const m = marker(e.kind, x(i), STRIP_H / 2, e.kind === 'accepted' ? 2.3 : 3);
      m.dataset.kind = e.kind;
      svg.append(m);
      targets.push({ el: m, x: x(i), y: null, lines: () => eventLines(e) });
    });
    hover(svg, targets);
    const counts = {};
    for (const e of shown) counts[e.kind] = (counts[e.kind] || 0) + 1;
    const summary = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ');
    const last = shown[shown.length - 1];
    const label = `Latest ${shown.length} pushes: ${summary}; the last ${fullTime.format(new Date(last.t))} (${last.kind})`;
    strip.setAttribute('aria-label', label);
    strip.title = label;
    strip.append(svg);
  }

  // --- The larger chart ---------------------------------------------------------------------

  const RANGES = [['Last hour', 3600e3], ['Day', 86400e3], ['Week', 7 * 86400e3], ['All', 0]];
  let dialog = null;
  let current = null;
  // The latest request of the larger chart: an older answer arriving later is dropped.
  let asking = 0;

  function chartDialog() {
    if (dialog) return dialog;
    dialog = el('dialog', { id: 'chart-dialog', class: 'chart-dialog', 'aria-labelledby': 'chart-title' });
    const head = el('div', { class: 'chart-head' });
    const title = el('h2', { id: 'chart-title' });
    const close = el('button', { type: 'button', class: 'btn btn-quiet chart-close', 'aria-label': 'Close' });
    close.textContent = '×';
    close.addEventListener('click', () => dialog.close());
    head.append(title, close);
    const labels = el('p', { class: 'chart-labels' });
    const ranges = el('div', { class: 'chart-ranges', role: 'group', 'aria-label': 'Time range' });
    for (const [name, ms] of RANGES) {
      const b = el('button', { type: 'button', class: 'btn btn-quiet', 'data-range': String(ms) });
      b.textContent = name;
      b.addEventListener('click', () => loadBig(ms));
      ranges.append(b);
    }
    const stats = el('p', { class: 'chart-stats' });
    const box = el('div', { class: 'chart-big' });
    const legend = el('div', { class: 'chart-legend' });
    for (const kind of ['accepted', 'rejected', 'deleted', 'expired']) {
      const item = el('span');
      const svg = svgEl('svg', { viewBox: '0 0 12 12', width: 12, height: 12, 'aria-hidden': 'true' });
      svg.append(marker(kind, 6, 6, kind === 'accepted' ? 3.5 : 4));
      const text = document.createTextNode(kind === 'accepted' ? ' push (value)' : ` ${OUTCOMES[kind]}`);
      item.append(svg, text);
      legend.append(item);
    }
    dialog.append(head, labels, ranges, stats, box, legend);
    dialog.addEventListener('close', hideTip);
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close();
    });
    document.body.append(dialog);
    return dialog;
  }

  function openBig(spark) {
    const item = spark.closest('.group');
    const d = chartDialog();
    current = {
      path: item.dataset.path,
      metric: spark.dataset.metric,
      labels: spark.dataset.labels,
      group: Array.from(item.querySelectorAll('.row .labels .badge'), (b) => b.textContent).join(', '),
    };
    d.querySelector('#chart-title').textContent = current.metric;
    const labels = JSON.parse(current.labels);
    const own = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ');
    d.querySelector('.chart-labels').textContent = `{${current.group}${own ? `, ${own}` : ''}}`;
    if (!d.open) d.showModal();
    loadBig(0);
  }

  async function loadBig(rangeMs) {
    const d = chartDialog();
    for (const b of d.querySelectorAll('.chart-ranges button')) {
      b.setAttribute('aria-pressed', String(Number(b.dataset.range) === rangeMs));
    }
    const box = d.querySelector('.chart-big');
    box.dataset.state = 'loading';
    const width = Math.max(280, Math.round(box.clientWidth || 800));
    const params = new URLSearchParams({
      group: current.path, metric: current.metric, labels: current.labels,
      max_points: Math.min(2000, Math.max(8, width)),
    });
    const now = Date.now();
    if (rangeMs) params.set('from', String((now - rangeMs) / 1000));
    const asked = ++asking;
    let data;
    try {
      data = await fetchSeries(params);
    } catch (error) {
      if (asked !== asking) return;
      box.dataset.state = 'failed';
      const p = el('p', { class: 'notice bad' });
      p.textContent = `Could not load the history (${error.message}).`;
      box.replaceChildren(p);
      return;
    }
    if (asked !== asking) return;
    const series = data.series[0];
    const stats = d.querySelector('.chart-stats');
    if (!series) {
      stats.textContent = '';
      const p = el('p', { class: 'chart-empty' });
      p.textContent = 'No values recorded in this range.';
      box.replaceChildren(p);
      box.dataset.state = 'empty';
      return;
    }
    const last = series.points[series.points.length - 1];
    const shown = (v) => (v === null || v === undefined ? '–' : exact(v));
    stats.textContent = `${series.points_total} values · latest ${exact(last.value)} · min ${shown(series.min)} · max ${shown(series.max)}`
      + (series.downsampled ? ` · ${series.points.length} shown (first, last, min and max per interval)` : '')
      + (data.truncated ? ' · older pushes not read' : '');
    box.replaceChildren(bigChart(series, data.events, width, rangeMs ? [now - rangeMs, now] : null));
    box.dataset.state = 'drawn';
  }

  // Round steps for the time axis, in ms.
  const TIME_STEPS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600,
    3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400, 91 * 86400,
    365 * 86400].map((s) => s * 1000);

  // Ticks at round local times (the viewer's zone), labelled as finely as their step needs.
  function timeTicks(t0, t1, count) {
    const step = TIME_STEPS.find((s) => (t1 - t0) / s <= count) || TIME_STEPS[TIME_STEPS.length - 1];
    const offset = -new Date(t0).getTimezoneOffset() * 60000;
    const ticks = [];
    for (let t = Math.ceil((t0 + offset) / step) * step - offset; t <= t1; t += step) ticks.push(t);
    const format = { hour: '2-digit', minute: '2-digit' };
    if (step < 60000) format.second = '2-digit';
    if (step < 1000) format.fractionalSecondDigits = step < 100 ? 3 : step < 1000 ? 2 : 1;
    if (step >= 86400000) {
      delete format.hour;
      delete format.minute;
      Object.assign(format, { month: 'short', day: 'numeric' });
    }
    // A range of more than a day also names the day of each tick within the day.
    if (step < 86400000 && t1 - t0 > 86400000) Object.assign(format, { weekday: 'short' });
    const fmt = new Intl.DateTimeFormat(undefined, format);
    return ticks.map((t) => [t, fmt.format(new Date(t))]);
  }

  function valueTicks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
    return ticks;
  }

  function bigChart(series, events, width, range) {
    const h = 300;
    const pad = { left: 64, right: 14, top: 12, bottom: 44 };
    const pts = series.points;
    const breaks = events.filter((e) => e.kind !== 'accepted');
    const s = scales(pts, breaks, width, h, pad, range);
    // A little room above and below the values.
    const span = s.hi - s.lo;
    const lo = s.lo - span * 0.05;
    const hi = s.hi + span * 0.05;
    const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (h - pad.top - pad.bottom - 14);
    const x = s.x;
    const svg = svgEl('svg', {
      class: 'big-svg', viewBox: `0 0 ${width} ${h}`, width, height: h,
      role: 'img', 'aria-label': `${series.metric} over time`,
    });
    const grid = svgEl('g', { class: 'grid' });
    for (const v of valueTicks(lo, hi, 5)) {
      grid.append(svgEl('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
      const label = svgEl('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' });
      label.textContent = short(v);
      grid.append(label);
    }
    const bottom = h - pad.bottom;
    for (const [t, text] of timeTicks(s.t0, s.t1, Math.max(2, Math.floor((width - pad.left) / 110)))) {
      grid.append(svgEl('line', { class: 'tick', x1: x(t), x2: x(t), y1: pad.top, y2: bottom }));
      const label = svgEl('text', { x: x(t), y: bottom + 16, 'text-anchor': 'middle' });
      label.textContent = text;
      grid.append(label);
    }
    grid.append(svgEl('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: bottom, y2: bottom }));
    svg.append(grid);
    svg.append(svgEl('path', { class: 'line', d: linePath(pts, x, y) }));
    const marks = pointMarks(pts, x, y, 3, h);
    if (pts.length > 150) svg.classList.add('dense');
    svg.append(marks);
    const targets = Array.from(marks.children, (c, i) => ({
      el: c, x: x(pts[i].t), y: finite(pts[i]) ? y(pts[i].value) : null, lines: () => pointLines(pts[i]),
    }));
    // Failed pushes, deletions and expiries along the time axis.
    const lane = bottom - 7;
    const eventMarks = svgEl('g', { class: 'events' });
    for (const e of breaks) {
      const m = marker(e.kind, x(e.t), lane, 4.5);
      eventMarks.append(m);
      targets.push({ el: m, x: x(e.t), y: lane, lines: () => eventLines(e) });
    }
    svg.append(eventMarks);
    hover(svg, targets);
    return svg;
  }

  // --- Wiring --------------------------------------------------------------------------------

  list.addEventListener('click', (event) => {
    const spark = event.target.closest('.spark[data-state="drawn"]');
    if (spark) openBig(spark);
  });
  list.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    const spark = event.target.closest('.spark[data-state="drawn"]');
    if (!spark) return;
    event.preventDefault();
    openBig(spark);
  });

  // A group's families arrive as a fragment when it is opened (status.js): its strip's place
  // is kept from the moment it opens, and its charts load once the fragment is there.
  new MutationObserver(() => {
    for (const item of list.querySelectorAll('.group.open')) {
      if (!item.querySelector('.row .push-strip')) stripBox(item);
      if (!item.querySelector('.families[data-state="loaded"]')) continue;
      if (item.dataset.charts !== 'requested' || item.querySelector('.spark:not([data-state])')) {
        item.dataset.charts = 'requested';
        loadGroup(item);
      }
    }
  }).observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-state'] });
})();
