// Switchyard dashboard: polls GET /models and GET /models/performance, keeps a short history per
// version in this page (nothing is stored anywhere else), draws it with Chart.js when the server
// embeds it, and sends promote / rollback calls with the bearer token typed into the page.
(function () {
  'use strict';
  var POLL_MS = 2000;      // how often the routes are read
  var HISTORY = 150;       // points kept per version (5 minutes at 2 s)
  var STAGES = ['Development', 'Staging', 'Production', 'Archived', 'Rejected'];
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                 '#17becf'];
  var CHARTS = [
    {id: 'rate-chart', field: 'rate', y: 'requests per second'},
    {id: 'latency-chart', field: 'latency', y: 'ms'},
    {id: 'error-chart', field: 'errorRate', y: '% of requests'}
  ];
  var opened = Date.now();
  var series = {};         // model_id -> {label, colour, last, points: [{t, rate, latency, errorRate}]}
  var charts = {};         // canvas id -> Chart
  var layout = '';         // what the deployments table shows, to rebuild it only on change
  var polls = 0;
  var shown = 0;           // versions in the last poll

  function byId(id) { return document.getElementById(id); }
  // An element with text (never parsed as markup) and attributes.
  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function fixed(x, digits) { return x === null || x === undefined ? '–' : x.toFixed(digits); }

  function getJson(path) {
    return fetch(path, {cache: 'no-store', credentials: 'omit'}).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(path + ': ' + (body.error || r.status));
        return body;
      });
    });
  }

  // A read that may answer 404 (no rollout yet): null then.
  function getOptional(path) {
    return fetch(path, {cache: 'no-store', credentials: 'omit'}).then(function (r) {
      if (r.status === 404) return null;
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(path + ': ' + (body.error || r.status));
        return body;
      });
    });
  }

  // A control-plane call with the token from the field (sent only in this request's header).
  function act(path, body, what) {
    var headers = {'Content-Type': 'application/json', 'X-Switchyard-Actor': 'dashboard'};
    var token = byId('token').value.trim();
    if (token) headers.Authorization = 'Bearer ' + token;
    var out = byId('action-result');
    out.className = '';
    out.textContent = what + '…';
    fetch(path, {method: 'POST', headers: headers, body: JSON.stringify(body), cache: 'no-store',
                 credentials: 'omit'})
      .then(function (r) {
        return r.json().then(function (b) {
          if (!r.ok) throw new Error(r.status + ' ' + (b.error || ''));
          out.textContent = b.model_id === undefined
              ? what + ': done (the rollout is ' + b.status + ')'
              : what + ': done (' + b.model_id + ' is ' + b.stage + ', ' +
                b.traffic_percent + '% of traffic)';
        });
      })
      .catch(function (e) { out.className = 'error'; out.textContent = what + ': ' + e.message; })
      .then(poll);
  }

  function versionRow(v) {
    var tr = el('tr', null, {'data-model-id': v.model_id});
    tr.appendChild(el('td', v.version));
    tr.appendChild(el('td', v.model_id));
    tr.appendChild(el('td', v.stage, {'data-field': 'stage'}));
    tr.appendChild(el('td', v.status, {'class': v.status === 'active' ? 'active' : ''}));
    tr.appendChild(el('td', v.traffic_percent + '%', {'class': 'num'}));
    tr.appendChild(el('td', v.request_count, {'class': 'num', 'data-field': 'requests'}));
    tr.appendChild(el('td', fixed(v.avg_latency_ms, 3), {'class': 'num', 'data-field': 'latency'}));
    tr.appendChild(el('td', v.errors || 0, {'class': 'num', 'data-field': 'errors'}));
    var actions = el('td');
    var pct = el('input', null, {type: 'number', min: '0', max: '100', step: '1',
                                 'class': 'pct', 'aria-label': 'traffic percent'});
    pct.value = v.traffic_percent;
    var setTraffic = el('button', 'Set traffic', {type: 'button'});
    setTraffic.addEventListener('click', function () {
      act('/models/' + encodeURIComponent(v.model_id) + '/activate',
          {traffic_percent: Number(pct.value)}, 'traffic of ' + v.model_id);
    });
    var stage = el('select', null, {'aria-label': 'stage'});
    STAGES.forEach(function (s) {
      var o = el('option', s, {value: s});
      if (s === v.stage) o.selected = true;
      stage.appendChild(o);
    });
    var move = el('button', 'Transition', {type: 'button'});
    move.addEventListener('click', function () {
      act('/models/' + encodeURIComponent(v.model_id) + '/transition',
          {stage: stage.value, reason: 'from the dashboard'}, v.model_id + ' to ' + stage.value);
    });
    actions.appendChild(pct);
    actions.appendChild(setTraffic);
    actions.appendChild(stage);
    actions.appendChild(move);
    tr.appendChild(actions);
    return tr;
  }

  // The deployments table: rebuilt when versions, stages or traffic change (so a value being
  // typed survives polls), its counters refreshed in place otherwise.
  function showModels(versions) {
    var shape = JSON.stringify(versions.map(function (v) {
      return [v.model_id, v.stage, v.status, v.traffic_percent];
    }));
    var box = byId('models');
    if (shape !== layout) {
      layout = shape;
      box.textContent = '';
      if (versions.length === 0) {
        box.appendChild(el('p', 'No model is registered yet (POST /models).', {'class': 'note'}));
      }
      var names = [];
      versions.forEach(function (v) { if (names.indexOf(v.name) < 0) names.push(v.name); });
      names.forEach(function (name) {
        var h = el('h3', name + ' ');
        var back = el('button', 'Roll back', {type: 'button'});
        back.addEventListener('click', function () {
          act('/models/' + encodeURIComponent(name) + '/rollback',
              {reason: 'from the dashboard'}, 'rollback of ' + name);
        });
        h.appendChild(back);
        box.appendChild(h);
        var table = el('table', null, {'data-model': name});
        var head = el('tr');
        ['version', 'model id', 'stage', 'status', 'traffic', 'requests', 'mean latency ms',
         'errors', 'promote'].forEach(function (t) { head.appendChild(el('th', t)); });
        table.appendChild(el('thead')).appendChild(head);
        var body = el('tbody');
        versions.filter(function (v) { return v.name === name; })
                .forEach(function (v) { body.appendChild(versionRow(v)); });
        table.appendChild(body);
        box.appendChild(table);
      });
      return;
    }
    versions.forEach(function (v) {
      var row = box.querySelector('tr[data-model-id="' + CSS.escape(v.model_id) + '"]');
      if (!row) return;
      row.querySelector('[data-field=requests]').textContent = v.request_count;
      row.querySelector('[data-field=latency]').textContent = fixed(v.avg_latency_ms, 3);
      row.querySelector('[data-field=errors]').textContent = v.errors || 0;
    });
  }

  // One sample per version: the rate, mean latency and error rate of the interval since the
  // previous poll, from the differences of the cumulative counters.
  function record(versions, now) {
    var t = (now - opened) / 1000;
    versions.forEach(function (v) {
      var s = series[v.model_id];
      if (!s) {
        s = series[v.model_id] = {
          label: v.name + ' ' + v.version + ' (' + v.model_id + ')',
          colour: PALETTE[Object.keys(series).length % PALETTE.length],
          last: null, points: []
        };
      }
      var cur = {t: t, requests: v.request_count,
                 latencySum: (v.avg_latency_ms || 0) * v.request_count, errors: v.errors || 0};
      if (s.last && t > s.last.t) {
        var n = cur.requests - s.last.requests;
        s.points.push({
          t: t,
          rate: Math.max(0, n) / (t - s.last.t),
          latency: n > 0 ? (cur.latencySum - s.last.latencySum) / n : null,
          errorRate: n > 0 ? 100 * (cur.errors - s.last.errors) / n : null
        });
        if (s.points.length > HISTORY) s.points.shift();
      }
      s.last = cur;
    });
  }

  function showLatest(versions) {
    var body = byId('latest').querySelector('tbody');
    body.textContent = '';
    versions.forEach(function (v) {
      var s = series[v.model_id];
      var p = s && s.points.length ? s.points[s.points.length - 1] : null;
      var tr = el('tr');
      tr.appendChild(el('td', v.name));
      tr.appendChild(el('td', v.version));
      tr.appendChild(el('td', v.model_id));
      tr.appendChild(el('td', p ? fixed(p.rate, 1) : '–', {'class': 'num'}));
      tr.appendChild(el('td', p ? fixed(p.latency, 3) : '–', {'class': 'num'}));
      tr.appendChild(el('td', p ? fixed(p.errorRate, 2) : '–', {'class': 'num'}));
      body.appendChild(tr);
    });
  }

  // Draws (or redraws) the three charts; a canvas gets data-rendered="true" once it shows at
  // least one point and holds painted pixels, and the body once all three do.
  function draw() {
    if (document.body.getAttribute('data-charts') !== 'available' ||
        typeof Chart === 'undefined') {
      return;
    }
    var drawn = 0;
    CHARTS.forEach(function (c) {
      var points = 0;
      var datasets = Object.keys(series).map(function (id) {
        var s = series[id];
        var data = s.points.filter(function (p) { return p[c.field] !== null; })
                           .map(function (p) { return {x: p.t, y: p[c.field]}; });
        points += data.length;
        return {label: s.label, data: data, borderColor: s.colour, backgroundColor: s.colour,
                pointRadius: 2, borderWidth: 2, showLine: true};
      });
      var canvas = byId(c.id);
      var chart = charts[c.id];
      if (!chart) {
        chart = charts[c.id] = new Chart(canvas.getContext('2d'), {
          type: 'scatter',
          data: {datasets: datasets},
          options: {
            animation: false,
            responsive: false,
            plugins: {legend: {position: 'bottom'}},
            scales: {
              x: {type: 'linear', title: {display: true, text: 'seconds since this page opened'}},
              y: {beginAtZero: true, title: {display: true, text: c.y}}
            }
          }
        });
      } else {
        chart.data.datasets = datasets;
        chart.update('none');
      }
      var px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      var painted = 0;
      for (var k = 3; k < px.length; k += 4) { if (px[k] !== 0) { painted++; } }
      if (points > 0 && painted > 0) {
        canvas.setAttribute('data-rendered', 'true');
        drawn++;
      }
    });
    if (drawn === CHARTS.length) document.body.setAttribute('data-rendered', 'true');
  }

  function pct(x) { return x === null || x === undefined ? '–' : (100 * x).toFixed(1) + '%'; }
  function table(headings, rows, attrs) {
    var t = el('table', null, attrs);
    var head = el('tr');
    headings.forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(el('thead')).appendChild(head);
    var body = el('tbody');
    rows.forEach(function (r) {
      var tr = el('tr');
      r.forEach(function (cell) {
        tr.appendChild(cell instanceof Element ? cell : el('td', cell, {'class': 'num'}));
      });
      body.appendChild(tr);
    });
    t.appendChild(body);
    return t;
  }

  // Canary progress: the step reached, the weights, the last analysis and the manual actions.
  function showCanaries(rollouts) {
    var box = byId('canary');
    box.textContent = '';
    var any = false;
    Object.keys(rollouts).forEach(function (name) {
      var c = rollouts[name];
      if (!c) return;
      any = true;
      var panel = el('div', null, {'class': 'panel', 'data-canary': name,
                                   'data-status': c.status});
      var h = el('h3', name + ': ' + c.candidate.version + ' against ' + c.stable.version + ' ');
      panel.appendChild(h);
      var p = el('p');
      var done = c.live ? c.step : c.step_count;
      p.appendChild(el('progress', null, {value: String(done), max: String(c.step_count),
                                          'aria-label': 'canary progress'}));
      p.appendChild(el('span', ' step ' + Math.min(c.step + 1, c.step_count) + ' of ' +
                               c.step_count + ', ' + c.status + ', candidate ' +
                               c.weights.canary + '% / stable ' + c.weights.stable + '%',
                       {'data-field': 'canary-summary'}));
      panel.appendChild(p);
      if (c.live) {
        [['Pause', 'pause'], ['Resume', 'resume'], ['Abort', 'abort']].forEach(function (a) {
          var b = el('button', a[0], {type: 'button', 'data-action': a[1]});
          b.addEventListener('click', function () {
            act('/models/' + encodeURIComponent(name) + '/canary/' + a[1],
                {reason: 'from the dashboard'}, a[1] + ' of the ' + name + ' canary');
          });
          p.appendChild(b);
        });
      }
      var checks = c.last_analysis ? c.last_analysis.checks || [] : [];
      if (checks.length) {
        panel.appendChild(table(['rule', 'state', 'stable', 'candidate', 'limit'],
          checks.map(function (k) {
            return [k.key, k.state, fixed(k.stable, 4), fixed(k.candidate, 4), fixed(k.limit, 4)];
          })));
      }
      box.appendChild(panel);
    });
    if (!any) box.appendChild(el('p', 'No canary rollout yet (POST /models/{name}/canary).',
                                 {'class': 'note'}));
  }

  // Shadow agreement: per shadow version, what was mirrored and how often it agreed.
  function showShadows(reports) {
    var box = byId('shadow');
    box.textContent = '';
    var rows = [];
    Object.keys(reports).forEach(function (name) {
      (reports[name] ? reports[name].versions : []).forEach(function (v) {
        var dropped = v.dropped.queue_full + v.dropped.over_budget + v.dropped.stopped;
        rows.push([name, v.version, pct(v.share), v.sampled, v.compared_rows,
                   el('td', pct(v.compared_rows ? v.agreement_rate : null),
                      {'class': 'num', 'data-field': 'agreement'}),
                   dropped, v.shadow_errors]);
      });
    });
    if (!rows.length) {
      box.appendChild(el('p', 'No shadow version yet (POST /models/{name}/shadows).',
                         {'class': 'note'}));
      return;
    }
    box.appendChild(table(['model', 'shadow version', 'share', 'sampled', 'compared',
                           'agreement', 'dropped', 'errors'], rows, {id: 'shadow-table'}));
  }

  // Drift per feature of the last closed window, against the training set's profile.
  function showDrift(reports) {
    var box = byId('drift');
    box.textContent = '';
    Object.keys(reports).forEach(function (name) {
      var d = reports[name];
      if (!d) return;
      if (!d.report) {
        box.appendChild(el('p', name + ': ' + d.reason + ' (windows of ' + d.window_s + ' s).',
                           {'class': 'note'}));
        return;
      }
      box.appendChild(el('h3', name + ': ' + d.report.rows + ' requests in the last window' +
                               (d.report.dataset_drift ? ', dataset drift' : '')));
      box.appendChild(table(['feature', 'test', 'score', 'threshold', 'drift'],
        d.report.features.map(function (f) {
          return [f.name, f.test, fixed(f.score, 4), fixed(f.threshold, 4),
                  el('td', f.status !== 'ok' ? 'unknown' : (f.drift ? 'yes' : 'no'),
                     {'class': f.drift ? 'drift' : '', 'data-feature': f.name})];
        }), {'data-drift': name}));
    });
  }

  // The canary, shadow and drift routes of every model, read after the deployments.
  function pollPanels(versions) {
    var names = [];
    versions.forEach(function (v) { if (names.indexOf(v.name) < 0) names.push(v.name); });
    var reads = [];
    names.forEach(function (name) {
      var base = '/models/' + encodeURIComponent(name);
      reads.push(getOptional(base + '/canary'), getOptional(base + '/shadows'),
                 getOptional(base + '/drift'));
    });
    return Promise.all(reads).then(function (a) {
      var canaries = {}, shadows = {}, drift = {};
      names.forEach(function (name, i) {
        canaries[name] = a[3 * i];
        shadows[name] = a[3 * i + 1];
        drift[name] = a[3 * i + 2];
      });
      showCanaries(canaries);
      showShadows(shadows);
      showDrift(drift);
    });
  }

  function poll() {
    return Promise.all([getJson('/models'), getJson('/models/performance')])
      .then(function (answers) {
        var errors = {};
        answers[1].models.forEach(function (p) { errors[p.model_id] = p.errors; });
        var versions = answers[0].models.map(function (v) {
          v.errors = errors[v.model_id] || 0;
          return v;
        });
        record(versions, Date.now());
        showModels(versions);
        showLatest(versions);
        draw();
        shown = versions.length;
        return pollPanels(versions);
      })
      .then(function () {
        polls++;
        document.body.setAttribute('data-polls', String(polls));
        var status = byId('status');
        status.className = '';
        status.textContent = shown + ' versions, updated ' + new Date().toLocaleTimeString();
      })
      .catch(function (e) {
        var status = byId('status');
        status.className = 'error';
        status.textContent = 'cannot read the server: ' + e.message;
      });
  }

  // The token field lives in a form only so browsers treat it as a password; it is never sent
  // anywhere but in the Authorization header of a promote or rollback call.
  byId('auth').addEventListener('submit', function (e) { e.preventDefault(); });
  poll();
  setInterval(poll, POLL_MS);
})();
