// The llamajoule report page: reads the run's JSON from the page (#lj-data,
// #lj-series), draws every chart with Apache ECharts (SVG renderer), and
// writes what it drew into #lj-status for tests (headless Chromium reads it
// with --dump-dom). Strings from the run file are only ever shown as text
// (textContent) or escaped (esc) in tooltips: a hostile model or GPU name
// stays a string. "#only=ID" in the URL shows one chart alone (screenshots).
(function () {
  'use strict';
  const status = { page: window.LJ_PAGE, charts: {}, skipped: {}, errors: [], violations: 0, done: false };
  const statusEl = document.getElementById('lj-status');
  const writeStatus = () => { statusEl.textContent = JSON.stringify(status); };
  window.addEventListener('error', (e) => { status.errors.push(String(e.message)); writeStatus(); });
  document.addEventListener('securitypolicyviolation', (e) => {
    status.violations++;
    status.errors.push('blocked by the page policy: ' + e.blockedURI);
    writeStatus();
  });
  const consoleError = console.error;
  console.error = function (...args) {
    status.errors.push(args.map(String).join(' '));
    writeStatus();
    consoleError.apply(console, args);
  };

  // Okabe-Ito: distinguishable with every common colour-vision deficiency, and in grey print.
  const OI = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
  const METHOD_COLOR = { isolation: OI[0], sequence: OI[2], shapley: OI[3], ablation: OI[5], shapley_layer: OI[6] };
  const GROUP_LABEL = { attention: 'attention', mlp: 'MLP', communication: 'communication', norms: 'norms', embed: 'embedding',
                        lm_head: 'LM head', sample: 'sampling' };
  const GROUP_COLOR = { attention: OI[0], MLP: OI[1], norms: OI[2], embedding: OI[3], 'LM head': OI[4], sampling: OI[5],
                        communication: OI[7],
                        'idle (static)': '#9a9a9a', 'not split into stages': '#c8c8c8', 'not attributed': '#c8c8c8' };
  const PHASE_COLOR = { load: '#9a9a9a', tokenize: OI[3], prefill: OI[0], decode: OI[1], detokenize: OI[2] };
  const SEQUENTIAL = ['#fde725', '#5ec962', '#21918c', '#3b528b', '#440154'];  // viridis, light to dark

  const root = document.getElementById('lj-root');
  const only = new URLSearchParams(location.hash.slice(1)).get('only');

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(typeof k === "object" && k !== null ? k : String(k));  // append makes text of a string
    return e;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }
  // 4 significant digits with an SI prefix: 0.0123 J -> "12.30 mJ".
  function fmt(x, unit) {
    if (x === null || x === undefined || !isFinite(x)) return '-';
    if (x === 0) return '0 ' + unit;
    const prefixes = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, ''], [1e-3, 'm'], [1e-6, '\u00b5'], [1e-9, 'n'], [1e-12, 'p'], [1e-15, 'f']];
    const noPrefix = unit === '%' || unit === '' || unit === '\u00b0C' || unit === 'MHz' || unit === 'tokens/J';
    if (noPrefix) return x.toPrecision(4) + (unit ? ' ' + unit : '');
    const a = Math.abs(x);
    for (const [f, p] of prefixes) if (a >= f * 0.9995) return (x / f).toPrecision(4) + ' ' + p + unit;
    return x.toExponential(3) + ' ' + unit;
  }
  const pct = (x) => (x === null || !isFinite(x) ? '-' : (x * 100).toFixed(1) + '%');
  const signedPct = (x) => (x === null || !isFinite(x) ? '-' : (x > 0 ? '+' : '') + x.toFixed(1) + '%');
  // Which energy source per-stage estimates used (power samples for windows < 10 s) and where the other disagrees.
  const sourceNote = (rows) => {
    const n = rows.filter((s) => s.source === 'samples').length, bad = rows.filter((s) => s.sources_disagree);
    if (!n && !bad.length) return '';
    return n + ' of ' + rows.length + ' estimates from the driver\'s power samples (windows < 10 s), the rest from the energy counter.' +
      (bad.length ? ' Counter and samples disagree beyond the interval for: ' + bad.map((s) => s.stage + (s.method === 'isolation' ? '' : ' (' + s.method + ')')).join(', ') + '.' : '');
  };

  // ------------------------------------------------------------------ charts

  const pending = new Set();
  function finish() {
    if (pending.size === 0 && !status.done) {
      status.done = true;
      writeStatus();
    }
  }
  // A section with a title, a note and a chart; make() returns an ECharts option or a string (why it is skipped).
  function chart(id, title, note, height, make) {
    if (only && only !== id) return;
    let option;
    try {
      option = make();
    } catch (e) {
      status.errors.push(id + ': ' + e.message);
      option = 'could not be drawn: ' + e.message;
    }
    if (typeof option === 'string') {
      status.skipped[id] = option;
      if (!only) root.append(el('section', { class: 'chart skipped', id: 'sec-' + id }, el('h2', {}, title), el('p', { class: 'note' }, 'Not drawn: ' + option + '.')));
      return;
    }
    const box = el('div', { class: 'plot', id: 'chart-' + id, style: 'height:' + height + 'px' });
    root.append(el('section', { class: 'chart', id: 'sec-' + id }, el('h2', {}, title), el('p', { class: 'note' }, note), box));
    const c = echarts.init(box, null, { renderer: 'svg' });
    pending.add(id);
    c.on('finished', () => {
      if (status.charts[id]) return;
      const marks = box.querySelectorAll('svg path, svg rect, svg circle, svg polyline').length;
      let points = 0;
      // points that hold a value: a bar of a run without the figure (null) is no point
      for (const s of c.getOption().series || []) points += Array.isArray(s.data) ? s.data.filter((v) => v !== null && v !== undefined).length : 0;
      status.charts[id] = { marks, points, series: (c.getOption().series || []).length };
      pending.delete(id);
      writeStatus();
      finish();
    });
    option.animation = false;
    option.textStyle = { fontFamily: 'DejaVu Sans, Helvetica, Arial, sans-serif' };
    c.setOption(option);
    window.addEventListener('resize', () => c.resize());
  }

  // Error bars for grouped bars: k series per category, this is series i.
  function errorBars(name, color, i, k, rows) {
    return {
      type: 'custom', name, color, z: 10, tooltip: { show: false },
      data: rows,
      encode: { x: 0, y: [1, 2] },
      renderItem: (params, api) => {
        const lo = api.coord([api.value(0), api.value(1)]);
        const hi = api.coord([api.value(0), api.value(2)]);
        const band = api.size([1, 0])[0];
        const w = (band * 0.7) / (k + (k - 1) * 0.1);
        const x = lo[0] - band * 0.35 + i * w * 1.1 + w / 2;
        const cap = Math.min(6, w / 3);
        const style = { stroke: '#000', lineWidth: 1.2 };
        return { type: 'group', children: [
          { type: 'line', shape: { x1: x, y1: lo[1], x2: x, y2: hi[1] }, style },
          { type: 'line', shape: { x1: x - cap, y1: lo[1], x2: x + cap, y2: lo[1] }, style },
          { type: 'line', shape: { x1: x - cap, y1: hi[1], x2: x + cap, y2: hi[1] }, style }] };
      },
    };
  }

  // ------------------------------------------------------------------ the report of one run

  function reportPage() {
    const d = JSON.parse(document.getElementById('lj-data').textContent);
    const ts = JSON.parse(document.getElementById('lj-series').textContent);
    const timing = d.run.timing_only;
    const Q = timing ? { key: 'time_s', unit: 's', word: 'time' } : { key: 'dynamic_j', unit: 'J', word: 'dynamic energy' };
    const phase = (p) => d.phases.find((x) => x.phase === p);

    if (!only) {
      root.append(el('h1', {}, 'llamajoule: ', d.model.name || d.model.model, ' on ', d.gpu.name || d.workload.engine));
      root.append(el('p', { class: 'sub' }, d.run.file, ', run ', d.run.id, ' (', d.run.status, '), ', d.run.command_line));
      if (d.run.missing) root.append(el('div', { class: 'banner', role: 'alert' }, 'Incomplete report: ', d.run.missing, '.'));
      summary(d, timing);
      findings(d);
    }

    // Sankey: run -> phases -> stage groups -> stages, per one unit of every phase.
    chart('sankey', 'Where the ' + Q.word + ' goes',
      'One run = one unit of each measured phase. Phase: measured windows (' + (timing ? 'host time' : 'the driver\'s power samples under 10 s, else the energy counter') +
      '); stage groups and stages: the replay estimates of the method each phase reports, scaled to the measured phase where they over-run it.' +
      (timing ? '' : ' Idle (static): the idle baseline times the phase\'s time.'), 560, () => {
        const nodes = new Map(), links = [];
        const node = (name, color) => { if (!nodes.has(name)) nodes.set(name, { name, itemStyle: { color } }); };
        const link = (s, t, v) => { if (v > 0) links.push({ source: s, target: t, value: v }); };
        node('run', '#555');
        const stageTotals = {};
        for (const ph of d.phases) {
          const whole = timing ? ph.time_s : ph.gross_j;
          if (!(whole > 0)) continue;
          node(ph.phase, PHASE_COLOR[ph.phase]);
          link('run', ph.phase, whole);
          const dyn = timing ? ph.time_s : ph.dynamic_j;
          if (!timing && ph.gross_j - ph.dynamic_j > 0) { node('idle (static)', GROUP_COLOR['idle (static)']); link(ph.phase, 'idle (static)', ph.gross_j - ph.dynamic_j); }
          const rows = d.stages.filter((s) => s.phase === ph.phase && s.reported && s.calls_per_unit > 0 && s[Q.key] !== null);
          if (!rows.length) {
            node('not split into stages', GROUP_COLOR['not split into stages']);
            link(ph.phase, 'not split into stages', dyn);
            continue;
          }
          let sum = 0;
          for (const s of rows) sum += s.calls_per_unit * s[Q.key];
          const scale = sum > dyn && dyn > 0 ? dyn / sum : 1;
          const byGroup = {};
          for (const s of rows) {
            const g = GROUP_LABEL[s.group] || s.group, v = s.calls_per_unit * s[Q.key] * scale;
            byGroup[g] = (byGroup[g] || 0) + v;
            stageTotals[g] = stageTotals[g] || {};
            stageTotals[g][s.stage] = (stageTotals[g][s.stage] || 0) + v;
          }
          for (const [g, v] of Object.entries(byGroup)) { node(g, GROUP_COLOR[g]); link(ph.phase, g, v); }
          if (dyn - sum * scale > dyn * 1e-6) { node('not attributed', GROUP_COLOR['not attributed']); link(ph.phase, 'not attributed', dyn - sum * scale); }
        }
        for (const [g, st] of Object.entries(stageTotals))
          for (const [s, v] of Object.entries(st)) { node(s, GROUP_COLOR[g]); link(g, s, v); }
        if (links.length < 2) return 'the run has no measured phase';
        return {
          tooltip: { trigger: 'item', formatter: (p) => p.dataType === 'edge'
            ? esc(p.data.source) + ' \u2192 ' + esc(p.data.target) + ': ' + fmt(p.data.value, Q.unit)
            : esc(p.name) + ': ' + fmt(p.value, Q.unit) },
          series: [{ type: 'sankey', data: [...nodes.values()], links, nodeGap: 12, nodeWidth: 16, left: 20, right: 210, top: 10, bottom: 10,
            labelLayout: { hideOverlap: true },
            emphasis: { focus: 'adjacency' }, lineStyle: { color: 'gradient', opacity: 0.35 },
            label: { formatter: (p) => p.name + '  ' + fmt(p.value, Q.unit), fontSize: 12 } }],
        };
      });

    // Heatmaps: decoder layers x stages, each stage of each layer replayed alone where the run measured
    // it (--per-layer), else from the in-situ timeline; the description says which.
    for (const p of ['prefill', 'decode']) {
      const measured = (d.layer_stages || {})[p];
      chart('heatmap-' + p, p[0].toUpperCase() + p.slice(1) + ': energy by layer and stage',
        measured ? 'Measured: each stage of each decoder layer replayed alone on that layer\'s own input and weights (profile --per-layer), dynamic energy per call (one trial per cell).'
          : 'From the in-situ timeline: gross energy of each stage call in each decoder layer, summed over the timeline (driver power samples integrated over the stage\'s intervals); its energy shares follow its time shares (profile --per-layer measures each cell).', 520, () => {
          const cells = measured || d.heatmap[p];
          if (!cells || !cells.length) return 'no per-layer timeline data for ' + p;
          // the layer's stages in the run's order, the fused mode's composites where their parts begin
          const stages = ['attn_norm', 'attn_norm+qkv', 'qkv', 'rope', 'rope+attn', 'attn', 'o_proj', 'ffn_norm', 'ffn_norm+gate_up+swiglu',
            'gate_up', 'swiglu', 'down'].filter((s) => cells.some((c) => c[1] === s));
          const layers = Array.from({ length: d.model.n_layers }, (_, i) => String(i));
          const vals = cells.map((c) => c[2]);
          return {
            tooltip: { formatter: (q) => 'layer ' + q.value[1] + ', ' + esc(q.value[0]) + ': ' + fmt(q.value[2], 'J') + (measured ? ' per call' : '') },
            grid: { left: 70, right: 110, top: 10, bottom: 60 },
            xAxis: { type: 'category', data: stages, name: 'stage', nameLocation: 'middle', nameGap: 32, splitArea: { show: true } },
            yAxis: { type: 'category', data: layers, name: 'decoder layer', nameLocation: 'middle', nameGap: 40 },
            visualMap: { min: Math.min(...vals), max: Math.max(...vals), calculable: true, orient: 'vertical', right: 10, top: 'middle',
              inRange: { color: SEQUENTIAL }, text: [measured ? 'J per call' : 'J', ''], formatter: (v) => fmt(v, 'J') },
            series: [{ type: 'heatmap', data: cells.filter((c) => stages.includes(c[1])).map((c) => [c[1], String(c[0]), c[2]]) }],
          };
        });
    }

    // Energy by decoder layer: each layer replayed alone where the run measured it (--per-layer),
    // else the in-situ timeline's cells summed per layer (energy shares there follow time shares).
    for (const p of ['prefill', 'decode']) {
      const m = (d.layers || {})[p];
      chart('layers-' + p, p[0].toUpperCase() + p.slice(1) + ': energy by decoder layer',
        m ? 'Measured: each decoder layer replayed alone on its own weights, dynamic energy per layer call (95% interval in the tooltip). Agreement across layers: ' + m.agreement + ' (with random weights every layer is the same computation).'
          : 'From the in-situ timeline: gross energy of each layer\'s stage intervals summed; its energy shares follow its time shares (profile --per-layer measures each layer).', 360, () => {
          let rows = m ? m.rows : null;
          if (!rows) {
            const cells = d.heatmap[p];
            if (!cells || !cells.length) return 'no per-layer data for ' + p;
            const sum = new Map();
            for (const c of cells) sum.set(c[0], (sum.get(c[0]) || 0) + c[2]);
            rows = [...sum.entries()].sort((a, b) => a[0] - b[0]).map(([l, v]) => [l, v, null, null]);
          }
          const interval = (r) => (r[2] === null || r[3] === null ? '' : ' [' + fmt(r[2], 'J') + ', ' + fmt(r[3], 'J') + ']');
          return {
            tooltip: { trigger: 'item', formatter: (q) => 'layer ' + esc(q.name) + ': ' + fmt(q.value, 'J') + interval(rows[q.dataIndex]) },
            grid: { left: 80, right: 20, top: 10, bottom: 50 },
            xAxis: { type: 'category', data: rows.map((r) => String(r[0])), name: 'decoder layer', nameLocation: 'middle', nameGap: 32 },
            yAxis: { type: 'value', name: m ? 'J per layer call' : 'J', axisLabel: { formatter: (v) => fmt(v, 'J') } },
            series: [{ type: 'bar', data: rows.map((r) => r[1]) }],
          };
        });
    }

    // Power over time with the phase windows shaded.
    chart('power', 'Power over time', 'Driver power samples (~20 ms) and instant power; SM clock and temperature on their own axes. Shaded: the phase windows, and in vermillion the spans where the driver held the clocks down (power cap, thermal, slowdown; hover names the reason). Drag the slider or scroll to zoom; lines are downsampled (LTTB) to the pixels.', 460, () => {
      if (!ts.series.length) return timing ? 'a timing-only run stores no power samples' : 'no samples were stored for this run';
      const axisOf = { W: 0, MHz: 1, '\u00b0C': 2 };
      const t0 = ts.t0_ns;
      const areas = d.windows.filter((w) => w.end_ns > w.begin_ns).map((w) => [
        { name: w.phase, xAxis: (w.begin_ns - t0) * 1e-9, itemStyle: { color: PHASE_COLOR[w.phase], opacity: 0.12 } },
        { xAxis: (w.end_ns - t0) * 1e-9 }]);
      // Spans where the driver held the clocks down (NVML clocks-event reasons); hover names them.
      const REASONS = { 4: 'sw power cap', 8: 'hw slowdown', 32: 'sw thermal', 64: 'hw thermal', 128: 'hw power brake' };
      const why = (m) => Object.keys(REASONS).filter((b) => m & b).map((b) => REASONS[b]).join(', ');
      for (const x of ts.throttle || [])
        areas.push([{ name: 'clocks limited: ' + why(x[2]), xAxis: x[0], itemStyle: { color: OI[5], opacity: 0.22 },
          label: { show: false } }, { xAxis: x[1] }]);
      const series = ts.series.map((s, i) => {
        const pts = new Array(s.data.length / 2);
        for (let k = 0; k < pts.length; k++) pts[k] = [s.data[2 * k], s.data[2 * k + 1]];
        const out = { type: 'line', name: s.name + ' (' + s.unit + ')', yAxisIndex: axisOf[s.unit] || 0, data: pts, showSymbol: false,
          sampling: 'lttb', large: true, lineStyle: { width: s.unit === 'W' ? 1.2 : 1, type: s.unit === 'W' ? 'solid' : 'dashed' },
          color: [OI[0], OI[1], OI[2], OI[5]][i % 4] };
        if (i === 0) out.markArea = { silent: false, label: { show: true, position: 'insideTop', fontSize: 10, color: '#333' }, data: areas };
        return out;
      });
      return {
        tooltip: { trigger: 'axis', valueFormatter: (v) => (typeof v === 'number' ? v.toPrecision(5) : v) },
        legend: { top: 0 },
        grid: { left: 80, right: 150, top: 40, bottom: 80 },
        dataZoom: [{ type: 'inside' }, { type: 'slider', bottom: 10 }],
        xAxis: { type: 'value', name: 'time (s)', nameLocation: 'middle', nameGap: 28 },
        yAxis: [{ type: 'value', name: 'power (W)', nameLocation: 'middle', nameGap: 48 },
          { type: 'value', name: 'SM clock (MHz)', position: 'right', nameLocation: 'middle', nameGap: 50, splitLine: { show: false } },
          { type: 'value', name: 'temperature (\u00b0C)', position: 'right', offset: 80, nameLocation: 'middle', nameGap: 34, splitLine: { show: false } }],
        series,
      };
    });

    // The idle model: idle power against GPU temperature, one curve per GPU (docs/attribution.md §1c).
    const curves = (d.idle_curves || []).filter((c) => c.line.some((q) => q[1] !== null));
    const lvl = Math.round((d.run.level || 0.95) * 100);
    const W = (x) => (x === null ? '-' : x.toFixed(1));
    chart('idle-curve', 'Idle power against GPU temperature',
      'The idle the profile subtracts at each window\'s temperature: a line fitted by least squares to the idle power samples, binned by whole degrees, of the start-of-run idle (cool) and of a cool-down after the measurements (warm); drawn over the temperatures the run saw, flat past the fitted range (no extrapolation). ' +
      'Band: the slope\'s ' + lvl + '% interval about the reference temperature. Diamond: the flat idle measured before the run, at that temperature. ' +
      curves.map((c) => (curves.length > 1 ? 'GPU ' + c.tp_rank + ': ' : '') + W(c.idle_at_t0_w) + ' W at ' + W(c.t0_c) + ' \u00b0C, ' + (c.slope_w_per_c >= 0 ? '+' : '') + W(c.slope_w_per_c) +
        ' W/\u00b0C [' + W(c.slope_lo_w_per_c) + ', ' + W(c.slope_hi_w_per_c) + '], R\u00b2 ' + (c.r2 === null ? '-' : c.r2.toFixed(2)) + ' over ' + c.n_bins + ' one-degree bins (cool-down ' + W(c.cooldown_s) + ' s, ' +
        W(c.cool_start_c) + '\u2192' + W(c.cool_end_c) + ' \u00b0C); ' + (c.used ? 'used' : 'not used (' + c.why_not_used + '): the flat idle was subtracted') + '. ').join('') +
      'The cool-down\'s samples are not stored: no measured points are drawn.', 380, () => {
        if (timing) return 'a timing-only run measures no idle power';
        if (!curves.length) return 'the run measured no cool-down (profile --cooldown-seconds 0, or a store before schema 10)';
        const series = [];
        curves.forEach((c, i) => {
          const name = curves.length > 1 ? 'GPU ' + c.tp_rank + ' ' : '', color = OI[i % 8];
          const band = c.band.filter((q) => q[1] !== null && q[2] !== null);
          // the band as one polygon: the upper edge left to right, the lower edge back
          series.push({ type: 'custom', name: name + 'slope ' + lvl + '% interval', color, silent: true, tooltip: { show: false },
            data: band, encode: { x: 0, y: [1, 2] },
            renderItem: (params, api) => (params.dataIndex ? null : { type: 'polygon',
              shape: { points: band.map((q) => api.coord([q[0], q[2]])).concat(band.slice().reverse().map((q) => api.coord([q[0], q[1]]))) },
              style: { fill: color, opacity: 0.18 } }) });
          series.push({ type: 'line', name: name + 'fit' + (c.used ? '' : ' (not used)'), color, symbolSize: 6, data: c.line.filter((q) => q[1] !== null),
            lineStyle: { width: 2, type: c.used ? 'solid' : 'dashed' } });
          if (c.flat_idle_w !== null && c.t0_c !== null)
            series.push({ type: 'scatter', name: name + 'flat idle before the run', color, symbol: 'diamond', symbolSize: 13, data: [[c.t0_c, c.flat_idle_w]] });
        });
        return {
          tooltip: { trigger: 'item', formatter: (q) => esc(q.seriesName) + ': ' + q.value[0].toFixed(1) + ' \u00b0C, ' + fmt(q.value[1], 'W') },
          legend: { top: 0 },
          grid: { left: 80, right: 30, top: 40, bottom: 60 },
          graphic: [{ type: 'text', right: 40, bottom: 70, style: { text: 'cool-down samples not stored: the fit and the flat idle only', fill: '#555', fontSize: 11, backgroundColor: '#fff', padding: 2 } }],
          xAxis: { type: 'value', name: 'GPU temperature (\u00b0C)', nameLocation: 'middle', nameGap: 30, scale: true },
          yAxis: { type: 'value', name: 'idle power (W)', nameLocation: 'middle', nameGap: 48, scale: true },
          series,
        };
      });

    // Bars: per stage, one colour per method, with the 95% intervals; the ablation beside them.
    for (const p of ['prefill', 'decode']) {
      chart('bars-' + p, p[0].toUpperCase() + p.slice(1) + ': ' + Q.word + ' per stage, by method',
        (timing ? 'Host time' : 'Dynamic energy') + ' per ' + p + ' unit: calls per unit \u00d7 the per-call estimate, with its ' +
        Math.round((d.run.level || 0.95) * 100) + '% interval (black). ' + (p === 'decode' ? 'Decode rows replayed at several KV lengths are summed. ' : '') +
        'The ablation bar is the energy saved by leaving that stage out of the run. ' + sourceNote(d.stages.filter((s) => s.phase === p)), 420, () => {
          const rows = d.stages.filter((s) => s.phase === p && s.calls_per_unit > 0 && s[Q.key] !== null);
          if (!rows.length) return 'no stage estimates for ' + p;
          const stages = [...new Set(rows.map((s) => s.stage))];
          const methods = [...new Set(rows.map((s) => s.method))];
          const ab = !timing && p === 'decode' && d.extras.ablation && stages.includes(d.extras.ablation.stage) ? d.extras.ablation : null;
          const names = methods.concat(ab ? ['ablation'] : []);
          const k = names.length, series = [];
          names.forEach((m, i) => {
            const val = {}, lo = {}, hi = {};
            if (m === 'ablation') {
              val[ab.stage] = ab.saved_j; lo[ab.stage] = ab.saved_j_lo; hi[ab.stage] = ab.saved_j_hi;
            } else {
              for (const s of rows.filter((r) => r.method === m)) {
                val[s.stage] = (val[s.stage] || 0) + s.calls_per_unit * s[Q.key];
                lo[s.stage] = (lo[s.stage] || 0) + s.calls_per_unit * (s[Q.key + '_lo'] ?? s[Q.key]);
                hi[s.stage] = (hi[s.stage] || 0) + s.calls_per_unit * (s[Q.key + '_hi'] ?? s[Q.key]);
              }
            }
            series.push({ type: 'bar', name: m, color: METHOD_COLOR[m] || OI[i], data: stages.map((s) => (s in val ? val[s] : null)) });
            series.push(errorBars(m + ' interval', '#000', i, k, stages.filter((s) => s in val && lo[s] !== null).map((s) => [s, lo[s], hi[s]])));
          });
          return {
            tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => fmt(v, Q.unit) },
            legend: { data: names, top: 0 },
            grid: { left: 80, right: 20, top: 40, bottom: 60 },
            xAxis: { type: 'category', data: stages, name: 'stage', nameLocation: 'middle', nameGap: 32 },
            yAxis: { type: 'value', name: Q.word + ' per ' + p + ' (' + Q.unit + ')', axisLabel: { formatter: (v) => fmt(v, Q.unit) } },
            series,
          };
        });
    }

    // J/FLOP against J/byte: where each stage sits between compute- and memory-bound.
    chart('efficiency', 'Energy per FLOP against energy per byte', 'Each point: one stage in one phase (the reported method), its dynamic energy per call over its analytic FLOPs and compulsory bytes (docs/attribution.md). Memory-bound stages sit right and high on J/FLOP; both axes are logarithmic.', 460, () => {
      if (timing) return 'a timing-only run has no energy per FLOP or byte';
      const seen = new Set();
      const pts = d.stages.filter((s) => s.reported && s.j_per_flop > 0 && s.j_per_byte > 0 && !seen.has(s.phase + s.stage + s.method) && seen.add(s.phase + s.stage + s.method));
      if (!pts.length) return 'no stage has both FLOPs and bytes with an energy';
      const phases = [...new Set(pts.map((s) => s.phase))];
      return {
        tooltip: { formatter: (q) => esc(q.data.phase + ' ' + q.data.stage) + '<br>' + fmt(q.data.value[0], 'J') + '/byte, ' + fmt(q.data.value[1], 'J') + '/FLOP<br>' + (q.data.fpb === null ? '' : q.data.fpb.toPrecision(3) + ' FLOP/byte, ') + esc(q.data.bound || '') + '-bound' },
        legend: { top: 0 },
        grid: { left: 90, right: 40, top: 40, bottom: 60 },
        xAxis: { type: 'log', name: 'dynamic energy per byte (J/byte)', nameLocation: 'middle', nameGap: 32, axisLabel: { formatter: (v) => fmt(v, 'J') } },
        yAxis: { type: 'log', name: 'dynamic energy per FLOP (J/FLOP)', axisLabel: { formatter: (v) => fmt(v, 'J') } },
        series: phases.map((p) => ({ type: 'scatter', name: p, color: PHASE_COLOR[p], symbolSize: 11,
          labelLayout: { hideOverlap: true, moveOverlap: 'shiftY' },
          label: { show: true, position: 'right', formatter: (q) => q.data.stage, fontSize: 11 },
          data: pts.filter((s) => s.phase === p).map((s) => ({ value: [s.j_per_byte, s.j_per_flop], phase: s.phase, stage: s.stage, fpb: s.flops_per_byte, bound: s.bound })) })),
      };
    });
    // The attention-head fit: decode attention's energy per call with 1 .. n KV groups active, and the line.
    if (!timing && d.extras.head_fit) {
      const h = d.extras.head_fit;
      chart('head-fit', 'Decode attention: energy per call against KV groups', 'Each point: one replay trial of decode attention at KV ' + h.kv_len + ' with that many KV groups active (dynamic energy per call). The line: the fit fixed + per group \u00d7 groups (R\u00b2 ' + (h.r2 === null ? '-' : h.r2.toFixed(4)) + '); its value at 0 groups is the part that does not depend on the heads.', 400, () => {
        const pts = (h.points || []).filter((q) => q[1] !== null);
        if (!pts.length || h.fixed_j === null || h.per_group_j === null) return 'the fit has no measured points';
        const n = h.n_kv_heads || Math.max(...pts.map((q) => q[0]));
        const line = (a, b) => [[0, a], [n, a + b * n]];
        return {
          tooltip: { trigger: 'item', formatter: (q) => esc(q.seriesName) + ': ' + q.value[0] + ' groups, ' + fmt(q.value[1], 'J') + ' per call' },
          legend: { top: 0 },
          grid: { left: 90, right: 40, top: 40, bottom: 60 },
          xAxis: { type: 'value', name: 'KV groups active', nameLocation: 'middle', nameGap: 30, min: 0, max: n, interval: 1 },
          yAxis: { type: 'value', name: 'dynamic energy per call (J)', min: 0, axisLabel: { formatter: (v) => fmt(v, 'J') } },
          series: [
            { type: 'scatter', name: 'measured', color: OI[0], symbolSize: 9, data: pts },
            { type: 'line', name: 'fit: ' + fmt(h.fixed_j, 'J') + ' + ' + fmt(h.per_group_j, 'J') + ' \u00d7 groups', color: OI[1], showSymbol: false, data: line(h.fixed_j, h.per_group_j) },
          ],
        };
      });
    }
    finish();
  }

  function table(head, rows) {
    const t = el('table', {});
    t.append(el('tr', {}, ...head.map((h) => el('th', {}, h))));
    for (const r of rows) t.append(el('tr', {}, ...r.map((c) => el('td', {}, c))));
    return t;
  }

  function summary(d, timing) {
    const g = d.gpu, m = d.model, w = d.workload;
    const box = el('section', { class: 'summary', id: 'sec-summary' }, el('h2', {}, 'Summary'));
    const facts = [
      ['model', (m.name || m.model) + (m.params ? ' (' + (m.params / 1e9).toFixed(2) + ' B parameters, ' + m.n_layers + ' layers)' : '') + (m.weights_random ? ', random weights' : '')],
      ['workload', w.engine + ' engine' + (w.fusion && w.fusion !== 'none' ? ' (fusion ' + w.fusion + ')' : '') + (w.gemv && w.gemv !== 'defaults' ? ' (gemv ' + w.gemv + ')' : '') + ', ' + (w.weights || 'bf16') + ' weights, batch ' + w.batch + ', prompt ' + w.prompt_len + ' tokens, ' + w.gen_len + ' generated (' + w.prompt_source + ')'],
      ['GPU', g.name ? g.name + ', driver ' + g.driver + (g.cuda_driver ? ', CUDA ' + g.cuda_driver : '') : 'none (timing only)'],
      ['conditions', timing ? 'no power source' : 'idle ' + fmt(g.idle_w, 'W') + ' (' + g.idle_method + '), ' + fmt(g.temperature_min_c, '\u00b0C') + ' to ' + fmt(g.temperature_max_c, '\u00b0C') +
        ', SM ' + fmt(g.sm_clock_min_mhz, 'MHz') + ' to ' + fmt(g.sm_clock_max_mhz, 'MHz') + ', limit ' + fmt(g.power_limit_w, 'W') + ', throttle: ' + (g.throttle || 'none')],
      ['repeats', w.repeats + ' windows per phase, ' + w.trials + ' replay trials per stage; intervals at ' + Math.round((d.run.level || 0.95) * 100) + '%'],
    ];
    box.append(table(['', ''], facts));
    const rows = d.phases.map((p) => timing
      ? [p.phase, fmt(p.time_s, 's'), p.tokens_per_unit || '-', p.tokens_per_unit && p.time_s ? fmt(p.tokens_per_unit / p.time_s, 'tokens/s') : '-']
      : [p.phase, fmt(p.time_s, 's'), fmt(p.gross_j, 'J'), fmt(p.dynamic_j, 'J'), fmt(p.gross_j_per_token, 'J'), fmt(p.dynamic_j_per_token, 'J'),
         p.tokens_per_gross_j === null ? '-' : p.tokens_per_gross_j.toPrecision(4), p.tokens_per_dynamic_j === null ? '-' : p.tokens_per_dynamic_j.toPrecision(4),
         fmt(p.mean_w, 'W'), fmt(p.peak_w, 'W')]);
    box.append(el('h3', {}, 'Phases (per unit: one prefill of the batch, one generation, ...)'));
    box.append(table(timing ? ['phase', 'time', 'tokens', 'tokens/s'] :
      ['phase', 'time', 'gross', 'above idle', 'J/token gross', 'J/token above idle', 'tokens/J gross', 'tokens/J above idle', 'mean power', 'peak power'], rows));
    if (d.per_gpu && d.per_gpu.length) {
      box.append(el('h3', {}, 'Per GPU (tensor-parallel degree ' + w.tp_degree + '; per unit)'));
      box.append(table(['phase', 'GPU', 'gross', 'above idle', 'J/token gross', 'J/token above idle', 'share of gross'],
        d.per_gpu.map((g) => [g.phase, g.rank < 0 ? 'sum' : String(g.rank), fmt(g.gross_j, 'J'), fmt(g.dynamic_j, 'J'),
          fmt(g.gross_j_per_token, 'J'), fmt(g.dynamic_j_per_token, 'J'), g.share_gross === null ? '-' : (g.share_gross * 100).toFixed(1) + '%'])));
    }
    // Tensor parallelism: what the all-reduce stages cost per token (a degree-1 run has none).
    const comm = (d.groups || []).filter((x) => x.group === 'communication');
    if (comm.length) {
      box.append(el('h3', {}, 'Communication (the all-reduce stages, per token)'));
      box.append(table(timing ? ['phase', 'time/token'] : ['phase', 'J/token above idle', 'time/token', 'share of the stages'],
        comm.map((x) => timing ? [x.phase, fmt(x.time_s_per_token, 's')]
          : [x.phase, fmt(x.dynamic_j_per_token, 'J'), fmt(x.time_s_per_token, 's'), pct(x.share_dynamic)])));
    }
    if (d.closures.length) {
      box.append(el('h3', {}, 'Closures: do the stages add up to the measured phase?'));
      box.append(table(['phase', 'method', 'stages sum to', 'measured', 'error', Math.round((d.run.level || 0.95) * 100) + '% interval (trials)', 'with the budget', 'verdict'],
        d.closures.map((c) => [c.phase + (c.reported ? '' : ' (not reported)'), c.method, fmt(c.predicted_dynamic_j, 'J'), fmt(c.measured_dynamic_j, 'J'),
          signedPct(c.error_pct), '[' + signedPct(c.error_lo_pct) + ', ' + signedPct(c.error_hi_pct) + ']',
          '[' + signedPct(c.judged_lo_pct) + ', ' + signedPct(c.judged_hi_pct) + ']', c.verdict || '-'])));
      box.append(el('p', { class: 'note' }, 'Measured: whole phase windows (\u2265 2 s, after a pre-roll of the same work) by the driver\'s power samples where every window is under 10 s, else by the energy counter. ' +
        'isolation: each stage replayed alone; sequence: the layer\'s stages replayed as growing prefixes (differences). ' +
        'Dynamic energy = gross \u2212 idle baseline \u00d7 time. PASS: the whole interval of the error within \u00b15% (with the uncertainty budget where the run has one, below); MISS: the whole interval outside; INCONCLUSIVE: the interval across the bound.'));
    }
    const x = d.extras;
    if (x.ablation || x.head_fit) {
      const r = [];
      if (x.ablation) r.push(['ablation', 'leaving ' + x.ablation.stage + ' out saved ' + fmt(x.ablation.saved_j, 'J') + ' [' + fmt(x.ablation.saved_j_lo, 'J') + ', ' + fmt(x.ablation.saved_j_hi, 'J') + '] per run; the replay predicts ' + fmt(x.ablation.replay_j, 'J') + ' (' + signedPct(x.ablation.agreement_pct) + ')' +
        (x.ablation.source === 'samples' ? '; from the power samples, by the counter ' + fmt(x.ablation.counter_saved_j, 'J') + (x.ablation.sources_disagree ? ' (outside the interval: sources disagree)' : '') : '')]);
      if (x.head_fit) r.push(['attention-head fit', 'at KV ' + x.head_fit.kv_len + ': ' + fmt(x.head_fit.fixed_j, 'J') + ' fixed + ' + fmt(x.head_fit.per_group_j, 'J') + ' per KV group (' + fmt(x.head_fit.per_head_j, 'J') + ' per query head), fixed share ' + pct(x.head_fit.fixed_share) + ', R\u00b2 ' + (x.head_fit.r2 === null ? '-' : x.head_fit.r2.toFixed(4)) +
        (x.head_fit.source === 'samples' ? '; from the power samples, by the counter ' + fmt(x.head_fit.counter_per_group_j, 'J') + ' per KV group (R\u00b2 ' + (x.head_fit.counter_r2 === null ? '-' : x.head_fit.counter_r2.toFixed(2)) + ')' + (x.head_fit.sources_disagree ? ', outside the interval: sources disagree' : '') : '')]);
      box.append(el('h3', {}, 'Checks'));
      box.append(table(['', ''], r));
    }
    if (x.head_grid && x.head_grid.fits && x.head_grid.fits.length) {
      // The attention-head grid: each fit with its lack-of-fit verdict; the per-head cost only where it holds.
      const g = x.head_grid, unit = (f) => (f.quantity === 'time_s' ? 's' : 'J');
      const iv = (f, k) => fmt(f[k], unit(f)) + ' [' + fmt(f[k + '_lo'], unit(f)) + ', ' + fmt(f[k + '_hi'], unit(f)) + ']';
      const sci = (v) => (v === null ? '-' : v.toExponential(3));
      box.append(el('h3', {}, 'Attention heads: fixed + per KV group + per byte of K and V, where the fit holds'));
      box.append(table(['fit', 'trials (points)', 'fixed', 'per KV group', 'per byte', 'R\u00b2', 'lack of fit', 'verdict', 'per query head (smallest / largest cell)'],
        g.fits.map((f) => [(f.batch ? 'batch ' + f.batch : 'all batches') + ', ' + (f.quantity === 'time_s' ? 'time' : 'energy'), f.n_obs + ' (' + f.n_points + ')',
          iv(f, 'fixed'), iv(f, 'per_group'), sci(f.per_byte) + ' ' + unit(f) + '/B [' + sci(f.per_byte_lo) + ', ' + sci(f.per_byte_hi) + ']',
          f.r2 === null ? '-' : f.r2.toFixed(4), f.lof_p === null ? 'not testable' : 'F ' + (f.lof_f === null ? '\u221e' : f.lof_f.toFixed(2)) + ', p ' + sci(f.lof_p),
          f.holds === 1 ? 'holds' : f.holds === 0 ? 'does not hold' : 'not testable',
          f.holds === 1 ? iv(f, 'per_head_small') + ' at ' + f.small_batch + ' \u00d7 ' + f.small_kv + ' / ' + iv(f, 'per_head_large') + ' at ' + f.large_batch + ' \u00d7 ' + f.large_kv : 'fit does not hold: no per-head cost'])));
      box.append(el('p', { class: 'note' }, 'Decode attention replayed alone on K and V of its own at ' + g.n_points + ' points (batch \u00d7 KV length \u00d7 active KV groups), replicate trials in one random order. ' +
        'The fit holds while the lack-of-fit test (its replicates\u2019 spread against the model\u2019s misses) gives p \u2265 0.05; a per-head cost is shown only then. ' +
        (g.skipped.length ? 'Skipped: ' + g.skipped.map((p) => 'batch ' + p.batch + ' \u00d7 KV ' + p.kv_len + ' \u00d7 ' + p.groups + ' groups (' + p.skipped + ')').join('; ') + '.' : '')));
    }
    if (x.shapley && x.shapley.length) {
      box.append(el('h3', {}, 'Shapley split of the layer: do the stage values add up to the whole layer?'));
      box.append(table(['phase', 'whole layer', '\u03a3 isolation', 'interaction', '\u03a3 (layer \u2212 without i)', '\u03a3 Shapley', 'residual', 'orders', 'verdict', 'headline'],
        x.shapley.map((c) => [c.phase, fmt(c.full_j, 'J'), fmt(c.sum_isolation_j, 'J'), fmt(c.interaction_j, 'J'), fmt(c.sum_marginal_j, 'J'), fmt(c.sum_shapley_j, 'J'),
          signedPct(c.residual_pct) + ' [' + signedPct(c.residual_lo_pct) + ', ' + signedPct(c.residual_hi_pct) + ']', signedPct(c.order_spread_pct), c.verdict || '-', c.headline])));
      box.append(el('p', { class: 'note' }, 'Per layer call, dynamic energy. Shapley value of a stage = (isolation + (whole layer \u2212 layer without it)) / 2, exact when stages interact at most in pairs; ' +
        'the interaction row (whole \u2212 \u03a3 isolation) is the energy no stage has alone. A k-stage interaction c leaves a residual of (k/2 \u2212 1) c. ' +
        'orders: the largest change of the whole layer replayed in another stage order. PASS: the residual\'s whole interval within \u00b15%; MISS: the whole interval outside; INCONCLUSIVE: the interval across the bound. ' +
        'The headline method is Shapley where the check passes. ' + sourceNote(x.shapley.map((c) => Object.assign({ stage: 'additive check', method: c.phase }, c)))));
      if (x.shapley_per_gpu && x.shapley_per_gpu.length) {
        box.append(table(['phase', 'GPU', 'whole layer', '\u03a3 Shapley', 'residual (trials)', 'budget', 'judged', 'verdict'],
          x.shapley_per_gpu.map((c) => [c.phase, c.rank < 0 ? 'sum' : String(c.rank), fmt(c.full_j, 'J'), fmt(c.sum_shapley_j, 'J'),
            signedPct(c.residual_pct) + ' [' + signedPct(c.residual_lo_pct) + ', ' + signedPct(c.residual_hi_pct) + ']',
            c.budget_pct == null ? '-' : '\u00b1' + c.budget_pct.toFixed(1) + '%',
            '[' + signedPct(c.judged_lo_pct) + ', ' + signedPct(c.judged_hi_pct) + ']', c.verdict || '-'])));
        box.append(el('p', { class: 'note' }, 'Per GPU: each GPU\u2019s own split, from its own meter\u2019s reading of every round and its own idle, checked against its own whole layer; ' +
          'budget: the total of that GPU\u2019s own uncertainty budget (the sum\u2019s: the run\u2019s), in % of its layer; ' +
          'PASS: the residual \u00b1 its budget (judged) within \u00b15%. The sum is the run\u2019s split above.'));
      }
      const fitted = x.shapley.filter((c) => c.layer_windows > 0);
      if (fitted.length) {
        box.append(table(['phase', 'windows fitted', '\u03a3 \u03c6 (other windows) \u2212 layer', 'worst window (predicted \u2212 measured)', 'verdict', 'headline'],
          fitted.map((c) => [c.phase, String(c.layer_windows), signedPct(c.layer_residual_pct),
            c.layer_worst + ' ' + signedPct(c.layer_worst_pct) + ' [' + signedPct(c.layer_worst_lo_pct) + ', ' + signedPct(c.layer_worst_hi_pct) + ']',
            c.layer_verdict || '-', c.headline])));
        box.append(el('p', { class: 'note' }, 'The layer\u2019s own game (shapley_layer): the energy of any set of the layer\u2019s stages replayed back to back as a cycle = the sum of their costs + a cost per GEMM\u2192GEMM junction, ' +
          'fitted to every window of the rounds (the whole layer, the prefixes, the layer without each stage, the other orders); its Shapley values need no isolation. ' +
          'PASS: every window, as the fit to the other windows predicts it, has its whole interval within \u00b15% of the layer (a window no other predicts is not judged, and then no PASS). The headline uses it where it passes, else the pairwise split where that passes, else sequence.'));
      }
    }
    if (x.known_answer && x.known_answer.length) {
      box.append(el('h3', {}, 'Known answer: does each method recover a calibration stage of known energy?'));
      box.append(table(['phase', 'method', 'copy', 'alone (answer)', 'estimate', 'error', 'within 10%'],
        x.known_answer.map((k) => [k.phase, k.method, Math.round(k.bytes / 1048576) + ' MiB', fmt(k.truth_j, 'J'), fmt(k.estimate_j, 'J'),
          signedPct(k.error_pct) + ' [' + signedPct(k.error_lo_pct) + ', ' + signedPct(k.error_hi_pct) + ']', k.verdict === 'MISS' ? 'MISS: unreliable at this size' : (k.verdict || (k.reliable ? 'yes' : 'no: unreliable at this size'))])));
      const note = sourceNote(x.known_answer.map((k) => Object.assign({ stage: k.phase + ' copy' }, k)));
      if (note) box.append(el('p', { class: 'note' }, note));
    }
    if (x.ablations && x.ablations.length) {
      box.append(el('h3', {}, 'Ablations: energy saved without a stage group, against each method'));
      box.append(table(['phase', 'skipped', 'method', 'saved per unit', 'estimate', 'agreement', 'within 10%'],
        x.ablations.map((a) => [a.phase, a.skipped, a.method, fmt(a.saved_j, 'J'), fmt(a.estimate_j, 'J'), signedPct(a.agreement_pct),
          a.verdict || (a.agreement_pct !== null && Math.abs(a.agreement_pct) <= 10 ? 'yes' : 'no')])));
      const note = sourceNote(x.ablations.map((a) => Object.assign({ stage: a.phase + ' without ' + a.skipped }, a)));
      if (note) box.append(el('p', { class: 'note' }, note));
      if (x.ablations.some((a) => a.power_cap)) box.append(el('p', { class: 'note' }, 'Power cap: the pairs of ' + x.ablations.filter((a) => a.power_cap).map((a) => a.phase + ' ' + a.skipped + ' (' + a.method + ')').join(', ') +
        ' hold a window at the power limit (mean power \u2265 98% of it, or a power-cap reason): the windows below say which.'));
    }
    if (x.ablation_windows && x.ablation_windows.length) {
      const w = x.ablation_windows;
      const ms = (v) => v === null ? '-' : (v * 1e3).toFixed(3) + ' ms';
      const temp = (a) => (a.temperature_start_c === null ? '-' : a.temperature_start_c.toFixed(0)) + '\u2192' + (a.temperature_end_c === null ? '-' : a.temperature_end_c.toFixed(0)) + ' \u00b0C';
      box.append(el('h3', {}, 'Ablation windows: each full and skipped window in the order it ran'));
      box.append(table(['phase', 'window', 'skipped', 'pair', 'units', 'time per unit', 'dynamic per unit', 'by the counter', 'mean power', 'peak', 'temperature', 'at the cap'],
        w.map((a) => [a.phase, String(a.seq), a.skipped, a.pair < 0 ? '-' : String(a.pair), String(a.units), ms(a.time_per_unit_s), fmt(a.dynamic_j, 'J'), fmt(a.counter_dynamic_j, 'J'),
          a.mean_power_w === null ? '-' : a.mean_power_w.toFixed(1) + ' W', a.peak_power_w === null ? '-' : a.peak_power_w.toFixed(1) + ' W', temp(a), a.at_cap ? 'yes' : '-'])));
      box.append(el('p', { class: 'note' }, 'A skipped window\u2019s pair is it and the full windows just before and after it: the saving of a pair is the mean of those two less it. ' +
        'Dynamic per unit: the power samples\u2019 where they stand for the window, else the counter\u2019s; mean and peak power are gross. At the cap: the window\u2019s mean power \u2265 98% of the limit, or a power-cap reason read inside it.'));
    }
    if (x.layer_skips && x.layer_skips.length) {
      box.append(el('h3', {}, 'Layer skips: energy saved without one decoder layer, against its replay'));
      box.append(table(['phase', 'skipped layer', 'saved per unit', 'estimate', 'agreement', Math.round((d.run.level || 0.95) * 100) + '% interval', 'verdict'],
        x.layer_skips.map((s) => [s.phase, s.layer + (s.includes_head_change ? (s.head_change_j !== null ? ' (last: estimate + head change ' + fmt(s.head_change_j, 'J') + ')' : ' (last: head changes too)') : ''), fmt(s.saved_j, 'J'), fmt(s.estimate_j, 'J'), signedPct(s.agreement_pct),
          '[' + signedPct(s.agreement_lo_pct) + ', ' + signedPct(s.agreement_hi_pct) + ']', s.verdict || '-'])));
      box.append(el('p', { class: 'note' }, 'Saved: per skipped window, the mean of the full windows run just before and after it less it; the interval over these pairs. ' +
        'PASS: the whole interval of the agreement within \u00b110%; MISS: the whole interval outside; INCONCLUSIVE: the interval across the bound (more rounds decide). ' +
        'Skipping the last layer also changes the input of the final norm and the LM head, whose power depends on its operands: its saving is not that layer\'s energy alone. Its estimate adds the head\'s change (the final norm and LM head replayed on that layer\'s input less on their own); a row without it never passes.'));
    }
    if (x.budgets && x.budgets.length) {
      // one table per phase: each figure's and check's terms, J and % of the estimate, and the basis
      const term = (b, t) => !b[t + '_basis'] || b[t + '_basis'] === 'not measured' || b[t + '_j'] === null ? 'not measured'
        : fmt(b[t + '_j'], 'J') + ' (' + (Math.abs(b[t + '_j'] / b.reference_j) * 100).toFixed(2) + '%, ' + b[t + '_basis'] + ')';
      const name = (b) => b.kind === 'phase' ? 'phase (per unit)' : b.kind === 'j_per_token' ? 'J/token' : b.kind === 'shapley' ? 'Shapley residual'
        : b.kind === 'ablation' ? 'ablation ' + (b.stage === 'attn' ? 'attn' : 'mlp') + ', ' + b.method : b.kind.replace('_', ' ') + ', ' + b.method;
      for (const ph of ['prefill', 'decode']) {
        const rows = x.budgets.filter((b) => b.phase === ph);
        if (!rows.length) continue;
        box.append(el('h3', {}, 'Uncertainty budget, ' + ph + ': what each interval is made of'));
        box.append(table(['estimate', 'value', 'trial spread', 'idle', 'edges', 'card to card', 'counter vs samples', 'total', 'largest'],
          rows.map((b) => [name(b), fmt(b.value_j, 'J'), term(b, 'trial'), term(b, 'idle'), term(b, 'edge'), term(b, 'card'), term(b, 'source'),
            fmt(b.total_j, 'J') + (b.total_pct === null ? '' : ' (' + b.total_pct.toFixed(2) + '%)'), b.largest || '-'])));
      }
      box.append(el('p', { class: 'note' }, 'Half-widths at the run\'s level. trial spread: the trials\' Student-t interval (measured); idle: the idle curve\'s standard errors (measured) or the flat idle\'s spread and its missing temperature dependence (bound) over the estimate\'s time; ' +
        'edges: what a window\'s edges misplace that the randomised offsets do not average out (bound); card to card: not measured in one run, kept out of every verdict; ' +
        'counter vs samples (the phase and J/token, and a closure whose phase and stages took different sources: see the notes): the mean offset between the energy counter and the power samples over the same windows (measured): neither is the truth, and the chosen source\'s spread does not show it. ' +
        'total: the measured and bound terms in quadrature. Every PASS above judges the check\'s error \u00b1 this total.'));
    }
    if (d.run.notes) box.append(el('p', { class: 'note' }, 'Notes: ', d.run.notes));
    root.append(box);
  }

  function findings(d) {
    if (!d.findings.length) return;
    const ul = el('ul', { class: 'findings' });
    for (const f of d.findings) ul.append(el('li', { class: 'level' + f.level, title: 'rule: ' + f.rule }, f.text));
    root.append(el('section', { class: 'findings', id: 'sec-findings' }, el('h2', {}, 'Findings'), ul));
  }

  // ------------------------------------------------------------------ a study (llamajoule sweep)

  // The study's points (every status, with the reasons) and, per phase, J/token, tokens/J,
  // J per billion parameters per token and time per token against batch: one line per
  // model and prompt length.
  function studySection(study, runs) {
    status.study = { knee_marks: 0, best_marks: 0, findings: 0, reference_rows: 0 };
    if (!only) {
      const rows = study.points.map((p) => [p.point, p.model, p.batch, p.prompt_len, p.gen_len, p.status + (p.stages ? ' (stages)' : ''),
        p.run_id === null ? '-' : p.run_id, p.seconds === null ? '-' : p.seconds.toFixed(1) + ' s', p.reason || '']);
      const done = study.points.filter((p) => p.status === 'done').length;
      root.append(el('section', { class: 'summary', id: 'sec-study' }, el('h2', {}, 'Study: ', study.name),
        el('p', { class: 'note' }, done, ' of ', study.points.length, ' points done (', study.engine, ' engine): ', study.arguments),
        el('div', { class: 'points' }, table(['point', 'model', 'batch', 'prompt', 'gen', 'status', 'run', 'time', 'reason'], rows))));
    }
    // One line per model, weight format and prompt length: a bf16 and an FP8 sweep of one model stay apart.
    // Several study files (compare A.db B.db): each file's lines apart, named by the file.
    const an = study.analysis;
    const several = an && new Set(an.lines.map((l) => l.file)).size > 1;
    const fileName = (file) => (several ? ' ' + file.replace(/.*\//, '') : '');
    const runLine = (r) => r.model.name + ' ' + (r.workload.weights || 'bf16') + (r.workload.fusion && r.workload.fusion !== 'none' ? ' fused' : '') + (r.workload.gemv && r.workload.gemv !== 'defaults' ? ' ' + r.workload.gemv : '') + ' p' + r.workload.prompt_len + fileName(r.run.file);
    const lines = [...new Set(runs.map(runLine))];
    const perToken = (ph, r, f) => { const x = r.phases.find((q) => q.phase === ph); const v = x ? f(x, r) : null; return v !== null && v !== undefined && isFinite(v) ? v : null; };
    const figures = [
      ['j-per-token', 'dynamic J/token', 'J', (x) => x.dynamic_j_per_token],
      ['tokens-per-j', 'tokens per J', 'tokens/J', (x) => x.tokens_per_dynamic_j],
      ['j-per-bparam', 'J per billion parameters per token', 'J', (x, r) => (r.model.params && x.dynamic_j_per_token !== null ? x.dynamic_j_per_token / (r.model.params / 1e9) : null)],
      ['s-per-token', 'time per token', 's', (x) => (x.time_s !== null && x.tokens_per_unit ? x.time_s / x.tokens_per_unit : null)],
    ];
    if (an) studyAnalysisTables(an, fileName);
    // The knee and the best batch under the bound, marked on decode J/token (study_analysis.h has the rules):
    // the analysis's line of the chart line's file, model, weights and prompt length.
    const lineOf = (name) => {
      const r = runs.find((q) => runLine(q) === name);
      return an && r ? an.lines.find((l) => l.file === r.run.file && l.model === r.model.name && (l.weights || 'bf16') === (r.workload.weights || 'bf16') && l.prompt_len === r.workload.prompt_len) : null;
    };
    const jAt = (l, b) => { const p = l.points.find((q) => q.batch === b); return p ? p.j_per_token : null; };
    const marks = (name) => {
      const l = lineOf(name);
      if (!l) return {};
      const pts = [];
      if (l.knee_batch !== null && jAt(l, l.knee_batch) !== null) pts.push({ name: 'knee', coord: [l.knee_batch, jAt(l, l.knee_batch)], value: 'knee' });
      if (l.best_batch !== null && jAt(l, l.best_batch) !== null) pts.push({ name: 'best', coord: [l.best_batch, jAt(l, l.best_batch)], value: 'best' });
      status.study.knee_marks += pts.filter((p) => p.name === 'knee').length;
      status.study.best_marks += pts.filter((p) => p.name === 'best').length;
      return { markPoint: { symbol: 'pin', symbolSize: 44, label: { fontSize: 10 }, data: pts },
        markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed' }, label: { formatter: 'knee' },
          data: l.knee_batch !== null ? [{ xAxis: l.knee_batch }] : [] } };
    };
    for (const ph of ['prefill', 'decode']) {
      for (const [key, title, unit, f] of figures) {
        chart('study-' + ph + '-' + key, ph + ': ' + title + ' against batch', 'Each done point of the study; one line per model and prompt length; both axes logarithmic.', 340, () => {
          if (new Set(runs.map((r) => r.workload.batch)).size < 2) return 'the done points do not span batch';
          if (!runs.some((r) => perToken(ph, r, f) > 0)) return 'no done point has this figure (timing-only runs have no energy)';
          return { tooltip: { trigger: 'item', formatter: (q) => esc(q.seriesName) + ': batch ' + q.value[0] + ', ' + fmt(q.value[1], unit) }, legend: { top: 0 },
            grid: { left: 90, right: 20, top: 40, bottom: 50 },
            xAxis: { type: 'log', logBase: 2, name: 'batch', nameLocation: 'middle', nameGap: 28 },
            // log: decode J/token spans two to three decades from batch 1 to 256
            yAxis: { type: 'log', name: title + ' (' + unit + ')', axisLabel: { formatter: (v) => fmt(v, unit) } },
            series: lines.map((m, i) => Object.assign({ type: 'line', name: m, color: OI[i % 8], symbolSize: 8,
              data: runs.filter((r) => runLine(r) === m && perToken(ph, r, f) > 0)
                .map((r) => [r.workload.batch, perToken(ph, r, f)]).sort((a, b) => a[0] - b[0]) },
              ph === 'decode' && key === 'j-per-token' ? marks(m) : {})) };
        });
      }
    }
    if (!an) return;
    chart('study-decode-step', 'decode: step time against batch, with the latency bound',
      'One decode step: one token for every sequence of the batch. The dashed line is the bound (--latency-ms ' + an.latency_ms + '); the pin marks the best batch within it.', 340, () => {
        const ls = an.lines.filter((l) => l.points.some((p) => p.step_ms !== null));
        if (!ls.length) return 'no done point has a decode step time';
        return { tooltip: { trigger: 'item', formatter: (q) => esc(q.seriesName) + ': batch ' + q.value[0] + ', ' + fmt(q.value[1] / 1e3, 's') + ' per step' }, legend: { top: 0 },
          grid: { left: 90, right: 60, top: 40, bottom: 50 },
          xAxis: { type: 'log', logBase: 2, name: 'batch', nameLocation: 'middle', nameGap: 28 },
          yAxis: { type: 'value', name: 'decode step (ms)' },
          series: ls.map((l, i) => ({ type: 'line', name: l.model + ' ' + (l.weights || 'bf16') + ' p' + l.prompt_len + ' g' + l.gen_len + fileName(l.file), color: OI[i % 8], symbolSize: 8,
            data: l.points.filter((p) => p.step_ms !== null).map((p) => [p.batch, p.step_ms]),
            markLine: i ? undefined : { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: OI[5] }, label: { formatter: 'bound ' + an.latency_ms + ' ms' }, data: [{ yAxis: an.latency_ms }] },
            markPoint: l.best_batch === null ? undefined : { symbol: 'pin', symbolSize: 44, label: { fontSize: 10 },
              data: [{ name: 'best', value: 'best', coord: [l.best_batch, l.points.find((p) => p.batch === l.best_batch).step_ms] }] } })) };
      });
    // Stage-group shares of the points with per-stage estimates (sweep --stages), against size and context.
    for (const [key, axis, get] of [['study-shares-size', 'model size (billion parameters)', (x) => x.params_b], ['study-shares-context', 'prompt length (tokens)', (x) => x.prompt_len]]) {
      chart(key, 'decode: attention, MLP and LM-head shares against ' + axis.replace(/ \(.*/, ''),
        'Share of decode\'s replayed dynamic energy by stage group, for the points measured with --stages (one point per model, batch and prompt length).', 340, () => {
          const pts = an.shares.filter((x) => x.phase === 'decode' && get(x) !== null);
          if (!pts.length) return 'no done point has per-stage estimates (sweep --stages)';
          return { tooltip: { trigger: 'item', formatter: (q) => esc(q.seriesName) + ': ' + esc(q.data.label) + ', ' + (q.value[1] * 100).toFixed(1) + '%' }, legend: { top: 0 },
            grid: { left: 70, right: 20, top: 40, bottom: 50 },
            xAxis: { type: 'value', name: axis, nameLocation: 'middle', nameGap: 28, scale: true },
            yAxis: { type: 'value', name: 'share (%)', min: 0, max: 1, axisLabel: { formatter: (v) => Math.round(v * 100) + '%' } },
            series: [['attention', 'attention'], ['mlp', 'MLP'], ['lm_head', 'LM head']].map(([k, name]) => ({ type: 'scatter', name, color: GROUP_COLOR[name], symbolSize: 10,
              data: pts.filter((x) => x[k] !== null).map((x) => ({ value: [get(x), x[k]], label: x.model + ' b' + x.batch + ' p' + x.prompt_len })) })) };
        });
    }
  }

  // The study's findings, its best batch and knee per line, and ML.ENERGY's figures beside ours.
  function studyAnalysisTables(an, fileName) {
    status.study.findings = an.findings.length;
    status.study.reference_rows = an.reference.points.length;
    if (only) return;
    const box = el('section', { class: 'summary', id: 'sec-study-analysis' }, el('h2', {}, 'Study: analysis'));
    if (an.findings.length) {
      const ul = el('ul', { class: 'findings' });
      for (const f of an.findings) ul.append(el('li', { class: 'level' + f.level, title: 'rule: ' + f.rule }, f.text));
      box.append(el('h3', {}, 'Findings'), ul);
    }
    box.append(el('h3', {}, 'Best batch under ' + an.latency_ms + ' ms per decode step, and the knee'));
    box.append(table(['model', 'weights', 'prompt', 'gen', 'parameters', 'best batch', 'knee', 'from the knee to the next batch'], an.lines.map((l) => {
      const best = l.best_batch !== null ? String(l.best_batch)
        : 'none meets it' + (l.fastest_batch !== null ? ' (fastest: batch ' + l.fastest_batch + ')' : '');
      const knee = l.knee_batch !== null ? String(l.knee_batch) : 'none up to batch ' + (l.points.length ? l.points[l.points.length - 1].batch : '-');
      const why = l.knee_batch === null ? '-' : 'to batch ' + l.knee_next + ': J/token ' + signedPct(-l.knee_fall_pct) + ', step ' + signedPct(l.knee_growth_pct) + ' per doubling (' + (l.knee_rule === 'fall' ? 'J/token rule' : 'step-time rule') + ')';
      return [l.model + fileName(l.file), l.weights || 'bf16', l.prompt_len, l.gen_len, l.params_b === null ? '-' : l.params_b.toFixed(2) + ' B', best, knee, why];
    })));
    box.append(el('p', { class: 'note' }, 'Rules: ', an.rules.knee, '; ', an.rules.best, '.'));
    box.append(el('h3', {}, 'Beside ML.ENERGY v3'));
    const ref = an.reference;
    if (ref.points.length) {
      box.append(table(['model', 'prompt', 'gen', 'batch', 'GPU', 'ours (J/token, gross)', 'theirs', 'difference', 'ours'], ref.points.map((p) => [
        p.model, p.prompt_len, p.gen_len, p.batch, p.gpu, fmt(p.ours_j_per_token, 'J'), fmt(p.theirs_j_per_token, 'J') + (p.tolerance ? ' \u00b1' + Math.round(p.tolerance * 100) + '%' : ''),
        signedPct(p.diff_pct), p.at_or_below ? 'at or below theirs' : 'above theirs'])));
    } else {
      box.append(el('p', { class: 'note' }, 'No done point matches theirs (Llama 3.1 8B at batch 8, 16, 64 or 256 on an H100).'));
    }
    box.append(el('p', { class: 'note' }, ref.source, '. ', ref.conditions, '.'));
    root.append(box);
  }

  // ------------------------------------------------------------------ compare: runs side by side

  function comparePage() {
    const d = JSON.parse(document.getElementById('lj-data').textContent);
    const runs = d.runs;
    const label = (r, i) => (i + 1) + ': ' + (r.model.name || r.model.model) + ' b' + r.workload.batch + ' p' + r.workload.prompt_len + ' g' + r.workload.gen_len + (r.gpu.name ? ' ' + r.gpu.name.replace('NVIDIA ', '') : '');
    const labels = runs.map(label);
    if (!only) {
      root.append(el('h1', {}, 'llamajoule: ', runs.length, ' runs compared'));
      const rows = runs.map((r, i) => {
        const dec = r.phases.find((p) => p.phase === 'decode') || {}, pre = r.phases.find((p) => p.phase === 'prefill') || {};
        return [labels[i], r.run.file + ' run ' + r.run.id, fmt(pre.dynamic_j_per_token, 'J'), fmt(dec.dynamic_j_per_token, 'J'),
          dec.tokens_per_dynamic_j ? dec.tokens_per_dynamic_j.toPrecision(4) : '-', r.model.params ? fmt(dec.dynamic_j_per_token / (r.model.params / 1e9), 'J') : '-'];
      });
      const box = el('section', { class: 'summary', id: 'sec-summary' }, el('h2', {}, 'Runs'));
      box.append(table(['run', 'file', 'prefill J/token', 'decode J/token', 'decode tokens/J', 'decode J per B params per token'], rows));
      const partial = runs.filter((r) => r.run.missing).map((r) => labels[runs.indexOf(r)] + ': ' + r.run.missing);
      if (partial.length) root.append(el('div', { class: 'banner', role: 'alert' }, 'Incomplete runs: ', partial.join(' | ')));
      root.append(box);
    }
    if (d.study) studySection(d.study, runs);
    const metric = (key, title, unit, note, f) => chart(key, title, note, 380, () => {
      const series = ['prefill', 'decode'].map((p, i) => ({ type: 'bar', name: p, color: OI[i],
        data: runs.map((r) => { const ph = r.phases.find((x) => x.phase === p); const v = ph ? f(ph, r) : null; return v !== null && isFinite(v) ? v : null; }) }));
      if (!series.some((s) => s.data.some((v) => v !== null))) return 'no run has this figure (timing-only runs have no energy)';
      return { tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => fmt(v, unit) }, legend: { top: 0 },
        grid: { left: 90, right: 20, top: 40, bottom: 90 },
        xAxis: { type: 'category', data: labels, axisLabel: { interval: 0, rotate: labels.length > 3 ? 20 : 0, width: 160, overflow: 'break', lineHeight: 15 } },
        yAxis: { type: 'value', name: title + ' (' + unit + ')', axisLabel: { formatter: (v) => fmt(v, unit) } }, series };
    });
    metric('j-per-token', 'dynamic energy per token', 'J', 'Dynamic energy (above idle) per token, per phase.', (p) => p.dynamic_j_per_token);
    metric('tokens-per-j', 'tokens per joule', 'tokens/J', 'Tokens per joule of dynamic energy.', (p) => p.tokens_per_dynamic_j);
    metric('j-per-bparam', 'energy per billion parameters per token', 'J', 'Dynamic J per token divided by the model\'s parameters in billions: energy normalised for model size.', (p, r) => (r.model.params && p.dynamic_j_per_token !== null ? p.dynamic_j_per_token / (r.model.params / 1e9) : null));
    chart('group-shares', 'Decode: share of each stage group', 'Share of decode\'s replayed dynamic energy (or time, for timing-only runs) by stage group, from each run\'s reported method.', 380, () => {
      const groups = [...new Set(runs.flatMap((r) => r.groups.filter((g) => g.phase === 'decode').map((g) => g.group)))];
      if (!groups.length) return 'no run has decode stage estimates';
      return { tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => (v === null ? '-' : (v * 100).toFixed(1) + '%') },
        legend: { top: 0 }, grid: { left: 70, right: 20, top: 40, bottom: 90 },
        xAxis: { type: 'category', data: labels, axisLabel: { interval: 0, rotate: labels.length > 3 ? 20 : 0, width: 160, overflow: 'break', lineHeight: 15 } },
        yAxis: { type: 'value', name: 'share (%)', max: (v) => Math.max(1, v.max), axisLabel: { formatter: (v) => Math.round(v * 100) + '%' } },
        series: groups.map((g) => ({ type: 'bar', stack: 'share', name: GROUP_LABEL[g] || g, color: GROUP_COLOR[GROUP_LABEL[g]],
          data: runs.map((r) => { const x = r.groups.find((y) => y.phase === 'decode' && y.group === g); return x ? x.share_dynamic : null; }) })) };
    });
    for (const [key, axis, get] of [['vs-batch', 'batch', (r) => r.workload.batch], ['vs-context', 'prompt length (tokens)', (r) => r.workload.prompt_len]]) {
      chart(key, 'Decode J/token against ' + axis, 'Drawn where the runs span more than one value of ' + axis + '; one line per model.', 360, () => {
        const xs = new Set(runs.map(get));
        if (xs.size < 2) return 'the runs do not span ' + axis;
        const y = (r) => (r.phases.find((p) => p.phase === 'decode') || {}).dynamic_j_per_token ?? null;
        if (!runs.some((r) => y(r) !== null)) return 'no run has a decode J/token (timing-only runs have no energy)';
        const models = [...new Set(runs.map((r) => r.model.name))];
        return { tooltip: { trigger: 'item', formatter: (q) => esc(q.seriesName) + ': ' + axis + ' ' + q.value[0] + ', ' + fmt(q.value[1], 'J') + '/token' }, legend: { top: 0 },
          grid: { left: 90, right: 20, top: 40, bottom: 50 },
          xAxis: { type: 'value', name: axis, nameLocation: 'middle', nameGap: 28 }, yAxis: { type: 'value', name: 'decode J/token (J)', axisLabel: { formatter: (v) => fmt(v, 'J') } },
          series: models.map((m, i) => ({ type: 'line', name: m, color: OI[i % 8], symbolSize: 8,
            data: runs.filter((r) => r.model.name === m && y(r) !== null).map((r) => [get(r), y(r)]).sort((a, b) => a[0] - b[0]) })) };
      });
    }
    finish();
  }

  try {
    if (window.LJ_PAGE === 'compare') comparePage();
    else reportPage();
  } catch (e) {
    status.errors.push(e.message);
    root.append(el('div', { class: 'banner', role: 'alert' }, 'The page could not be drawn: ', e.message));
  }
  writeStatus();
})();
