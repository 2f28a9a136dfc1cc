// The festival report: reads the summary inlined in <script id="eleven-summary">
// (docs/festival-summary.md) and draws it with Apache ECharts (inlined before this script).
//
// Every section is drawn only from figures that are in the summary; a section (or part of
// one) whose figures are missing says "not measured in this run" instead of showing a chart.
//
// For tests: body attributes data-charts-expected (N), data-charts-rendered (M), data-report-state;
// M counts charts whose ECharts 'finished' event has fired; the state becomes "complete" when
// M == N, and data-resources-fetched then counts what the page loaded besides itself (0).
// Script errors are counted in the html element's data-js-errors by the template.
(function () {
  'use strict';

  const kNotMeasured = 'not measured in this run';
  const kSeedPeakOrdersPerS = 545000;        // used when the summary lacks seed_figures
  const kParcelsTargetAtS = 8 * 3600 + 60;   // 08:01
  const kSeedTier34NewUserShare = 0.70;
  const kSurgeWindowS = 600;                 // "the midnight surge" chart: the first 10 minutes
  const kSurgePointsMin = 3;
  const kTopKeysMax = 20;                    // breakdowns: the largest keys, then "others"
  const kLogAxisRatioMin = 20;               // switch to a log axis when values span this much
  const kWaterfallZeroSpanShare = 0.25;      // gross to net: an axis from zero when the steps reach this share
  const kFontFamily =
      'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif';
  const kColors = ['#d9480f', '#1c7ed6', '#37b24d', '#f59f00', '#7048e8', '#0ca678',
                   '#e64980', '#868e96', '#1098ad', '#74b816'];
  const kSeedColor = '#495057';

  // ---------------------------------------------------------------- values and formatting

  function IsNumber(x) { return typeof x === 'number' && Number.isFinite(x); }

  // A section is measured when it is present and not empty (docs/festival-summary.md).
  function Measured(x) {
    if (x === undefined || x === null) return false;
    if (Array.isArray(x)) return x.length > 0;
    if (typeof x === 'object') return Object.keys(x).length > 0;
    return true;
  }

  function Group(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

  function FormatInt(n) {
    if (!IsNumber(n)) return '—';
    const rounded = Math.round(n);
    return (rounded < 0 ? '-' : '') + Group(String(Math.abs(rounded)));
  }

  function FormatNumber(n, decimals) {
    if (!IsNumber(n)) return '—';
    if (Number.isInteger(n) || decimals === 0) return FormatInt(n);
    const fixed = Math.abs(n).toFixed(decimals).split('.');
    return (n < 0 ? '-' : '') + Group(fixed[0]) + '.' + fixed[1];
  }

  // Money is integer fen; shown as yuan with thousands separators and two decimals.
  function FormatYuan(fen) {
    if (!IsNumber(fen)) return '—';
    const abs_fen = Math.abs(Math.round(fen));
    const cents = String(abs_fen % 100).padStart(2, '0');
    return (fen < 0 ? '-' : '') + '¥' + Group(String(Math.floor(abs_fen / 100))) + '.' + cents;
  }

  // Compact form for axes: 1.2k, 3.4M, 5.6bn.
  function FormatCompact(n) {
    if (!IsNumber(n)) return '';
    const abs = Math.abs(n);
    const steps = [[1e12, 'tn'], [1e9, 'bn'], [1e6, 'M'], [1e3, 'k']];
    for (const [size, suffix] of steps) {
      if (abs >= size) return String(+(n / size).toFixed(abs >= 10 * size ? 0 : 1)) + suffix;
    }
    return String(+n.toFixed(abs < 10 ? 2 : 0));
  }

  // Whole yuan, for the headline where cents only add width.
  function FormatYuanWhole(fen) {
    if (!IsNumber(fen)) return '—';
    return (fen < 0 ? '-' : '') + '¥' + Group(String(Math.round(Math.abs(fen) / 100)));
  }

  function FormatYuanCompact(fen) { return IsNumber(fen) ? '¥' + FormatCompact(fen / 100) : ''; }

  function FormatPercent(fraction, decimals) {
    if (!IsNumber(fraction)) return '—';
    return (fraction * 100).toFixed(decimals === undefined ? 1 : decimals) + '%';
  }

  // Simulated time of day: t_s counts seconds from 00:00:00 on 11.11.
  function FormatClock(t_s, with_seconds) {
    if (!IsNumber(t_s)) return '—';
    const day = Math.floor(t_s / 86400);
    const in_day_s = t_s - day * 86400;
    const hours = Math.floor(in_day_s / 3600);
    const minutes = Math.floor((in_day_s % 3600) / 60);
    const seconds = in_day_s % 60;
    let text = String(hours).padStart(2, '0') + ':' + String(minutes).padStart(2, '0');
    if (with_seconds !== false) {
      const whole = Math.floor(seconds);
      text += ':' + String(whole).padStart(2, '0');
      if (seconds - whole >= 0.05) text += '.' + String(Math.floor((seconds - whole) * 10));
    }
    return day > 0 ? text + ' +' + day + 'd' : text;
  }

  function FormatDuration(s) {
    if (!IsNumber(s)) return '—';
    if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 2 : 0) + ' ms';
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1).replace(/\.?0+$/, '') + ' s';
    if (s < 3600) {
      const seconds = Math.round(s % 60);
      return Math.floor(s / 60) + ' min' + (seconds > 0 ? ' ' + seconds + ' s' : '');
    }
    const minutes = Math.round((s % 3600) / 60);
    return Math.floor(s / 3600) + ' h' + (minutes > 0 ? ' ' + minutes + ' min' : '');
  }

  function FormatMicros(us) {
    if (!IsNumber(us)) return '—';
    if (us < 1000) return FormatNumber(us, us < 10 ? 1 : 0) + ' µs';
    if (us < 1e6) return FormatNumber(us / 1000, us < 1e4 ? 2 : 1) + ' ms';
    return FormatNumber(us / 1e6, 2) + ' s';
  }

  function Sum(values) { return values.reduce((a, b) => a + (IsNumber(b) ? b : 0), 0); }

  // ---------------------------------------------------------------- DOM

  function El(tag, attributes, children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null) continue;
      if (name === 'class') element.className = value;
      else if (name.startsWith('data-')) element.setAttribute(name, String(value));
      else element.setAttribute(name, value);
    }
    for (const child of [].concat(children === undefined ? [] : children)) {
      if (child === null || child === undefined || child === false) continue;
      element.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return element;
  }

  function NotMeasured(what) {
    return El('p', {class: 'not-measured'}, what ? [what + ': ' + kNotMeasured] : [kNotMeasured]);
  }

  function Section(id, title, lede) {
    const body = El('div', {class: 'section-body'});
    const section = El('section', {class: 'section', id: 'section-' + id, 'data-measured': 'true'},
                       [El('h2', {}, [title]), lede ? El('p', {class: 'lede'}, [lede]) : null, body]);
    document.getElementById('sections').appendChild(section);
    return {section: section, body: body};
  }

  function MarkNotMeasured(part) {
    part.section.dataset.measured = 'false';
    part.body.appendChild(NotMeasured());
  }

  function Facts(rows) {
    const list = El('dl', {class: 'facts'});
    for (const [term, value, note] of rows) {
      list.appendChild(El('div', {class: 'fact'}, [
        El('dt', {}, [term]), El('dd', {}, [value]), note ? El('dd', {class: 'note'}, [note]) : null]));
    }
    return list;
  }

  function Table(headings, rows, numeric_from) {
    const head = El('tr', {}, headings.map((h, i) =>
        El('th', {class: i >= numeric_from ? 'num' : null}, [h])));
    const body = rows.map(row => El('tr', {}, row.map((cell, i) =>
        El('td', {class: i >= numeric_from ? 'num' : null}, [cell]))));
    return El('table', {class: 'table'}, [El('thead', {}, [head]), El('tbody', {}, body)]);
  }

  // ---------------------------------------------------------------- charts

  const charts = [];
  let charts_rendered = 0;
  let all_charts_built = false;

  function UpdateRenderState() {
    document.body.dataset.chartsRendered = String(charts_rendered);
    if (all_charts_built && charts_rendered === charts.length) {
      // Everything the page fetched after the document itself: 0 for a self-contained page.
      const fetched = window.performance && performance.getEntriesByType ?
          performance.getEntriesByType('resource').length : 0;
      document.body.dataset.resourcesFetched = String(fetched);
      document.body.dataset.reportState = 'complete';
    }
  }

  function BaseOption() {
    return {
      animation: false,
      color: kColors,
      textStyle: {fontFamily: kFontFamily},
      tooltip: {trigger: 'axis', confine: true},
      legend: {top: 0, type: 'scroll'},
      grid: {left: 16, right: 24, top: 40, bottom: 24},
    };
  }

  // Draws option into a new chart box in parent. Counted in data-charts-rendered once ECharts
  // reports 'finished' (everything drawn) for it.
  function AddChart(parent, id, title, option, size) {
    const box = El('div', {class: 'chart', 'data-chart': id, 'data-rendered': 'false'});
    const figure = El('figure', {class: 'figure' + (size === 'wide' ? ' wide' : '')},
                      [El('figcaption', {}, [title]), box]);
    parent.appendChild(figure);
    const chart = echarts.init(box, null, {renderer: 'svg'});
    let counted = false;
    chart.on('finished', function () {
      if (counted) return;
      counted = true;
      box.dataset.rendered = 'true';
      ++charts_rendered;
      UpdateRenderState();
    });
    chart.setOption(Object.assign(BaseOption(), option));
    charts.push(chart);
    return chart;
  }

  function ChartGrid(parent) {
    const grid = El('div', {class: 'charts'});
    parent.appendChild(grid);
    return grid;
  }

  function TimeAxis(min_s, max_s) {
    const span_s = max_s - min_s;
    const axis = {
      type: 'value', min: min_s, max: max_s, name: 'simulated time (11.11)', nameLocation: 'middle',
      nameGap: 28, axisLabel: {formatter: v => FormatClock(v, span_s < 3600)}, splitLine: {show: false},
    };
    if (span_s > 6 * 3600) axis.interval = 2 * 3600;
    else if (span_s > 3600) axis.interval = 1800;
    else if (span_s <= 900 && span_s >= 300) axis.interval = 60;
    return axis;
  }

  // A value axis that turns logarithmic when the values it must show span more than
  // kLogAxisRatioMin (a scaled-down run under the seed's full-scale line, or drops lasting 1 s
  // and 30 min).
  function ValueAxis(values, formatter, name) {
    const positive = values.filter(v => IsNumber(v) && v > 0);
    const low = positive.length ? Math.min(...positive) : 1;
    const high = positive.length ? Math.max(...positive) : 1;
    const log = high / low > kLogAxisRatioMin;
    const axis = {type: log ? 'log' : 'value', name: name, axisLabel: {formatter: formatter}};
    if (log) {
      axis.min = Math.pow(10, Math.floor(Math.log10(low)));
      axis.max = Math.pow(10, Math.ceil(Math.log10(high)));
    } else {
      axis.min = 0;
      axis.max = v => Math.max(v.max, high) * 1.08;
    }
    return axis;
  }

  // On a log axis zero and negative values have no place; they become gaps.
  function ForAxis(axis, value) { return axis.type === 'log' && !(value > 0) ? null : value; }

  // ---------------------------------------------------------------- the summary

  function ReadSummary() {
    const text = document.getElementById('eleven-summary').textContent;
    const summary = JSON.parse(text);
    if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) {
      throw new Error('the inlined summary is not a JSON object');
    }
    return summary;
  }

  function SeedFigures(summary) {
    const seed = summary.seed_figures || {};
    const scale = summary.scenario && IsNumber(summary.scenario.scale) ? summary.scenario.scale : null;
    const parcels_by_0801 = IsNumber(seed.parcels_by_0801) ? seed.parcels_by_0801 : 100000000;
    return {
      peak_orders_per_s: IsNumber(seed.peak_orders_per_s) ? seed.peak_orders_per_s : kSeedPeakOrdersPerS,
      parcels_by_0801: parcels_by_0801,
      parcels_target_scaled: IsNumber(seed.parcels_target_scaled) ? seed.parcels_target_scaled :
          (scale !== null ? parcels_by_0801 * scale : null),
      parcels_target_at_s: IsNumber(seed.parcels_target_at_s) ? seed.parcels_target_at_s : kParcelsTargetAtS,
      tier34_new_user_share: IsNumber(seed.tier34_new_user_share) ? seed.tier34_new_user_share :
          kSeedTier34NewUserShare,
      scale: scale,
    };
  }

  function Timeline(summary) {
    const points = Array.isArray(summary.timeline) ? summary.timeline : [];
    return points.filter(p => p && IsNumber(p.t_s)).sort((a, b) => a.t_s - b.t_s);
  }

  function DayEndS(summary, timeline) {
    const scenario = summary.scenario || {};
    const last_s = timeline.length ? timeline[timeline.length - 1].t_s : 0;
    return Math.max(IsNumber(scenario.simulated_seconds) ? scenario.simulated_seconds : 0, last_s, 1);
  }

  // ---------------------------------------------------------------- header

  function DrawHeader(summary, seed) {
    const scenario = summary.scenario || {};
    const totals = summary.totals || {};
    const parts = [];
    if (scenario.name) parts.push('scenario “' + scenario.name + '”');
    if (IsNumber(scenario.seed)) parts.push('seed ' + scenario.seed);
    if (IsNumber(scenario.scale)) parts.push('scale ' + scenario.scale);
    if (IsNumber(scenario.merchants)) {
      parts.push(FormatInt(scenario.merchants) + ' merchants' + (IsNumber(scenario.overseas_merchants) ?
          ' (' + FormatInt(scenario.overseas_merchants) + ' overseas' +
          (IsNumber(scenario.countries) ? ', ' + scenario.countries + ' countries' : '') + ')' : ''));
    }
    if (IsNumber(scenario.skus)) parts.push(FormatInt(scenario.skus) + ' SKUs');
    if (IsNumber(scenario.buyers)) parts.push(FormatInt(scenario.buyers) + ' buyers');
    if (IsNumber(scenario.simulated_seconds)) {
      parts.push(FormatDuration(scenario.simulated_seconds) + ' simulated' +
          (IsNumber(scenario.wall_seconds) ? ' in ' + FormatDuration(scenario.wall_seconds) + ' of wall time' : ''));
    }
    if (scenario.pace === 'realtime' && IsNumber(scenario.realtime_lag_max_ms)) {
      parts.push('paced by the wall clock (ticks at most ' + FormatInt(Math.round(scenario.realtime_lag_max_ms)) +
          ' ms late)');
    }
    if (scenario.durability) parts.push(scenario.durability);
    if (summary.eleven_version) parts.push('eleven ' + summary.eleven_version);
    document.getElementById('scenario-line').textContent =
        parts.length ? parts.join(' · ') : 'scenario: ' + kNotMeasured;

    const drops = Array.isArray(summary.drops) ? summary.drops : [];
    const sold_out = drops.filter(d => d && IsNumber(d.sold_out_after_s)).length;
    const fulfilment = summary.fulfilment || {};
    const latency = totals.latency_us || {};
    const tiles = [
      ['orders accepted', FormatInt(totals.orders_accepted),
       IsNumber(totals.orders_placed) ? 'of ' + FormatInt(totals.orders_placed) + ' placed' : null],
      ['peak orders/s', FormatInt(totals.peak_orders_per_s),
       'seed: ' + FormatInt(seed.peak_orders_per_s) + '/s' +
           (IsNumber(totals.peak_at_s) ? ' · at ' + FormatClock(totals.peak_at_s) : '')],
      ['GMV (gross)', FormatYuanWhole(totals.gmv_gross_fen), null],
      ['GMV (net)', FormatYuanWhole(totals.gmv_net_fen),
       IsNumber(totals.refunds_fen) ? 'refunds ' + FormatYuan(totals.refunds_fen) : null],
      ['p99 latency', FormatMicros(latency.p99), IsNumber(latency.p50) ? 'p50 ' + FormatMicros(latency.p50) : null],
      ['drops sold out', Measured(summary.drops) ? sold_out + ' of ' + drops.length : '—', null],
      ['parcels dispatched', Measured(summary.fulfilment) ? FormatInt(fulfilment.dispatched) : '—',
       Measured(summary.fulfilment) && IsNumber(fulfilment.parcels) ? 'of ' + FormatInt(fulfilment.parcels) : null],
      ['engine orders/s', FormatInt(totals.engine_orders_per_s), 'wall-clock throughput'],
    ];
    const headline = document.getElementById('headline');
    for (const [label, value, note] of tiles) {
      const missing = value === '—';
      headline.appendChild(El('div', {class: 'tile' + (missing ? ' missing' : ''), role: 'listitem'}, [
        El('div', {class: 'tile-value'}, [value]),
        El('div', {class: 'tile-label'}, [label]),
        El('div', {class: 'tile-note'}, [missing ? kNotMeasured : (note || '')])]));
    }
  }

  // ---------------------------------------------------------------- traffic and GMV

  function OrdersSeries(points, axis) {
    return points.map(p => [p.t_s, ForAxis(axis, IsNumber(p.orders_per_s) ? p.orders_per_s : null)]);
  }

  function TrafficMarkLines(seed, run_peak) {
    // The seed's label sits at the start of its line, the run's at the end, so the two stay
    // readable when the run's peak is close to the seed's.
    const lines = [{yAxis: seed.peak_orders_per_s, name: 'seed peak',
                    label: {formatter: 'seed peak ' + FormatInt(seed.peak_orders_per_s) + '/s',
                            position: 'insideStartTop'},
                    lineStyle: {color: kSeedColor, type: 'dashed'}}];
    if (seed.scale !== null && seed.scale < 1 && IsNumber(run_peak) &&
        run_peak < seed.peak_orders_per_s / 10) {
      const scaled = seed.peak_orders_per_s * seed.scale;
      lines.push({yAxis: scaled, name: 'seed peak at this scale',
                  label: {formatter: 'seed peak × ' + seed.scale + ' = ' + FormatInt(scaled) + '/s',
                          position: 'insideStartTop'},
                  lineStyle: {color: kSeedColor, type: 'dotted'}});
    }
    if (IsNumber(run_peak)) {
      lines.push({yAxis: run_peak, name: 'this run’s peak',
                  label: {formatter: 'this run’s peak ' + FormatInt(run_peak) + '/s', position: 'insideEndBottom'},
                  lineStyle: {color: kColors[0], type: 'solid', width: 1}});
    }
    return {symbol: 'none', silent: true, label: {position: 'insideEndTop'}, data: lines};
  }

  function TrafficOption(points, min_s, max_s, seed, totals) {
    const run_peak = IsNumber(totals.peak_orders_per_s) ? totals.peak_orders_per_s :
        Math.max(0, ...points.map(p => IsNumber(p.orders_per_s) ? p.orders_per_s : 0));
    const values = points.map(p => p.orders_per_s).concat([seed.peak_orders_per_s, run_peak]);
    const y = ValueAxis(values, FormatCompact, 'orders/s');
    const series = {
      type: 'line', name: 'orders placed per second', showSymbol: false, sampling: 'lttb',
      areaStyle: {opacity: 0.15}, lineStyle: {width: 1.5}, data: OrdersSeries(points, y),
      markLine: TrafficMarkLines(seed, run_peak),
    };
    if (IsNumber(totals.peak_at_s) && IsNumber(totals.peak_orders_per_s) &&
        totals.peak_at_s >= min_s && totals.peak_at_s <= max_s) {
      series.markPoint = {symbol: 'circle', symbolSize: 9, label: {show: false},
                          data: [{coord: [totals.peak_at_s, totals.peak_orders_per_s],
                                  name: 'peak at ' + FormatClock(totals.peak_at_s)}]};
    }
    return {
      xAxis: TimeAxis(min_s, max_s), yAxis: y, series: [series],
      tooltip: {trigger: 'axis', confine: true,
                valueFormatter: v => FormatInt(v) + '/s'},
    };
  }

  function DrawTraffic(summary, seed, timeline) {
    const part = Section('traffic', 'Orders per second',
        'Orders placed per second of simulated time, against the seed’s peak of ' +
        FormatInt(seed.peak_orders_per_s) + ' orders/s (Singles’ Day 2019) and this run’s own peak.');
    const points = timeline.filter(p => IsNumber(p.orders_per_s));
    if (points.length === 0) return MarkNotMeasured(part);
    const totals = summary.totals || {};
    const grid = ChartGrid(part.body);
    AddChart(grid, 'orders_per_s', 'Orders/s over the day',
             TrafficOption(points, 0, DayEndS(summary, timeline), seed, totals), 'wide');
    const surge = points.filter(p => p.t_s <= kSurgeWindowS);
    if (surge.length >= kSurgePointsMin) {
      AddChart(grid, 'orders_per_s_surge', 'The midnight surge: the first 10 minutes',
               TrafficOption(surge, 0, kSurgeWindowS, seed, totals), 'wide');
    }
    const rows = [['peak (1 s window)', FormatInt(totals.peak_orders_per_s) + '/s',
                   IsNumber(totals.peak_at_s) ? 'at ' + FormatClock(totals.peak_at_s) : null],
                  ['seed’s peak', FormatInt(seed.peak_orders_per_s) + '/s',
                   IsNumber(totals.peak_orders_per_s) ?
                       FormatPercent(totals.peak_orders_per_s / seed.peak_orders_per_s, 0) + ' of it' : null]];
    if (IsNumber(totals.retries)) rows.push(['retries (same key)', FormatInt(totals.retries), null]);
    if (IsNumber(totals.orders_expired)) rows.push(['expired unpaid', FormatInt(totals.orders_expired), null]);
    if (IsNumber(totals.orders_cancelled)) rows.push(['cancelled', FormatInt(totals.orders_cancelled), null]);
    part.body.appendChild(Facts(rows));
  }

  function DrawGmv(summary, timeline) {
    const part = Section('gmv', 'GMV',
        'Gross merchandise value of accepted orders, cumulative over the day; net is what was paid, ' +
        'less refunds and cancellations.');
    const points = timeline.filter(p => IsNumber(p.gmv_fen));
    const totals = summary.totals || {};
    if (points.length === 0 && !IsNumber(totals.gmv_gross_fen)) return MarkNotMeasured(part);
    part.body.appendChild(Facts([
      ['gross', FormatYuan(totals.gmv_gross_fen), null],
      ['net', FormatYuan(totals.gmv_net_fen), null],
      ['refunds', FormatYuan(totals.refunds_fen), null],
      ...(IsNumber(totals.orders_returned)
              ? [['orders returned', FormatInt(totals.orders_returned), FormatYuan(totals.returns_refunded_fen)]]
              : []),
      ...(IsNumber(totals.after_sales_refunds)
              ? [['after-sales refunds', FormatInt(totals.after_sales_refunds), FormatYuan(totals.after_sales_refunded_fen)]]
              : [])]));
    if (points.length === 0) return part.body.appendChild(NotMeasured('GMV over time'));
    const series = [{type: 'line', name: 'gross', showSymbol: false, sampling: 'lttb',
                     areaStyle: {opacity: 0.12}, data: points.map(p => [p.t_s, p.gmv_fen])}];
    const net = points.filter(p => IsNumber(p.gmv_net_fen));
    if (net.length > 0) {
      series.push({type: 'line', name: 'net', showSymbol: false, sampling: 'lttb',
                   data: net.map(p => [p.t_s, p.gmv_net_fen])});
    }
    AddChart(ChartGrid(part.body), 'gmv', 'Cumulative GMV (gross' + (net.length ? ' and net' : '') + ')', {
      xAxis: TimeAxis(0, DayEndS(summary, timeline)),
      yAxis: {type: 'value', name: 'yuan', axisLabel: {formatter: FormatYuanCompact}},
      series: series,
      tooltip: {trigger: 'axis', confine: true, valueFormatter: FormatYuan},
    }, 'wide');
    if (net.length === 0) part.body.appendChild(NotMeasured('net GMV over time'));
  }

  // ---------------------------------------------------------------- latency

  function DrawLatency(summary, timeline) {
    const part = Section('latency', 'Latency',
        'From an order’s submission to its result, which is released only once the order is recorded (durably, unless the run was relaxed).');
    const points = (Array.isArray(summary.latency_timeline) ? summary.latency_timeline : [])
        .filter(p => p && IsNumber(p.t_s)).sort((a, b) => a.t_s - b.t_s);
    const totals = (summary.totals || {}).latency_us;
    if (points.length === 0 && !Measured(totals)) return MarkNotMeasured(part);
    const grid = ChartGrid(part.body);
    if (points.length > 0) {
      const keys = [['p50_us', 'p50'], ['p99_us', 'p99'], ['p999_us', 'p99.9'], ['max_us', 'max']];
      const series = keys.filter(([key]) => points.some(p => IsNumber(p[key]))).map(([key, name]) => ({
        type: 'line', name: name, showSymbol: false, sampling: 'lttb',
        data: points.filter(p => IsNumber(p[key])).map(p => [p.t_s, p[key]])}));
      AddChart(grid, 'latency_timeline', 'Latency percentiles over the day', {
        xAxis: TimeAxis(0, DayEndS(summary, timeline)),
        yAxis: {type: 'value', name: 'latency', axisLabel: {formatter: FormatMicros}},
        series: series,
        tooltip: {trigger: 'axis', confine: true, valueFormatter: FormatMicros},
      }, 'wide');
    } else {
      part.body.appendChild(NotMeasured('latency over time'));
    }
    if (Measured(totals)) {
      const keys = [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9'], ['max', 'max']]
          .filter(([key]) => IsNumber(totals[key]));
      AddChart(grid, 'latency_totals', 'Latency over the whole run', {
        tooltip: {trigger: 'item', confine: true, valueFormatter: FormatMicros},
        xAxis: {type: 'category', data: keys.map(([, name]) => name)},
        yAxis: {type: 'value', axisLabel: {formatter: FormatMicros}},
        legend: {show: false},
        series: [{type: 'bar', name: 'latency', barMaxWidth: 56, data: keys.map(([key]) => totals[key]),
                  label: {show: true, position: 'top', formatter: p => FormatMicros(p.value)}}],
      });
    } else {
      part.body.appendChild(NotMeasured('latency percentiles of the whole run'));
    }
  }

  // ---------------------------------------------------------------- drops

  function DrawDrops(summary) {
    const part = Section('drops', 'Live-stream drops',
        'Each drop’s sell-out time, from its opening to the last unit, against the seed’s figure ' +
        '(55 cars in 1 s, 10,000 TVs in 20 s, 90,000 laptops in 5 min, ...).');
    const drops = (Array.isArray(summary.drops) ? summary.drops : []).filter(d => d && d.name);
    if (drops.length === 0) return MarkNotMeasured(part);
    // Plotted in milliseconds, at least 1: on a log axis ECharts grows bars from 1, so every
    // bar must reach above it; labels and tooltips show the true figure.
    const ToMs = s => IsNumber(s) ? Math.max(1, s * 1000) : null;
    const run = drops.map(d => ToMs(d.sold_out_after_s));
    const seed = drops.map(d => ToMs(d.seed_seconds));
    const y = ValueAxis(run.concat(seed), v => FormatDuration(v / 1000), 'time to sell out');
    const Label = (seconds_of, fallback) => p => IsNumber(seconds_of(p.dataIndex)) ?
        FormatDuration(seconds_of(p.dataIndex)) : fallback;
    AddChart(ChartGrid(part.body), 'drops', 'Sell-out time: this run against the seed', {
      xAxis: {type: 'category', data: drops.map(d => d.name), axisLabel: {interval: 0, width: 120, overflow: 'break'}},
      yAxis: y,
      tooltip: {trigger: 'axis', confine: true,
                valueFormatter: v => IsNumber(v) ? FormatDuration(v / 1000) : 'no figure'},
      series: [
        {type: 'bar', name: 'this run', data: run.map(v => ForAxis(y, v)), barMaxWidth: 40,
         label: {show: true, position: 'top', formatter: Label(i => drops[i].sold_out_after_s, 'not sold out')}},
        {type: 'bar', name: 'seed', data: seed.map(v => ForAxis(y, v)), barMaxWidth: 40,
         itemStyle: {color: kSeedColor}, label: {show: true, position: 'top', formatter: Label(i => drops[i].seed_seconds, '')}},
      ],
    }, 'wide');
    part.body.appendChild(Table(
        ['drop', 'SKU', 'opened at', 'quota', 'sold', 'sold out after', 'seed'],
        drops.map(d => [d.name, d.sku || '—', FormatClock(d.opened_at_s), FormatInt(d.quota), FormatInt(d.sold),
                        IsNumber(d.sold_out_after_s) ? FormatDuration(d.sold_out_after_s) : 'not sold out',
                        FormatDuration(d.seed_seconds)]),
        3));
  }

  // ---------------------------------------------------------------- fulfilment

  function ParcelsOption(summary, seed, timeline, fulfilment) {
    const points = timeline.filter(p => IsNumber(p.parcels_dispatched));
    const milestones = (Array.isArray(fulfilment.milestones) ? fulfilment.milestones : [])
        .filter(m => m && IsNumber(m.n) && IsNumber(m.at_s));
    if (points.length === 0 && milestones.length === 0) return null;
    const series = [];
    if (points.length > 0) {
      series.push({type: 'line', name: 'parcels dispatched', showSymbol: false, sampling: 'lttb',
                   areaStyle: {opacity: 0.12}, data: points.map(p => [p.t_s, p.parcels_dispatched])});
    }
    if (milestones.length > 0) {
      series.push({type: milestones.length > 1 && points.length === 0 ? 'line' : 'scatter',
                   name: 'milestones', symbolSize: 8, data: milestones.map(m => [m.at_s, m.n])});
    }
    if (IsNumber(seed.parcels_target_scaled)) {
      series.push({type: 'scatter', name: 'seed: ' + FormatCompact(seed.parcels_by_0801) + ' by 08:01' +
                       (seed.scale !== null ? ' × ' + seed.scale : ''),
                   symbol: 'diamond', symbolSize: 14, itemStyle: {color: kSeedColor},
                   data: [[seed.parcels_target_at_s, seed.parcels_target_scaled]],
                   markLine: {symbol: 'none', silent: true, lineStyle: {color: kSeedColor, type: 'dashed'},
                              data: [{yAxis: seed.parcels_target_scaled,
                                      label: {formatter: 'target ' + FormatInt(seed.parcels_target_scaled), position: 'insideEndTop'}},
                                     {xAxis: seed.parcels_target_at_s, label: {formatter: FormatClock(seed.parcels_target_at_s, false)}}]}});
    }
    return {
      xAxis: TimeAxis(0, Math.max(DayEndS(summary, timeline), seed.parcels_target_at_s + 3600)),
      yAxis: {type: 'value', name: 'parcels', axisLabel: {formatter: FormatCompact},
              max: v => Math.max(v.max, seed.parcels_target_scaled || 0) * 1.08},
      series: series,
      tooltip: {trigger: 'axis', confine: true, valueFormatter: FormatInt},
    };
  }

  // Parcels dispatched by t_s, read off the cumulative timeline (last point at or before it).
  function DispatchedBy(timeline, t_s) {
    let dispatched = null;
    for (const p of timeline) {
      if (p.t_s > t_s) break;
      if (IsNumber(p.parcels_dispatched)) dispatched = p.parcels_dispatched;
    }
    return dispatched;
  }

  function NamedBars(grid, id, title, entries, value_key, format_value) {
    const formatter = format_value || FormatInt;
    const compact = format_value === FormatYuan ? FormatYuanCompact : FormatCompact;
    const sorted = entries.filter(e => e && IsNumber(e[value_key]))
        .sort((a, b) => b[value_key] - a[value_key]).slice(0, kTopKeysMax).reverse();
    if (sorted.length === 0) return false;
    AddChart(grid, id, title, {
      tooltip: {trigger: 'axis', confine: true, valueFormatter: formatter},
      legend: {show: false},
      xAxis: {type: 'value', axisLabel: {formatter: compact}},
      yAxis: {type: 'category', data: sorted.map(e => String(e.name !== undefined ? e.name : e.key))},
      series: [{type: 'bar', name: value_key, data: sorted.map(e => e[value_key]), barMaxWidth: 22,
                label: {show: true, position: 'right', formatter: p => compact(p.value)}}],
    });
    return true;
  }

  function DrawFulfilment(summary, seed, timeline) {
    const part = Section('fulfilment', 'Fulfilment',
        'Parcels dispatched over the day against the seed’s “100 million items shipped by 08:01”, ' +
        'scaled to this scenario; parcels by courier and by warehouse.');
    const fulfilment = summary.fulfilment;
    if (!Measured(fulfilment)) return MarkNotMeasured(part);
    const by_target = DispatchedBy(timeline, seed.parcels_target_at_s);
    part.body.appendChild(Facts([
      ['parcels', FormatInt(fulfilment.parcels), null],
      ['dispatched', FormatInt(fulfilment.dispatched), null],
      ['backlog', FormatInt(fulfilment.backlog), null],
      ['dispatched by ' + FormatClock(seed.parcels_target_at_s, false), FormatInt(by_target),
       IsNumber(by_target) && IsNumber(seed.parcels_target_scaled) ?
           FormatPercent(by_target / seed.parcels_target_scaled, 0) + ' of the scaled target ' +
           FormatInt(seed.parcels_target_scaled) : null]]));
    const grid = ChartGrid(part.body);
    const option = ParcelsOption(summary, seed, timeline, fulfilment);
    if (option) AddChart(grid, 'parcels', 'Parcels dispatched against the seed’s target', option, 'wide');
    else part.body.appendChild(NotMeasured('parcels dispatched over time'));
    if (!NamedBars(grid, 'couriers', 'Parcels by courier', fulfilment.by_courier || [], 'parcels')) {
      part.body.appendChild(NotMeasured('parcels by courier'));
    }
    if (!NamedBars(grid, 'warehouses', 'Parcels by warehouse', fulfilment.by_warehouse || [], 'parcels')) {
      part.body.appendChild(NotMeasured('parcels by warehouse'));
    }
  }

  // ---------------------------------------------------------------- breakdowns

  // Each tier's share of orders, GMV, buyers and new buyers (those the summary carries), so the
  // seed's "70% of new users from tier-3/4 cities" can be read off next to the rest.
  function DrawCityTier(grid, part, seed, tiers) {
    const by_key = tiers.slice().sort((a, b) => String(a.key).localeCompare(String(b.key)));
    const measures = [['orders', 'orders'], ['gmv_fen', 'GMV'], ['buyers', 'buyers'], ['new_buyers', 'new buyers']]
        .filter(([key]) => by_key.some(t => IsNumber(t[key])));
    AddChart(grid, 'city_tier', 'Share by city tier', {
      tooltip: {trigger: 'axis', confine: true, valueFormatter: v => FormatPercent(v, 1)},
      xAxis: {type: 'category', data: by_key.map(t => 'tier ' + t.key)},
      yAxis: {type: 'value', axisLabel: {formatter: v => FormatPercent(v, 0)}},
      series: measures.map(([key, name]) => {
        const all = Sum(by_key.map(t => t[key]));
        return {type: 'bar', name: name, barMaxWidth: 28,
                data: by_key.map(t => IsNumber(t[key]) && all > 0 ? t[key] / all : null)};
      }),
    });
    const share_key = measures.some(([key]) => key === 'new_buyers') ? 'new_buyers' :
        (measures.some(([key]) => key === 'buyers') ? 'buyers' : null);
    if (share_key === null) return;
    const all = Sum(tiers.map(t => t[share_key]));
    const tier34 = Sum(tiers.filter(t => String(t.key) === '3' || String(t.key) === '4').map(t => t[share_key]));
    if (all > 0) {
      part.body.appendChild(Facts([[
        'tier-3/4 share of ' + (share_key === 'new_buyers' ? 'new buyers' : 'buyers'),
        FormatPercent(tier34 / all, 1),
        'seed: ' + FormatPercent(seed.tier34_new_user_share, 0) + ' of new users came from tier-3/4 cities']]));
    }
  }

  function DrawCountries(grid, part, countries) {
    const overseas = countries.filter(c => String(c.key) !== 'CN');
    const shown = overseas.length > 0 ? overseas : countries;
    NamedBars(grid, 'country', overseas.length > 0 ?
                  'GMV of overseas merchants by country (largest ' + kTopKeysMax + ')' : 'GMV by merchant country',
              shown, 'gmv_fen', FormatYuan);
    const all_fen = Sum(countries.map(c => c.gmv_fen));
    if (all_fen > 0) {
      part.body.appendChild(Facts([['overseas merchants’ share of GMV',
                                    FormatPercent(Sum(overseas.map(c => c.gmv_fen)) / all_fen, 1),
                                    overseas.length + ' countries besides China']]));
    }
  }

  function DrawBreakdowns(summary, seed) {
    const part = Section('buyers', 'Buyers and merchants',
        'Orders and GMV cut by the buyer’s city tier and region, and by the merchant’s country.');
    const breakdowns = summary.breakdowns || {};
    if (!Measured(breakdowns)) return MarkNotMeasured(part);
    const grid = ChartGrid(part.body);
    const tiers = (breakdowns.city_tier || []).filter(e => e && e.key !== undefined);
    if (tiers.length > 0) DrawCityTier(grid, part, seed, tiers);
    else part.body.appendChild(NotMeasured('city tier'));
    const regions = (breakdowns.region || []).filter(e => e && e.key !== undefined);
    if (!NamedBars(grid, 'region', 'Orders by region (largest ' + kTopKeysMax + ')', regions, 'orders')) {
      part.body.appendChild(NotMeasured('region'));
    }
    const countries = (breakdowns.country || []).filter(e => e && e.key !== undefined && IsNumber(e.gmv_fen));
    if (countries.length > 0) DrawCountries(grid, part, countries);
    else part.body.appendChild(NotMeasured('country'));
  }

  // ---------------------------------------------------------------- rejections and payments

  function DrawRejections(summary) {
    const part = Section('rejections', 'Rejected orders',
        'Orders the engine refused, by result code.');
    const totals = summary.totals || {};
    const by_code = totals.rejected_by_code;
    if (!Measured(by_code)) {
      if (IsNumber(totals.orders_rejected) && totals.orders_rejected === 0) {
        part.body.appendChild(El('p', {class: 'lede'}, ['No order was rejected.']));
        return;
      }
      return MarkNotMeasured(part);
    }
    const entries = Object.entries(by_code).filter(([, n]) => IsNumber(n)).map(([code, n]) => ({key: code, orders: n}));
    NamedBars(ChartGrid(part.body), 'rejected', 'Rejected orders by code (' +
              FormatInt(Sum(entries.map(e => e.orders))) + ' in all)', entries, 'orders');
  }

  function DrawPayments(summary) {
    const part = Section('payments', 'Payments',
        'How paid orders were paid: wallet, card, or interest-free instalments (3 to 24 periods).');
    const payments = summary.payments;
    if (!Measured(payments)) return MarkNotMeasured(part);
    const instalments = payments.instalments && typeof payments.instalments === 'object' ? payments.instalments : {};
    const plans = Object.entries(instalments).filter(([, n]) => IsNumber(n))
        .sort((a, b) => Number(a[0]) - Number(b[0]));
    const mix = [];
    for (const [key, value] of Object.entries(payments)) {
      if (IsNumber(value) && !key.endsWith('_fen')) mix.push({name: key, value: value});
    }
    if (plans.length > 0) mix.push({name: 'instalments', value: Sum(plans.map(([, n]) => n))});
    const grid = ChartGrid(part.body);
    if (mix.length > 0) {
      AddChart(grid, 'payment_mix', 'Payment mix (paid orders)', {
        tooltip: {trigger: 'item', confine: true, valueFormatter: FormatInt},
        legend: {top: 0},
        series: [{type: 'pie', name: 'paid orders', radius: ['30%', '62%'], center: ['50%', '56%'],
                  data: mix, label: {formatter: '{b}\n{d}%'}, minShowLabelAngle: 6}],
      });
    }
    if (plans.length > 0) {
      AddChart(grid, 'instalments', 'Instalment plans by number of periods', {
        tooltip: {trigger: 'axis', confine: true, valueFormatter: FormatInt},
        legend: {show: false},
        xAxis: {type: 'category', data: plans.map(([periods]) => periods + ' periods')},
        yAxis: {type: 'value', axisLabel: {formatter: FormatCompact}},
        series: [{type: 'bar', name: 'orders', data: plans.map(([, n]) => n), barMaxWidth: 48,
                  label: {show: true, position: 'top', formatter: p => FormatInt(p.value)}}],
      });
    } else {
      part.body.appendChild(NotMeasured('instalment plans'));
    }
    const fees = [];
    if (IsNumber(payments.instalment_fee_merchant_fen)) {
      fees.push(['instalment fees borne by merchants', FormatYuan(payments.instalment_fee_merchant_fen), null]);
    }
    if (IsNumber(payments.instalment_fee_buyer_fen)) {
      fees.push(['instalment fees borne by buyers', FormatYuan(payments.instalment_fee_buyer_fen), null]);
    }
    if (fees.length > 0) part.body.appendChild(Facts(fees));
  }

  // ---------------------------------------------------------------- promotions

  // Whole yuan when there are no cents (a coupon's ¥50), else to the fen (a live room's ¥3.49).
  function FormatYuanShort(fen) { return IsNumber(fen) && fen % 100 === 0 ? FormatYuanWhole(fen) : FormatYuan(fen); }

  function CouponTerms(line) {
    if (!IsNumber(line.amount_fen)) return '—';
    return FormatYuanShort(line.amount_fen) + ' off' + (line.kind === 'threshold' && IsNumber(line.threshold_fen) ?
        ' from ' + FormatYuanShort(line.threshold_fen) : '');
  }

  // What discounts took off gross, as the parts the promotions name when they add up to
  // sales.discounts_fen exactly (platform and shop coupons, the pre-sale deposits' inflation),
  // else as one step.
  function DiscountSteps(sales, coupons, presale) {
    const parts = [];
    if (IsNumber(coupons.platform_discount_fen) && IsNumber(coupons.shop_discount_fen) &&
        coupons.platform_discount_fen + coupons.shop_discount_fen === coupons.discount_fen) {
      parts.push(['platform coupons', coupons.platform_discount_fen], ['shop coupons', coupons.shop_discount_fen]);
    } else if (IsNumber(coupons.discount_fen)) {
      parts.push(['coupons', coupons.discount_fen]);
    }
    if (IsNumber(presale.inflation_fen)) parts.push(['pre-sale inflation', presale.inflation_fen]);
    if (!IsNumber(sales.discounts_fen)) return [];
    if (parts.length > 0 && Sum(parts.map(([, fen]) => fen)) === sales.discounts_fen) return parts;
    return [['discounts', sales.discounts_fen]];
  }

  // Where the waterfall's axis starts: at zero, unless the steps between gross and net are too
  // small to see from there (discounts and refunds of a few percent); then a round figure below
  // the lowest level, about as far below it as the steps reach above it.
  function WaterfallAxisMin(gross_fen, lowest_fen) {
    const span = gross_fen - lowest_fen;
    if (!(span > 0) || !(lowest_fen > 0) || span >= gross_fen * kWaterfallZeroSpanShare) return 0;
    const step = Math.pow(10, Math.floor(Math.log10(span)));
    return Math.max(0, Math.floor((lowest_fen - span) / step) * step);
  }

  // Gross to net as a waterfall: gross and net stand on the axis; every step between them (the
  // discounts, refunds) hangs from what was left before it, drawn on an invisible base. Returns
  // the option and where its axis starts.
  function SalesWaterfall(sales, coupons, presale) {
    const steps = [['gross', sales.gross_fen, 'total']];
    for (const [name, fen] of DiscountSteps(sales, coupons, presale)) steps.push([name, fen, 'less']);
    if (IsNumber(sales.refunds_fen)) steps.push(['refunds', sales.refunds_fen, 'less']);
    steps.push(['net', sales.net_fen, 'total']);
    const base = [], amount = [];
    let left = sales.gross_fen, lowest = Math.min(sales.gross_fen, sales.net_fen);
    for (const [, fen, kind] of steps) {
      if (kind === 'total') {
        base.push(0);
      } else {
        left -= fen;
        lowest = Math.min(lowest, left);
        base.push(left);
      }
      amount.push({value: fen, itemStyle: {color: kind === 'total' ? kColors[1] : kColors[0]}});
    }
    const axis_min = WaterfallAxisMin(sales.gross_fen, lowest);
    return {axis_min: axis_min, option: {
      tooltip: {trigger: 'item', confine: true, valueFormatter: FormatYuan},
      legend: {show: false},
      grid: {left: 16, right: 24, top: 24, bottom: 24},
      xAxis: {type: 'category', data: steps.map(([name]) => name), axisLabel: {interval: 0, width: 110, overflow: 'break'}},
      // Compact labels cannot tell ¥1.23bn from ¥1.24bn on an axis that does not start at zero.
      yAxis: {type: 'value', name: 'yuan', min: axis_min,
              axisLabel: {formatter: axis_min > 0 ? FormatYuanWhole : FormatYuanCompact}},
      series: [
        {type: 'bar', name: 'base', stack: 'sales', silent: true, tooltip: {show: false},
         itemStyle: {color: 'transparent'}, data: base},
        {type: 'bar', name: 'yuan', stack: 'sales', barMaxWidth: 64, data: amount,
         label: {show: true, position: 'top',
                 formatter: p => (steps[p.dataIndex][2] === 'less' ? '−' : '') + FormatYuanWhole(p.value)}},
      ],
    }};
  }

  // Each coupon line's coupons that may be claimed, claimed and redeemed (the largest lines by
  // count); a log axis when a car's live room and every shop's coupons share it.
  function CouponLinesOption(lines) {
    const measures = [['count', 'may be claimed'], ['claimed', 'claimed'], ['redeemed', 'redeemed']]
        .filter(([key]) => lines.some(l => IsNumber(l[key])));
    const x = ValueAxis([].concat(...measures.map(([key]) => lines.map(l => l[key]))), FormatCompact, 'coupons');
    return {
      // The figures themselves, not the plotted values (a log axis has no place for zero).
      tooltip: {trigger: 'axis', confine: true,
                formatter: params => [echarts.format.encodeHTML(String(lines[params[0].dataIndex].name))].concat(params.map(p =>
                    p.marker + p.seriesName + ': ' + FormatInt(lines[p.dataIndex][measures[p.seriesIndex][0]])))
                    .join('<br>')},
      grid: {left: 16, right: 32, top: 40, bottom: 24},
      xAxis: x,
      yAxis: {type: 'category', inverse: true, data: lines.map(l => String(l.name)),
              axisLabel: {width: 260, overflow: 'truncate'}},
      series: measures.map(([key, name]) => ({
        type: 'bar', name: name, barMaxWidth: 10,
        data: lines.map(l => ForAxis(x, IsNumber(l[key]) ? l[key] : null))})),
    };
  }

  function DrawCoupons(grid, part, coupons) {
    const all = (Array.isArray(coupons.by_coupon) ? coupons.by_coupon : []).filter(l => l && l.name !== undefined);
    const lines = all.slice().sort((a, b) => (IsNumber(b.count) ? b.count : 0) - (IsNumber(a.count) ? a.count : 0))
        .slice(0, kTopKeysMax);
    if (lines.length === 0) return part.body.appendChild(NotMeasured('coupons by line'));
    const largest = all.length > lines.length ? ' (largest ' + lines.length + ' of ' + all.length + ' by count)' : '';
    if (lines.some(l => IsNumber(l.count) || IsNumber(l.claimed) || IsNumber(l.redeemed))) {
      AddChart(grid, 'coupon_lines', 'Coupons by line: may be claimed, claimed, redeemed' + largest,
               CouponLinesOption(lines), 'wide');
    }
    if (!NamedBars(grid, 'coupon_discounts', 'Discount given by coupon line' + largest, lines, 'discount_fen',
                   FormatYuan)) {
      part.body.appendChild(NotMeasured('discount by coupon line'));
    }
    part.body.appendChild(Table(
        ['coupon line', 'funded by', 'terms', 'may be claimed', 'claims', 'claimed', 'exhausted', 'redeemed',
         'held', 'discount'],
        lines.map(l => [String(l.name), l.funded_by || '—', CouponTerms(l), FormatInt(l.count), FormatInt(l.claims),
                        FormatInt(l.claimed), FormatInt(l.exhausted), FormatInt(l.redeemed), FormatInt(l.held),
                        FormatYuan(l.discount_fen)]),
        3));
  }

  // Units ever under a deposit, and what became of them: balance paid, still open, forfeited.
  function DrawPresale(grid, presale) {
    const bars = [['deposited units', presale.deposited_units, kColors[1]], ['converted', presale.converted, kColors[2]],
                  ['pending', presale.pending, kColors[3]], ['forfeited', presale.forfeited, kColors[0]]]
        .filter(([, n]) => IsNumber(n));
    if (bars.length === 0) return false;
    AddChart(grid, 'presale', 'Pre-sale units: deposited, converted at the balance, pending, forfeited', {
      tooltip: {trigger: 'axis', confine: true, valueFormatter: FormatInt},
      legend: {show: false},
      xAxis: {type: 'category', data: bars.map(([name]) => name)},
      yAxis: {type: 'value', name: 'units', axisLabel: {formatter: FormatCompact}},
      series: [{type: 'bar', name: 'units', barMaxWidth: 56,
                data: bars.map(([, n, color]) => ({value: n, itemStyle: {color: color}})),
                label: {show: true, position: 'top', formatter: p => FormatInt(p.value)}}],
    });
    return true;
  }

  function PromotionFacts(sales, coupons, presale) {
    const rows = [];
    const OfGross = fen => IsNumber(fen) && IsNumber(sales.gross_fen) && sales.gross_fen > 0 ?
        FormatPercent(fen / sales.gross_fen, 2) + ' of gross' : null;
    if (Measured(sales)) {
      rows.push(['gross', FormatYuan(sales.gross_fen),
                 IsNumber(sales.orders) ? FormatInt(sales.orders) + ' paid orders' +
                     (IsNumber(sales.units) ? ', ' + FormatInt(sales.units) + ' units' : '') : null],
                ['discounts', FormatYuan(sales.discounts_fen), OfGross(sales.discounts_fen)],
                ['refunds', FormatYuan(sales.refunds_fen), OfGross(sales.refunds_fen)],
                ['net', FormatYuan(sales.net_fen), 'gross − discounts − refunds']);
    }
    if (Measured(coupons)) {
      const Share = fen => IsNumber(fen) && IsNumber(coupons.discount_fen) && coupons.discount_fen > 0 ?
          FormatPercent(fen / coupons.discount_fen, 0) + ' of the coupons’ cost' : null;
      rows.push(['coupons paid for by the platform', FormatYuan(coupons.platform_discount_fen),
                 Share(coupons.platform_discount_fen)],
                ['coupons paid for by shops', FormatYuan(coupons.shop_discount_fen), Share(coupons.shop_discount_fen)],
                ['coupon claims granted', FormatInt(coupons.claims_granted),
                 IsNumber(coupons.claims) ? 'of ' + FormatInt(coupons.claims) + ' claims' +
                     (IsNumber(coupons.claims_exhausted) ? ', ' + FormatInt(coupons.claims_exhausted) + ' found none left' : '')
                     : null],
                ['coupons redeemed', FormatInt(coupons.redeemed),
                 IsNumber(coupons.held) ? FormatInt(coupons.held) + ' still held by unpaid orders' : null]);
    }
    if (Measured(presale)) {
      const share = IsNumber(presale.conversion_share) ? presale.conversion_share :
          (IsNumber(presale.converted) && presale.deposited_units > 0 ? presale.converted / presale.deposited_units : null);
      rows.push(['pre-sale conversion', FormatPercent(share, 1),
                 IsNumber(presale.converted) && IsNumber(presale.deposited_units) ?
                     FormatInt(presale.converted) + ' of ' + FormatInt(presale.deposited_units) + ' deposited units' : null],
                ['pre-sale units forfeited', FormatInt(presale.forfeited),
                 IsNumber(presale.forfeited_fen) ? FormatYuan(presale.forfeited_fen) + ' of deposits kept' : null],
                ['pre-sale deposits', FormatInt(presale.deposits),
                 IsNumber(presale.deposit_fen) ? FormatYuan(presale.deposit_fen) + ' paid the day before' : null]);
    }
    return Facts(rows);
  }

  function DrawPromotions(summary) {
    const part = Section('promotions', 'Promotions',
        'What discounts and refunds took off the paid orders’ gross value (the engine’s sales figures); ' +
        'coupons by line, and who paid for them; the pre-sale’s deposits, converted at the balance or forfeited.');
    const sales = Measured(summary.sales) ? summary.sales : {};
    const promotions = Measured(summary.promotions) ? summary.promotions : {};
    const coupons = Measured(promotions.coupons) ? promotions.coupons : {};
    const presale = Measured(promotions.presale) ? promotions.presale : {};
    if (!Measured(sales) && !Measured(coupons) && !Measured(presale)) return MarkNotMeasured(part);
    part.body.appendChild(PromotionFacts(sales, coupons, presale));
    const grid = ChartGrid(part.body);
    if (IsNumber(sales.gross_fen) && IsNumber(sales.net_fen)) {
      const waterfall = SalesWaterfall(sales, coupons, presale);
      AddChart(grid, 'sales_waterfall', 'GMV before and after discounts and refunds (paid orders)' +
                   (waterfall.axis_min > 0 ? '; the axis starts at ' + FormatYuanWhole(waterfall.axis_min) : ''),
               waterfall.option, 'wide');
    } else {
      part.body.appendChild(NotMeasured('GMV before and after discounts'));
    }
    if (Measured(coupons)) DrawCoupons(grid, part, coupons);
    else part.body.appendChild(NotMeasured('coupons'));
    if (!DrawPresale(grid, presale)) part.body.appendChild(NotMeasured('pre-sale'));
  }

  // ---------------------------------------------------------------- main

  function ResizeAll() { for (const chart of charts) chart.resize(); }

  function Main() {
    if (typeof echarts === 'undefined') throw new Error('Apache ECharts is not inlined in this page');
    const summary = ReadSummary();
    const seed = SeedFigures(summary);
    const timeline = Timeline(summary);
    if (summary.scenario && summary.scenario.name) {
      document.title = 'eleven festival report — ' + summary.scenario.name;
    }
    DrawHeader(summary, seed);
    DrawTraffic(summary, seed, timeline);
    DrawGmv(summary, timeline);
    DrawLatency(summary, timeline);
    DrawDrops(summary);
    DrawFulfilment(summary, seed, timeline);
    DrawBreakdowns(summary, seed);
    DrawRejections(summary);
    DrawPayments(summary);
    DrawPromotions(summary);
    document.getElementById('footer').appendChild(El('p', {class: 'note'}, [
        'Charts by Apache ECharts ' + echarts.version + ', bundled in this file.']));
    all_charts_built = true;
    document.body.dataset.chartsExpected = String(charts.length);
    UpdateRenderState();
    window.addEventListener('resize', ResizeAll);
    window.addEventListener('beforeprint', ResizeAll);
    window.addEventListener('afterprint', ResizeAll);
  }

  try {
    Main();
  } catch (error) {
    document.body.dataset.reportState = 'failed';
    if (window.elevenRecordError) window.elevenRecordError('report: ' + (error && error.stack || error));
    document.getElementById('sections').appendChild(
        El('p', {class: 'error'}, ['The report could not be drawn: ' + (error && error.message || error)]));
  }
})();
