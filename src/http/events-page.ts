// The live /events page: one HTML document with its CSS and script inline, shipped as a string
// in the package (nothing from a CDN, no file to find at run time). It loads the recent events
// from api/v1/events, then follows api/v1/events/stream (Server-Sent Events) from the returned
// cursor. Event data only ever reaches the page as textContent, never as HTML.
//
// The page's query string holds the same filters as the API's (kind, interface, netns: parsed by
// src/events/query.ts when the page is asked for, a bad one is a 400), passes them on to both
// requests unchanged, and shows them at the top. The controls in the page narrow what is shown
// further (interface contains, one kind) and keep their state in the address's fragment.
//
// The script is plain ES2017 without template literals, so it can live in this template string.

import { createHash } from 'node:crypto';
import { describeFilters, EVENT_KINDS, FILTER_PARAMS, type EventFilters } from '../events/query';

const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--card:#f6f8fa;--new:#fff8c5;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--card:#151b23;--new:#3a2f00;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--accent:#4493f8}}
*{box-sizing:border-box}
[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent)}
header{position:sticky;top:0;z-index:1;background:var(--bg);border-bottom:1px solid var(--line);padding:.6rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem}
h1{margin:0;font-size:1.1rem;flex:1 1 auto;min-width:0}
h1 a{text-decoration:none}
.status{display:inline-flex;align-items:center;gap:.35rem;font-size:.85rem;padding:.1rem .6rem;border:1px solid var(--line);border-radius:1rem;white-space:nowrap}
.status::before{content:"";width:.6rem;height:.6rem;border-radius:50%;background:var(--warn)}
.status[data-state=live]::before{background:var(--ok)}
.status[data-state=offline]::before{background:var(--bad)}
form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;flex:1 1 100%;margin:0}
label{display:flex;flex-direction:column;flex:1 1 12rem;max-width:24rem;min-width:0;font-size:.8rem;color:var(--muted)}
input,select{font:inherit;font-size:1rem;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.35rem .5rem;width:100%;min-width:0}
.count{margin:0;font-size:.85rem;color:var(--muted);flex:1 1 100%}
.active{margin:0;font-size:.85rem;flex:1 1 100%;overflow-wrap:anywhere}
main{padding:.5rem 1rem 2rem}
.notice{margin:.5rem 0;padding:.4rem .7rem;border-left:4px solid var(--warn);background:var(--card)}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{font-size:.8rem;color:var(--muted);font-weight:600;overflow-wrap:normal}
td.time{white-space:nowrap;font-variant-numeric:tabular-nums}
td.details{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
td.kind{font-weight:600;overflow-wrap:normal}
tr[data-kind=flap] td.kind,tr[data-action=removed] td.action,tr[data-action=dadfailed] td.action,tr[data-action=released] td.action{color:var(--bad)}
tr.new{animation:arrive 2.5s ease-out}
@keyframes arrive{from{background:var(--new)}to{background:transparent}}
@media (prefers-reduced-motion:reduce){tr.new{animation:none}}
.empty{color:var(--muted)}
@media (max-width:42rem){
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
table,tbody,tr,td{display:block;width:100%}
tr{border:1px solid var(--line);border-radius:8px;margin:.5rem 0;padding:.3rem .6rem;background:var(--card)}
td{display:grid;grid-template-columns:5.5rem minmax(0,1fr);gap:.5rem;border:0;padding:.1rem 0}
td::before{content:attr(data-label);color:var(--muted);font-family:system-ui,sans-serif;font-size:.8rem;font-weight:400}
td.time{white-space:normal}
}
`;

const SCRIPT = `
(function () {
  'use strict';
  var KINDS = ${JSON.stringify(EVENT_KINDS)};
  var MIN_ROWS = 1000;
  var RETRY_MS = 5000;
  var rows = document.getElementById('rows');
  var statusEl = document.getElementById('status');
  var countEl = document.getElementById('count');
  var noticeEl = document.getElementById('notice');
  var emptyEl = document.getElementById('empty');
  var ifaceInput = document.getElementById('f-interface');
  var kindSelect = document.getElementById('f-kind');
  var lastSeq = 0;
  // The page's own query (already checked by the exporter): the same filters for the API and the stream.
  var filterQuery = '';
  (function () {
    var q = new URLSearchParams(location.search);
    var out = new URLSearchParams();
    ${JSON.stringify(FILTER_PARAMS)}.forEach(function (k) {
      q.getAll(k).forEach(function (v) { out.append(k, v); });
    });
    filterQuery = out.toString() ? '&' + out.toString() : '';
  })();
  var maxRows = MIN_ROWS;
  var source = null;
  var retry = null;

  function setStatus(state, text) {
    statusEl.setAttribute('data-state', state);
    statusEl.textContent = text;
  }

  function notice(text) {
    noticeEl.textContent = text;
    noticeEl.hidden = false;
  }

  function pad(n, w) {
    var s = String(n);
    while (s.length < w) s = '0' + s;
    return s;
  }

  /** ISO 8601 in the browser's time zone, with its offset: 2026-12-06T05:56:29.123+01:00. */
  function fmtTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    var off = -d.getTimezoneOffset();
    var zone = off === 0 ? 'Z' : (off > 0 ? '+' : '-') + pad(Math.floor(Math.abs(off) / 60), 2) + ':' + pad(Math.abs(off) % 60, 2);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1, 2) + '-' + pad(d.getDate(), 2) + 'T' +
      pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3) + zone;
  }

  /** Whether an address event is, or ends, a failed duplicate address detection. */
  function dadFailed(e) {
    return e.kind === 'address' && (e.action === 'dadfailed' || (e.flags && e.flags.indexOf('dadfailed') !== -1));
  }

  function actionText(e) {
    if (e.kind === 'address' && e.action === 'dadfailed') return 'DAD failed';
    if (e.kind === 'address' && e.action === 'removed' && dadFailed(e)) return 'removed (DAD failed)';
    return String(e.action);
  }

  function change(e, field) {
    var now = e.state ? e.state[field] : undefined;
    var before = e.previous ? e.previous[field] : undefined;
    return field + ' ' + (before !== undefined && before !== now ? before + '\\u2192' + now : now);
  }

  function details(e) {
    var p = [];
    switch (e.kind) {
      case 'link':
        if (e.oldName !== undefined) p.push('was ' + e.oldName);
        p.push(change(e, 'admin'), change(e, 'oper'), change(e, 'carrier'));
        if (e.linkKind) p.push('kind ' + e.linkKind);
        if (e.mac) p.push(e.mac);
        break;
      case 'flap':
        p.push('flaps ' + e.flaps, 'oper now ' + e.oper);
        break;
      case 'address':
        if (dadFailed(e)) p.push('duplicate address: another host holds it;');
        p.push(e.family, e.address + '/' + e.prefixLength, 'scope ' + e.scope);
        if (e.flags && e.flags.length) p.push(e.flags.join(','));
        if (e.validLifetime !== undefined) p.push('valid_lft ' + e.validLifetime + 's');
        if (e.preferredLifetime !== undefined) p.push('preferred_lft ' + e.preferredLifetime + 's');
        break;
      case 'address_state':
        p.push(e.action === 'dadcomplete' ? 'duplicate address detection passed:' : 'preferred lifetime ran out:');
        p.push(e.family, e.address + '/' + e.prefixLength, 'scope ' + e.scope);
        if (e.flags && e.flags.length) p.push(e.flags.join(','));
        if (e.validLifetime !== undefined) p.push('valid_lft ' + e.validLifetime + 's');
        if (e.preferredLifetime !== undefined) p.push('preferred_lft ' + e.preferredLifetime + 's');
        break;
      case 'route':
        p.push(e.family, e.destination);
        if (e.nhid !== undefined) p.push('nhid ' + e.nhid);
        if (e.gateway !== undefined) p.push('via ' + e.gateway);
        if (e.scope !== undefined) p.push('scope ' + e.scope);
        if (e.prefsrc !== undefined) p.push('src ' + e.prefsrc);
        if (e.metric !== undefined) p.push('metric ' + e.metric);
        if (e.mtu !== undefined) p.push('mtu ' + e.mtu);
        (e.nexthops || []).forEach(function (nh) {
          p.push('nexthop' + (nh.gateway !== undefined ? ' via ' + nh.gateway : '') + (nh.interface ? ' dev ' + nh.interface : '') +
            ' weight ' + nh.weight + (nh.flags ? ' ' + nh.flags.join(' ') : ''));
        });
        if (e.moreNexthops !== undefined) p.push('(' + e.moreNexthops + ' more nexthops)');
        p.push('table ' + e.table, 'proto ' + e.protocol, e.type);
        if (e.count !== undefined) p.push(e.count + ' changes');
        break;
      case 'rule':
        p.push(e.family, e.rule);
        break;
      case 'nexthop':
        p.push('id ' + e.id, e.nexthop);
        break;
      case 'neighbour':
        p.push(e.family, e.destination);
        if (e.previousState !== undefined) p.push(e.previousState + '\\u2192failed');
        if (e.oldLladdr !== undefined) p.push(e.oldLladdr + '\\u2192' + (e.lladdr || ''));
        else if (e.lladdr !== undefined) p.push(e.lladdr);
        break;
      case 'vip':
        p.push(e.vip);
        if (e.name) p.push(e.name);
        p.push('held by ' + ((e.holders && e.holders.length) ? e.holders.join(',') : 'none'));
        break;
      case 'bond':
        if (e.action === 'failover' || e.action === 'active_lost') {
          p.push('active ' + (e.previousActive || 'none') + '\\u2192' + (e.active || 'none'));
        } else {
          p.push('bond ' + e.bond);
          if (e.state) p.push(e.state);
          if (e.mii) p.push('mii ' + (e.previousMii ? e.previousMii + '\\u2192' : '') + e.mii);
          if (e.linkFailures !== undefined) p.push(e.linkFailures + ' link failures');
        }
        break;
      case 'netconf':
        p.push(e.family, e.setting + ' ' + e.oldValue + '\\u2192' + e.value);
        break;
      case 'resync':
        p.push(e.reason);
        break;
      case 'setting':
        if (e.master !== undefined) p.push((e.action === 'released' ? 'from ' : 'to ') + e.master + (e.masterKind ? ' (' + e.masterKind + ')' : ''));
        if (e.mtu !== undefined) p.push('mtu ' + e.oldMtu + '\\u2192' + e.mtu);
        if (e.alias !== undefined) p.push('alias ' + JSON.stringify(e.oldAlias) + '\\u2192' + JSON.stringify(e.alias));
        if (e.altname !== undefined) p.push('altname ' + e.altname);
        if (e.flag !== undefined) p.push(e.flag + ' ' + (e.enabled ? 'off\\u2192on' : 'on\\u2192off'));
        break;
      case 'bridge_port':
        p.push('bridge ' + e.bridge + ':', e.previousState + '\\u2192' + e.state);
        break;
    }
    return p.join(' ');
  }

  function cell(tr, label, cls, text) {
    var td = document.createElement('td');
    td.className = cls;
    td.setAttribute('data-label', label);
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function makeRow(e, fresh) {
    var tr = document.createElement('tr');
    var iface = typeof e.interface === 'string' ? e.interface : '';
    tr.setAttribute('data-seq', String(e.seq));
    tr.setAttribute('data-kind', String(e.kind));
    tr.setAttribute('data-action', String(e.action));
    tr.setAttribute('data-interface', iface);
    if (fresh) tr.className = 'new';
    cell(tr, 'time', 'time', fmtTime(e.time)).title = String(e.time) + ' (seq ' + e.seq + ')';
    cell(tr, 'netns', 'netns', e.netns ? String(e.netns) : '-').title = e.netns ? '' : "the exporter's own namespace";
    cell(tr, 'kind', 'kind', String(e.kind));
    cell(tr, 'action', 'action', actionText(e));
    cell(tr, 'interface', 'interface', iface || '-');
    cell(tr, 'details', 'details', details(e));
    tr.hidden = !matches(tr);
    return tr;
  }

  function matches(tr) {
    var kind = kindSelect.value;
    var needle = ifaceInput.value.trim().toLowerCase();
    if (kind && tr.getAttribute('data-kind') !== kind) return false;
    return !needle || tr.getAttribute('data-interface').toLowerCase().indexOf(needle) !== -1;
  }

  function updateCount() {
    var all = rows.rows.length;
    var shown = 0;
    for (var i = 0; i < all; i++) if (!rows.rows[i].hidden) shown++;
    countEl.textContent = shown === all ? all + ' events' : shown + ' of ' + all + ' events shown';
    emptyEl.hidden = shown !== 0;
    emptyEl.textContent = all === 0
      ? (filterQuery ? 'No event matches the filters yet: they appear here as they happen.' : 'No events yet: they appear here as they happen.')
      : 'No event matches the filters.';
  }

  /** Adds events (oldest first) on top, newest first; skips any already shown. */
  function add(events, fresh) {
    var frag = document.createDocumentFragment();
    for (var i = 0; i < events.length; i++) {
      var e = events[i];
      if (!e || typeof e.seq !== 'number' || e.seq <= lastSeq) continue;
      lastSeq = e.seq;
      frag.insertBefore(makeRow(e, fresh), frag.firstChild);
    }
    rows.insertBefore(frag, rows.firstChild);
    while (rows.rows.length > maxRows) rows.deleteRow(-1);
    updateCount();
  }

  function clear() {
    while (rows.firstChild) rows.removeChild(rows.firstChild);
    lastSeq = 0;
    updateCount();
  }

  function refilter() {
    for (var i = 0; i < rows.rows.length; i++) rows.rows[i].hidden = !matches(rows.rows[i]);
    updateCount();
    var q = new URLSearchParams();
    if (ifaceInput.value.trim()) q.set('interface', ifaceInput.value.trim());
    if (kindSelect.value) q.set('kind', kindSelect.value);
    var hash = q.toString();
    history.replaceState(null, '', location.pathname + location.search + (hash ? '#' + hash : ''));
  }

  function later(fn) {
    if (retry) clearTimeout(retry);
    retry = setTimeout(function () { retry = null; fn(); }, RETRY_MS);
  }

  function follow() {
    if (source) source.close();
    source = new EventSource('api/v1/events/stream?since=' + lastSeq + filterQuery);
    source.onopen = function () { setStatus('live', 'live'); };
    source.onmessage = function (m) {
      var e;
      try { e = JSON.parse(m.data); } catch (err) { return; }
      add([e], true);
    };
    source.addEventListener('reset', function () {
      clear();
      notice('The exporter restarted: the list starts again.');
    });
    source.addEventListener('dropped', function () {
      notice('Some events were missed while this page was not connected (they fell out of the exporter\\'s buffer).');
    });
    source.onerror = function () {
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        setStatus('offline', 'offline, retrying');
        later(load);
      } else {
        setStatus('reconnecting', 'reconnecting');
      }
    };
  }

  function load() {
    setStatus('connecting', 'loading');
    fetch('api/v1/events?since=' + lastSeq + filterQuery, { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (body) {
        if (lastSeq > body.latest) {
          clear();
          notice('The exporter restarted: the list starts again.');
        }
        maxRows = Math.max(maxRows, body.events.length);
        add(body.events, lastSeq !== 0);
        if (body.next > lastSeq) lastSeq = body.next;
        setStatus('connecting', 'connecting');
        follow();
      })
      .catch(function (err) {
        setStatus('offline', 'offline (' + err.message + '), retrying');
        later(load);
      });
  }

  var initial = new URLSearchParams(location.hash.slice(1));
  ifaceInput.value = initial.get('interface') || '';
  if (KINDS.indexOf(initial.get('kind')) !== -1) kindSelect.value = initial.get('kind');
  ifaceInput.addEventListener('input', refilter);
  kindSelect.addEventListener('change', refilter);
  document.getElementById('filters').addEventListener('submit', function (ev) { ev.preventDefault(); });
  updateCount();
  load();
})();
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The filters line: what the query string asked for, and the way back to every event. */
function activeFilters(filters: EventFilters): string {
  const text = describeFilters(filters);
  if (text === '') return '<p id="active" class="active" hidden></p>';
  return `<p id="active" class="active">Only events with <span id="active-filters">${escapeHtml(text)}</span> (<a href="events">show all</a>)</p>`;
}

/** The page for a request whose query parsed to `filters` ({} for none). */
export function eventsPageHtml(filters: EventFilters): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recent events - netlink-exporter</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1><a href="./">netlink-exporter</a>: recent events</h1>
<span id="status" class="status" role="status" aria-live="polite" data-state="connecting">loading</span>
<form id="filters" role="search">
<label for="f-interface">Interface contains<input id="f-interface" type="search" placeholder="e.g. eth0" autocomplete="off" autocapitalize="off" spellcheck="false"></label>
<label for="f-kind">Kind<select id="f-kind"><option value="">all kinds</option>${EVENT_KINDS.map((k) => `<option value="${k}">${k}</option>`).join('')}</select></label>
</form>
${activeFilters(filters)}
<p id="count" class="count"></p>
</header>
<main>
<p id="notice" class="notice" hidden></p>
<table id="events">
<thead><tr><th scope="col">Time</th><th scope="col">Netns</th><th scope="col">Kind</th><th scope="col">Action</th><th scope="col">Interface</th><th scope="col">Details</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="empty" class="empty"></p>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The page without filters. */
export const EVENTS_PAGE_HTML = eventsPageHtml({});

/** Allows exactly the inline style and script above, and requests to this origin only. */
export const EVENTS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
