// The renderer of the local dashboards: draws every visual of the page from its embedded rows. Kept small and
// dependency-free apart from plotly.js (one shared file beside the pages), so what a page shows is easy to audit.
// The rows come aggregated and ordered from Python (mmhealth.dashboards.frames); this file only draws them.
(function () {
  const PAGE = JSON.parse(document.getElementById('page-data').textContent);
  const SUP = '<' + PAGE.minCell;
  const ORDER = '_order';
  const isNull = (v) => v === null || v === undefined;
  // A NULL is shown as suppressed only where the model flagged the row; otherwise it is missing data.
  const masked = (v, f, rows, i) => {
    const flagged = !v.flag || !rows[v.flag] || rows[v.flag][i] === true;
    if (!flagged) return 'n/a';
    return f.suppression === 'count' ? SUP : 'suppressed';
  };

  // Numbers read as numbers: thousands separators, decimals by magnitude (38,572,408 rather than 38572408.200,
  // 141.5, 6.53, 0.123), ratios as percentages where the field says so.
  const EN = 'en-US';
  function fmt(v, f) {
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v !== 'number') return String(v);
    if (f && f.format === 'percent')
      return (v * 100).toLocaleString(EN, {minimumFractionDigits: 1, maximumFractionDigits: 1}) + '%';
    if (Number.isInteger(v)) return v.toLocaleString(EN);
    const a = Math.abs(v);
    if (a < 1) return v.toLocaleString(EN, {maximumSignificantDigits: 3});
    return v.toLocaleString(EN, {maximumFractionDigits: a >= 1000 ? 0 : a >= 100 ? 1 : 2});
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  }

  function table(el, v, rows) {
    const cols = v.columns;
    const n = rows && cols.length && rows[cols[0].column] ? rows[cols[0].column].length : 0;
    if (!n) { el.innerHTML = '<div class="empty">No rows.</div>'; return; }
    const record = n === 1 && cols.length > 4;  // one record (a patient): read it top to bottom
    const numeric = (c) => !record && (c.role === 'measure' || rows[c.column].some((x) => typeof x === 'number'));
    const cell = (c, i) => {
      const val = rows[c.column][i];
      const cls = numeric(c) ? ' class="num"' : '';
      if (isNull(val) && c.suppression && masked(v, c, rows, i) !== 'n/a')
        return '<td class="suppressed num">' + esc(masked(v, c, rows, i)) + '</td>';
      if (isNull(val)) return '<td' + cls + '>—</td>';
      return '<td' + cls + '>' + esc(fmt(val, c)) + '</td>';
    };
    if (record) {
      el.innerHTML = '<table class="record"><tbody>' +
        cols.map((c) => '<tr><th>' + esc(c.title) + '</th>' + cell(c, 0) + '</tr>').join('') + '</tbody></table>';
      return;
    }
    let h = '<table><thead><tr>' + cols.map((c) => '<th' + (numeric(c) ? ' class="num"' : '') + '>' + esc(c.title) +
      '</th>').join('') + '</tr></thead><tbody>';
    for (let i = 0; i < n; i++) h += '<tr>' + cols.map((c) => cell(c, i)).join('') + '</tr>';
    el.innerHTML = h + '</tbody></table>';
  }

  // Years (and months) on a time axis run continuously from the first to the last: a period without rows is
  // drawn (as zero for counts), it does not vanish from the axis.
  function periods(xs, granularity) {
    const have = xs.filter((x) => !isNull(x) && x !== 'unknown').map(String).sort();
    if (!have.length) return [];
    const out = [];
    if (granularity === 'YEAR') {
      for (let y = +have[0]; y <= +have[have.length - 1]; y++) out.push(String(y));
    } else {  // MONTH: YYYY-MM
      let [y, m] = have[0].split('-').map(Number);
      const [ly, lm] = have[have.length - 1].split('-').map(Number);
      while (y < ly || (y === ly && m <= lm)) {
        out.push(y + '-' + String(m).padStart(2, '0'));
        if (++m > 12) { m = 1; y++; }
      }
    }
    return out.concat(xs.map(String).filter((x) => !out.includes(x) && x !== 'null').filter((x, i, a) => a.indexOf(x) === i));
  }

  const ADDS_UP = ['SUM', 'COUNT', 'DISTINCT_COUNT'];

  function traces(v, rows) {
    const xs = rows[v.x.column] || [];
    const order = rows[ORDER] || [null, null];
    const continuous = v.x.role === 'date' && (v.x.granularity === 'YEAR' || v.x.granularity === 'MONTH');
    const categories = continuous ? periods(xs, v.x.granularity)
      : (order[0] && order[0].length ? order[0].map(String) : [...new Set(xs.map(String))]);
    const partial = new Set();
    if (v.partial && rows[v.partial]) xs.forEach((x, i) => { if (rows[v.partial][i] === true) partial.add(String(x)); });
    const out = [];
    const series = [];
    const hidden = {type: 'scatter', mode: 'markers', name: SUP + ' (suppressed)', x: [], y: [], text: [],
                    marker: {symbol: 'x', color: '#9f580a', size: 7}, hovertemplate: '%{x}: %{text}<extra></extra>'};
    if (v.color) {
      const present = [...new Set(rows[v.color.column])];
      const groups = order[1] && order[1].length ? order[1].filter((g) => present.includes(g)) : present;
      for (const g of groups) series.push({name: String(g), value: v.values[0], pick: (i) => rows[v.color.column][i] === g});
    } else {
      for (const val of v.values) series.push({name: val.title, value: val, pick: () => true});
    }
    for (const s of series) {
      const at = new Map();
      for (let i = 0; i < xs.length; i++) if (s.pick(i)) at.set(String(xs[i]), i);
      const x = [], y = [], text = [], symbols = [];
      for (const c of (continuous ? categories : categories.filter((c) => at.has(c)))) {
        const i = at.get(c);
        x.push(c);
        symbols.push(partial.has(c) ? 'circle-open' : 'circle');
        if (i === undefined) {  // a period without rows: nothing happened, so a count is 0; an average is a gap
          const zero = ADDS_UP.includes(s.value.aggregation);
          y.push(zero ? 0 : null); text.push(zero ? '0' : 'n/a');
          continue;
        }
        const val = rows[s.value.column][i];
        if (isNull(val)) { y.push(0); text.push(s.value.suppression ? masked(v, s.value, rows, i) : 'n/a'); }
        else { y.push(val); text.push(fmt(val, s.value) + (partial.has(c) ? ' (partial year)' : '')); }
      }
      const t = {name: s.name, x: x, y: y, text: text, hovertemplate: '%{x}: %{text}<extra>' + esc(s.name) + '</extra>'};
      if (v.kind === 'bar') {
        t.type = 'bar'; t.textposition = continuous ? 'none' : 'outside'; t.cliponaxis = false;
        t.texttemplate = '%{text}';
      } else {
        // Lines: a suppressed point is a gap in its line and a marker in one "<11 (suppressed)" series, so
        // long series stay readable and no suppressed point is drawn as a number.
        t.type = 'scatter'; t.mode = 'lines+markers'; t.marker = {symbol: symbols, size: 7};
        for (let j = 0; j < x.length; j++) {
          if (text[j] !== SUP && text[j] !== 'suppressed') continue;
          hidden.x.push(x[j]); hidden.y.push(0); hidden.text.push(s.name + ': ' + text[j]); t.y[j] = null;
        }
      }
      out.push(t);
    }
    if (hidden.x.length) out.push(hidden);
    return {traces: out, categories: categories, partial: categories.filter((c) => partial.has(c))};
  }

  function chart(el, v, rows) {
    const n = rows && v.x && rows[v.x.column] ? rows[v.x.column].length : 0;
    if (!n) { Plotly.purge(el); el.innerHTML = '<div class="empty">No data.</div>'; return; }
    if (el.querySelector('.empty')) el.innerHTML = '';
    const drawn = traces(v, rows);
    const day = v.x.role === 'date' && v.x.granularity === 'DAY';
    const percent = v.values.length > 0 && v.values.every((f) => f.format === 'percent');
    const layout = {margin: {t: 28, r: 12, b: 48, l: 64}, barmode: v.stacked ? 'stack' : 'group', showlegend: true,
                    bargap: 0.15, bargroupgap: 0.05,
                    separators: '.,',
                    xaxis: {title: {text: v.x.title}, type: day ? 'date' : 'category'},
                    yaxis: {title: {text: v.values.length === 1 ? v.values[0].title : ''}, rangemode: 'tozero',
                            tickformat: percent ? '.0%' : ',~r'},
                    legend: {orientation: 'h', y: -0.25}, shapes: [], annotations: []};
    if (!day) { layout.xaxis.categoryorder = 'array'; layout.xaxis.categoryarray = drawn.categories; }
    // A period the data cover only in part (the year they end in) is shaded and says so.
    for (const c of drawn.partial) {
      const i = drawn.categories.indexOf(c);
      layout.shapes.push({type: 'rect', xref: 'x', yref: 'paper', x0: i - 0.5, x1: i + 0.5, y0: 0, y1: 1,
                          fillcolor: 'rgba(98,125,152,0.15)', line: {width: 0}, layer: 'below'});
      layout.annotations.push({xref: 'x', yref: 'paper', x: i, y: 1, yanchor: 'bottom', showarrow: false,
                               text: 'partial year', font: {size: 11, color: '#486581'}});
    }
    Plotly.react(el, drawn.traces, layout, {displayModeBar: false, responsive: true});
  }

  function draw(data) {
    for (const v of PAGE.visuals) {
      const el = document.getElementById('v-' + v.id);
      const rows = data[v.id] || {};
      if (v.kind === 'table') table(el, v, rows); else chart(el, v, rows);
    }
  }

  if (!PAGE.patients) {
    draw(PAGE.data);
    document.body.dataset.rendered = 'true';
    return;
  }

  // ---- the patient page: a searchable selector; each patient's rows are a small script loaded on demand -------
  const LOADED = (window.MMH_PATIENT_DATA = window.MMH_PATIENT_DATA || {});
  const byKey = new Map(PAGE.patients.map((p) => [p.key, p]));
  const sel = document.getElementById('patient');
  const search = document.getElementById('patient-search');
  const count = document.getElementById('patient-count');
  let shown = PAGE.patients;
  let drawing = 0;

  function load(p) {
    if (LOADED[p.key]) return Promise.resolve(LOADED[p.key]);
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = p.file;
      s.onload = () => (LOADED[p.key] ? resolve(LOADED[p.key]) : reject(new Error(p.file + ' held no patient data')));
      s.onerror = () => reject(new Error('could not load ' + p.file + ' (rebuild the dashboards)'));
      document.head.appendChild(s);
    });
  }

  function show(key) {
    const p = byKey.get(key);
    const token = ++drawing;
    document.body.dataset.rendered = 'false';
    return load(p).then((data) => {
      if (token !== drawing) return;
      draw(data);
      document.body.dataset.patient = key;
      document.body.dataset.rendered = 'true';
    }).catch((e) => { window.mmhNoteError(e.message); document.body.dataset.rendered = 'true'; });
  }

  function options(list, selected) {
    sel.innerHTML = list.map((p) => '<option value="' + esc(p.key) + '"' + (p.key === selected ? ' selected' : '') +
      '>' + esc(p.label) + '</option>').join('');
    count.textContent = (list.length === PAGE.patients.length ? '' : list.length + ' of ') + PAGE.patients.length +
      ' patients' + (list.length ? '' : ' - none match');
  }

  function choose(key) {
    if (key !== sel.value) sel.value = key;
    history.replaceState(null, '', '?patient=' + encodeURIComponent(key));
    return show(key);
  }

  // Search: every word typed must occur in the label (key prefix, sex, age, modalities).
  search.addEventListener('input', () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    shown = PAGE.patients.filter((p) => words.every((w) => p.label.toLowerCase().includes(w)));
    const keep = shown.some((p) => p.key === sel.value) ? sel.value : (shown[0] || {}).key;
    options(shown, keep);
    if (keep && keep !== document.body.dataset.patient) choose(keep);
  });
  sel.addEventListener('change', () => choose(sel.value));

  // ?patient= takes a whole key or a unique prefix of one; otherwise the page opens on PAGE.start (a patient
  // with every modality when there is one).
  const wanted = new URLSearchParams(location.search).get('patient') || location.hash.replace(/^#patient=/, '');
  const prefixed = wanted ? PAGE.patients.filter((p) => p.key.startsWith(wanted)) : [];
  const start = byKey.has(wanted) ? wanted : (prefixed.length === 1 ? prefixed[0].key : PAGE.start);
  options(PAGE.patients, start);
  window.mmhShowPatient = choose;  // for tests and bookmarklets
  show(start);
})();
