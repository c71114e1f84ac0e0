/* codingworker status page: app.js
 * Polls the JSON API under /api/ and renders the worker, the queue, the runs in progress
 * (step table, live log over server-sent events, cancel button), recent runs and per-model
 * stats. SECURITY: issue titles, logs, step messages, model, repo and branch names are
 * hostile text. Every piece of data is rendered with createElement + textContent, never
 * innerHTML; links get an href only for http(s) URLs. No eval, no inline styles (strict CSP).
 */
'use strict';
(function () {
  var TOKEN = new URLSearchParams(window.location.search).get('token');
  var LOG_MAX = 200 * 1024;
  var STEP_COLS = ['#', 'step', 'kind', 'attempt', 'model', 'status', 'duration', 'message'];
  var live = new Map(); // run id -> entry of a run in progress (its article, stream, log)
  var openDetails = new Set(); // recent-run ids whose detail row is open
  var errors = {};
  var lastRuns = [];
  var statusGen = 0;

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function cls(s) { return String(s == null ? '' : s).replace(/[^A-Za-z0-9_-]/g, ''); }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function dash(v) { return v === null || v === undefined || v === '' ? '—' : String(v); }

  // 450ms, 1.2s, 3m 12s, 1h 05m
  function fmtMs(ms) {
    if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return '—';
    ms = Math.round(ms);
    if (ms < 1000) return ms + 'ms';
    if (ms < 59950) return (ms / 1000).toFixed(1) + 's';
    var s = Math.round(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + 'm ' + pad(s % 60) + 's';
    return Math.floor(s / 3600) + 'h ' + pad(Math.floor(s / 60) % 60) + 'm';
  }

  function fmtTime(iso) {
    if (!iso) return '—';
    var d = new Date(String(iso));
    if (isNaN(d.getTime())) return String(iso);
    var t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    if (d.toDateString() === new Date().toDateString()) return t;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
  }

  function timeEl(tag, iso) {
    var e = el(tag, 'time', fmtTime(iso));
    if (iso) e.title = String(iso);
    return e;
  }

  function elapsed(run) {
    if (run.status === 'running') {
      var t = Date.parse(run.started_at);
      return isNaN(t) ? null : Math.max(0, Date.now() - t);
    }
    return run.duration_ms;
  }

  function statusEl(tag, status, title) {
    var e = el(tag, 'status status-' + cls(status), dash(status));
    if (title) e.title = title;
    return e;
  }

  function field(label, value) {
    var f = el('span', 'field');
    f.appendChild(el('span', 'label', label));
    f.appendChild(document.createTextNode(' '));
    f.appendChild(value instanceof Node ? value : el('span', 'value', dash(value)));
    return f;
  }

  function safeUrl(u) { return typeof u === 'string' && /^https?:\/\//i.test(u); }

  function parse(data) { try { return JSON.parse(data); } catch (_) { return null; } }

  // fetch with the page's token, if any; rejects with the server's {"error"} message.
  function api(path, opts) {
    opts = opts || {};
    var headers = Object.assign({}, opts.headers || {});
    if (TOKEN) headers.Authorization = 'Bearer ' + TOKEN;
    return fetch(path, { method: opts.method || 'GET', headers: headers, cache: 'no-store',
      credentials: 'same-origin' }).then(function (res) {
      return res.text().then(function (txt) {
        var body = parse(txt);
        if (!res.ok) {
          var msg = body && typeof body.error === 'string' ? body.error : (res.status + ' ' + res.statusText).trim();
          throw new Error(msg);
        }
        return body;
      });
    });
  }

  function showErrors() {
    var list = Object.keys(errors).filter(function (k) { return errors[k]; })
      .map(function (k) { return k + ': ' + errors[k]; });
    $('error').textContent = list.join(' · ');
  }
  function ok(key) {
    errors[key] = '';
    showErrors();
    $('refreshed').textContent = 'Last refresh: ' + fmtTime(new Date().toISOString());
  }
  function fail(key, err) {
    errors[key] = err && err.message ? err.message : String(err);
    showErrors();
  }

  // ---- step tables (in progress and recent-run details) ----

  function stepModel(s) {
    if (s.model) return String(s.model);
    var m = s.attempt_keys && s.attempt_keys.model;
    if (m === undefined || m === null) return '—';
    return typeof m === 'string' ? m : JSON.stringify(m);
  }

  function fillSteps(tbody, steps) {
    var rows = (Array.isArray(steps) ? steps : []).map(function (s) {
      var tr = el('tr');
      tr.appendChild(el('td', 'num', dash(s.seq)));
      var id = el('td', 'mono', dash(s.id));
      if (s.name) id.appendChild(el('span', 'step-name', ' ' + s.name));
      tr.appendChild(id);
      tr.appendChild(el('td', null, dash(s.kind)));
      tr.appendChild(el('td', 'num', dash(s.attempt)));
      tr.appendChild(el('td', 'mono', stepModel(s)));
      tr.appendChild(statusEl('td', s.status, s.exit_code == null ? '' : 'exit code ' + s.exit_code));
      tr.appendChild(el('td', 'num', s.status === 'running' ? '…' : fmtMs(s.duration_ms)));
      tr.appendChild(el('td', 'message', s.message || ''));
      return tr;
    });
    if (!rows.length) rows.push(emptyRow('No steps yet.', STEP_COLS.length));
    tbody.replaceChildren.apply(tbody, rows);
  }

  function stepsTable(steps) {
    var table = el('table', 'steps'), head = el('tr'), tbody = el('tbody');
    STEP_COLS.forEach(function (c) { head.appendChild(el('th', null, c)); });
    table.appendChild(el('thead')).appendChild(head);
    table.appendChild(tbody);
    fillSteps(tbody, steps);
    return table;
  }

  // ---- worker and queue ----

  function renderWorker(w) {
    $('worker').replaceChildren(field('version', w.version), field('pid', w.pid),
      field('queue', el('span', 'mono', dash(w.queue_url))), field('concurrency', w.concurrency),
      field('started', timeEl('span', w.started_at)));
  }

  function renderQueue(q) {
    $('queue-visible').textContent = dash(q.visible);
    $('queue-in-flight').textContent = dash(q.in_flight);
    $('queue-dlq').textContent = dash(q.dead_letters);
    $('queue-checked').textContent = fmtTime(q.checked_at);
    var err = $('queue-error');
    err.textContent = q.error ? String(q.error) : '';
    err.hidden = !q.error;
  }

  // ---- runs in progress ----

  function newEntry(run) {
    var e = { run: run, es: null, ended: false, cancelling: false, buf: '', lastSeq: null };
    e.article = el('article', 'run');
    e.article.dataset.runId = run.id;
    var head = el('header', 'run-head');
    e.title = head.appendChild(el('h3', 'issue-title'));
    e.status = head.appendChild(el('span'));
    e.meta = el('p', 'run-meta');
    var table = stepsTable([]);
    e.tbody = table.tBodies[0];
    e.log = el('pre', 'log');
    var actions = el('p', 'actions');
    e.btn = actions.appendChild(el('button', 'cancel', 'Cancel'));
    e.btn.type = 'button';
    e.note = actions.appendChild(el('span', 'cancel-status'));
    e.btn.addEventListener('click', function () { cancelRun(e); });
    [head, e.meta, table, e.log, actions].forEach(function (n) { e.article.appendChild(n); });
    $('current-runs').appendChild(e.article);
    live.set(run.id, e);
    return e;
  }

  function updateEntry(e, run) {
    e.run = run;
    e.title.textContent = run.issue_title || '(no title)';
    var st = statusEl('span', run.status);
    e.status.replaceWith(st);
    e.status = st;
    var steps = Array.isArray(run.steps) ? run.steps : [];
    var cur = steps.filter(function (s) { return s.status === 'running'; }).pop() || steps[steps.length - 1];
    var started = timeEl('span', run.started_at);
    started.appendChild(document.createTextNode(' (' + fmtMs(elapsed(run)) + ')'));
    e.meta.replaceChildren(field('run', el('span', 'mono', run.id)),
      field('issue', el('span', 'mono', dash(run.repo) + '#' + dash(run.issue))),
      field('playbook', dash(run.playbook_name) + ' (' + dash(run.playbook) + ')'),
      field('branch', el('span', 'mono', dash(run.branch))), field('started', started),
      field('step', cur ? cur.id + ' (' + cur.kind + ', ' + cur.status + ')' : '—'));
    fillSteps(e.tbody, steps);
    setCancelButton(e);
  }

  function setCancelButton(e) {
    var busy = e.cancelling || !!e.run.cancel_requested;
    e.btn.disabled = busy || e.run.status !== 'running';
    e.btn.textContent = busy ? 'Cancelling…' : 'Cancel';
  }

  function cancelRun(e) {
    if (e.cancelling) return;
    e.cancelling = true;
    setCancelButton(e);
    e.note.className = 'cancel-status';
    e.note.textContent = '';
    api('/api/runs/' + encodeURIComponent(e.run.id) + '/cancel',
      { method: 'POST', headers: { 'X-Codingworker': 'cancel' } }).then(function (body) {
      e.note.textContent = body && body.status ? String(body.status) : 'stopping';
    }, function (err) {
      e.cancelling = false;
      e.note.className = 'cancel-status error';
      e.note.textContent = err && err.message ? err.message : String(err);
      setCancelButton(e);
    });
  }

  function appendLog(e, d) {
    var text = String(d.text);
    if (e.lastSeq !== null && d.seq !== e.lastSeq) {
      text = (e.buf && e.buf.slice(-1) !== '\n' ? '\n' : '') + '── ' + dash(d.seq) + ' ' + dash(d.step) + ' ──\n' + text;
    }
    e.lastSeq = d.seq;
    var pre = e.log;
    var atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    e.buf += text;
    if (e.buf.length > LOG_MAX) {
      var cut = e.buf.length - LOG_MAX, nl = e.buf.indexOf('\n', cut);
      e.buf = e.buf.slice(nl >= 0 && nl - cut < 4096 ? nl + 1 : cut);
    }
    pre.textContent = e.buf;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function openStream(e) {
    var url = '/api/runs/' + encodeURIComponent(e.run.id) + '/events';
    if (TOKEN) url += '?token=' + encodeURIComponent(TOKEN);
    var es = new EventSource(url);
    e.es = es;
    // Every (re)connection starts with the tail of the logs again: start the view afresh.
    es.addEventListener('open', function () { e.buf = ''; e.lastSeq = null; e.log.textContent = ''; });
    es.addEventListener('log', function (ev) {
      var d = parse(ev.data);
      if (d && typeof d.text === 'string') appendLog(e, d);
    });
    es.addEventListener('run', function (ev) {
      var d = parse(ev.data);
      if (d && d.id === e.run.id) updateEntry(e, d);
    });
    es.addEventListener('end', function () {
      e.ended = true;
      closeStream(e);
      setTimeout(function () { refreshStatus(); refreshRuns(); refreshStats(); }, 300);
    });
    es.addEventListener('error', function () {
      if (es.readyState === EventSource.CLOSED && e.es === es) e.es = null; // reopened on a poll
    });
  }

  function closeStream(e) {
    if (e.es) e.es.close();
    e.es = null;
  }

  function renderCurrent(runs) {
    var seen = new Set();
    runs.forEach(function (run) {
      if (!run || typeof run.id !== 'string') return;
      seen.add(run.id);
      var e = live.get(run.id) || newEntry(run);
      updateEntry(e, run);
      if (!e.es && !e.ended) openStream(e);
    });
    live.forEach(function (e, id) {
      if (seen.has(id)) return;
      closeStream(e);
      e.article.remove();
      live.delete(id);
    });
    var idle = $('idle');
    if (live.size && idle) idle.remove();
    if (!live.size && !idle) $('current').appendChild(el('p', 'muted', 'Nothing in progress.')).id = 'idle';
  }

  // ---- recent runs ----

  function detailRow(run) {
    var tr = el('tr', 'detail'), td = el('td');
    tr.dataset.detailFor = run.id;
    td.colSpan = 7;
    td.appendChild(el('p', 'run-meta')).append(field('trigger', run.trigger),
      field('playbook', dash(run.playbook_name) + ' (' + dash(run.playbook) + ')'),
      field('branch', el('span', 'mono', dash(run.branch))), field('finished', timeEl('span', run.finished_at)),
      field('task', el('span', 'mono', dash(run.task_id))), field('run dir', el('span', 'mono', dash(run.run_dir))));
    td.appendChild(stepsTable(run.steps));
    tr.appendChild(td);
    return tr;
  }

  function toggle(id) {
    if (openDetails.has(id)) openDetails.delete(id); else openDetails.add(id);
    renderRecent(lastRuns);
  }

  function renderRecent(runs) {
    lastRuns = runs;
    var rows = [];
    runs.forEach(function (run) {
      if (!run || typeof run.id !== 'string') return;
      var tr = el('tr', 'run-row'), open = openDetails.has(run.id);
      tr.dataset.runId = run.id;
      tr.tabIndex = 0;
      tr.setAttribute('aria-expanded', open ? 'true' : 'false');
      tr.appendChild(el('td', 'mono', run.id));
      tr.appendChild(statusEl('td', run.status));
      tr.appendChild(el('td', 'mono', dash(run.repo) + '#' + dash(run.issue)));
      tr.appendChild(el('td', 'issue-title', run.issue_title || ''));
      tr.appendChild(timeEl('td', run.started_at));
      tr.appendChild(el('td', 'num', fmtMs(elapsed(run))));
      var pr = el('td');
      if (safeUrl(run.pr_url)) {
        var a = pr.appendChild(el('a', 'pr', run.pr_number != null ? '#' + run.pr_number : 'PR'));
        a.href = run.pr_url;
        a.rel = 'noopener noreferrer';
        a.target = '_blank';
        a.addEventListener('click', function (ev) { ev.stopPropagation(); });
      }
      tr.appendChild(pr);
      tr.addEventListener('click', function () { toggle(run.id); });
      tr.addEventListener('keydown', function (ev) {
        if (ev.target === tr && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); toggle(run.id); }
      });
      rows.push(tr);
      if (open) rows.push(detailRow(run));
    });
    if (!rows.length) rows.push(emptyRow('No runs yet.', 7));
    var tbody = $('recent-runs');
    tbody.replaceChildren.apply(tbody, rows);
  }

  // A row that says a table is empty, across its columns.
  function emptyRow(text, columns) {
    var tr = el('tr'), td = el('td', 'empty', text);
    td.colSpan = columns;
    tr.appendChild(td);
    return tr;
  }

  // ---- model stats ----

  function renderStats(list) {
    var rows = list.map(function (m) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', dash(m.model)));
      tr.appendChild(el('td', 'num', dash(m.attempts)));
      tr.appendChild(el('td', 'num', dash(m.solved)));
      var rate = typeof m.solve_rate === 'number' && isFinite(m.solve_rate) ? Math.round(m.solve_rate * 100) + '%' : '—';
      tr.appendChild(el('td', 'num', rate));
      tr.appendChild(el('td', 'num', fmtMs(m.mean_attempt_ms)));
      tr.appendChild(el('td', 'num', dash(m.timeouts)));
      return tr;
    });
    if (!rows.length) rows.push(emptyRow('No attempts yet.', 6));
    var tbody = $('model-stats');
    tbody.replaceChildren.apply(tbody, rows);
  }

  // ---- polling ----

  function refreshStatus() {
    var gen = ++statusGen;
    return api('/api/status').then(function (s) {
      if (gen !== statusGen) return; // a newer poll is on its way
      s = s || {};
      renderWorker(s.worker || {});
      renderQueue(s.queue || {});
      renderCurrent(Array.isArray(s.running) ? s.running : []);
      ok('status');
    }).catch(function (err) { fail('status', err); });
  }

  function refreshRuns() {
    return api('/api/runs?limit=20').then(function (runs) {
      renderRecent(Array.isArray(runs) ? runs : []);
      ok('runs');
    }).catch(function (err) { fail('runs', err); });
  }

  function refreshStats() {
    return api('/api/stats').then(function (list) {
      renderStats(Array.isArray(list) ? list : []);
      ok('stats');
    }).catch(function (err) { fail('stats', err); });
  }

  function every(ms, fn) {
    (function tick() { fn().then(function () { setTimeout(tick, ms); }); })();
  }

  every(2000, refreshStatus);
  every(5000, refreshRuns);
  every(5000, refreshStats);
})();
