// The Audit logs page: sign-in (authorization code + PKCE against auditgraph's
// own identity platform), filters kept in the URL, the list, the details pane
// and export. Plain browser JavaScript, no framework and no build step: the
// file is served as is from the binary.
'use strict';

(() => {
  const config = JSON.parse(document.getElementById('ag-config').textContent);
  const API = '/beta/deviceManagement/auditEvents';
  const PAGE_SIZE = 50;
  // openid/profile give an ID token naming the user; the Graph scope is what
  // the list needs (Intune's rules add the user's role on top).
  const SCOPE = 'openid profile DeviceManagementApps.Read.All';
  const SESSION_KEY = 'auditgraph.session';
  const PENDING_KEY = 'auditgraph.signin';

  const $ = (id) => document.getElementById(id);
  const els = {
    who: $('who'), signIn: $('sign-in'), signOut: $('sign-out'), welcome: $('welcome'),
    workspace: $('workspace'), alert: $('alert'), alertTitle: $('alert-title'), alertText: $('alert-text'),
    alertDetail: $('alert-detail'), alertActions: $('alert-actions'), filters: $('filters'),
    category: $('f-category'), activity: $('f-activity'), range: $('f-range'),
    custom: $('custom-dates'), from: $('f-from'), to: $('f-to'), status: $('status'), notice: $('notice'), rows: $('rows'),
    empty: $('empty'), more: $('more'), details: $('details'), detailsTitle: $('details-title'),
    detailsBody: $('details-body'), detailsClose: $('details-close'), exportFormat: $('export-format'),
    exportButton: $('export'), layout: document.querySelector('.layout'),
  };

  /** What the list currently shows: the OData filter it was loaded with, and paging. */
  const view = { filter: '', nextLink: null, events: [], count: null, selectedId: null, loading: false };

  // ---------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function base64Url(bytes) {
    let text = '';
    for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomToken(bytes) {
    const buffer = new Uint8Array(bytes);
    crypto.getRandomValues(buffer);
    return base64Url(buffer);
  }

  function jwtPayload(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent(Array.from(atob(part), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
      return JSON.parse(json);
    } catch {
      return {};
    }
  }

  /** An OData string literal. */
  function quote(text) {
    return "'" + String(text).replace(/'/g, "''") + "'";
  }

  function localTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }

  /** The list's date: the day, then the time, each kept whole (it may wrap between them). */
  function localDateTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return [
      el('span', { class: 'nowrap', text: date.toLocaleDateString(undefined, { dateStyle: 'medium' }) + ',' }), ' ',
      el('span', { class: 'nowrap', text: date.toLocaleTimeString(undefined, { timeStyle: 'medium' }) }),
    ];
  }

  function initiatedBy(actor) {
    // As the admin center (and the CSV export): the user, else the application.
    return (actor && (actor.userPrincipalName || actor.applicationDisplayName || actor.servicePrincipalName)) || '';
  }

  /** A UPN that may wrap only after its "@", never inside a word. */
  function breakableUpn(text) {
    const at = text.indexOf('@');
    return at < 0 ? [text] : [text.slice(0, at + 1), el('wbr'), text.slice(at + 1)];
  }

  // The Activity column and the Activity filter both use `activityType`, as
  // the admin center does (its filter is fed by getAuditActivityTypes), so a
  // filtered list shows the very value chosen. `displayName` is in the details.
  function activityOf(event) {
    return event.activityType || event.displayName || '';
  }

  /** The Target(s) column: the targets' names, as the CSV export writes them. */
  function targetsOf(event) {
    return (event.resources || []).map((r) => r.displayName).filter(Boolean).join('; ');
  }

  // ---------------------------------------------------------------------
  // Session and sign-in
  // ---------------------------------------------------------------------

  function session() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      return saved && saved.expiresAt > Date.now() ? saved : null;
    } catch {
      return null;
    }
  }

  const redirectUri = () => location.origin + '/auditlogs';
  const authority = () => '/' + encodeURIComponent(config.tenantId);

  async function signIn() {
    const verifier = randomToken(32);
    // Web Crypto exists only in secure contexts (https, localhost, 127.0.0.1);
    // elsewhere PKCE falls back to `plain`, which RFC 7636 allows.
    let challenge = verifier;
    let method = 'plain';
    if (window.crypto && crypto.subtle) {
      challenge = base64Url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      method = 'S256';
    }
    const state = randomToken(16);
    const returnTo = location.pathname + location.search;
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo }));
    const query = new URLSearchParams({
      client_id: config.clientId,
      response_type: 'code',
      response_mode: 'query',
      redirect_uri: redirectUri(),
      scope: SCOPE,
      state,
      code_challenge: challenge,
      code_challenge_method: method,
    });
    location.assign(`${authority()}/oauth2/v2.0/authorize?${query}`);
  }

  function signOut() {
    sessionStorage.removeItem(SESSION_KEY);
    const query = new URLSearchParams({ post_logout_redirect_uri: redirectUri() });
    location.assign(`${authority()}/oauth2/v2.0/logout?${query}`);
  }

  /** Finishes a sign-in when the identity platform redirected back here. */
  async function completeSignIn(params) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
    sessionStorage.removeItem(PENDING_KEY);
    const returnTo = (pending && pending.returnTo) || '/auditlogs';
    if (params.get('error')) {
      history.replaceState(null, '', returnTo);
      showAlert('Sign-in failed', `The identity platform answered ${params.get('error')}. Sign in again.`,
        params.get('error_description') || '', [signInButton()]);
      return false;
    }
    if (!pending || pending.state !== params.get('state')) {
      history.replaceState(null, '', returnTo);
      showAlert('Sign-in failed', 'The sign-in response does not belong to a sign-in started from this tab. Sign in again.',
        '', [signInButton()]);
      return false;
    }
    let response;
    try {
      response = await fetch(`${authority()}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: config.clientId,
          code: params.get('code'),
          redirect_uri: redirectUri(),
          code_verifier: pending.verifier,
          scope: SCOPE,
        }),
      });
    } catch {
      history.replaceState(null, '', returnTo);
      showError({ status: 0 });
      return false;
    }
    const body = await response.json().catch(() => ({}));
    history.replaceState(null, '', returnTo);
    if (!response.ok || !body.access_token) {
      showAlert('Sign-in failed', `The token endpoint answered ${body.error || response.status}. Sign in again.`,
        body.error_description || '', [signInButton()]);
      return false;
    }
    const claims = jwtPayload(body.id_token || body.access_token);
    const saved = {
      accessToken: body.access_token,
      expiresAt: Date.now() + (Number(body.expires_in) || 3600) * 1000,
      name: claims.name || '',
      upn: claims.preferred_username || claims.upn || '',
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(saved));
    return true;
  }

  function signInButton(label) {
    return el('button', { class: 'button primary', type: 'button', text: label || 'Sign in', onclick: signIn });
  }

  function signOutButton(label) {
    return el('button', { class: 'button', type: 'button', text: label || 'Sign out', onclick: signOut });
  }

  function renderAccount() {
    const current = session();
    if (!config.auth) {
      els.who.textContent = 'Authentication is off (--auth off): every request is allowed.';
      return;
    }
    els.signIn.hidden = Boolean(current);
    els.signOut.hidden = !current;
    els.who.textContent = current ? `Signed in as ${current.name ? current.name + ' ' : ''}(${current.upn})` : 'Not signed in';
  }

  // ---------------------------------------------------------------------
  // Graph calls and their errors
  // ---------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, requestId, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.requestId = requestId;
      this.retryAfter = retryAfter;
    }
  }

  async function call(url) {
    const headers = { Accept: 'application/json' };
    const current = session();
    if (current) headers.Authorization = 'Bearer ' + current.accessToken;
    let response;
    try {
      response = await fetch(url, { headers });
    } catch {
      throw new ApiError(0, 'NetworkError', 'The request did not reach auditgraph.');
    }
    if (response.ok) return response;
    const body = await response.json().catch(() => null);
    const error = (body && body.error) || {};
    throw new ApiError(response.status, error.code || '', error.message || response.statusText,
      response.headers.get('request-id') || '', response.headers.get('retry-after'));
  }

  async function callJson(url) {
    return (await call(url)).json();
  }

  /** Every API failure in words, with what to do about it. */
  function showError(error) {
    const status = error.status;
    const current = session();
    const detail = [error.code, error.message, error.requestId && `request-id ${error.requestId}`].filter(Boolean).join(' · ');
    if (status === 0) {
      showAlert('auditgraph cannot be reached', 'The page could not contact auditgraph. Check that it is still running (cargo run --release) and reload the page.', detail, [
        el('button', { class: 'button', type: 'button', text: 'Reload', onclick: () => location.reload() })]);
    } else if (status === 401) {
      sessionStorage.removeItem(SESSION_KEY);
      renderAccount();
      showAlert('Your sign-in is no longer valid', 'The access token is missing, expired or was not accepted, so auditgraph answered 401 Unauthorized. Sign in again to continue.', detail, [signInButton('Sign in again')]);
    } else if (status === 403) {
      const who = current ? current.upn : 'This account';
      showAlert('You do not have permission to view audit logs',
        `${who} is signed in, but auditgraph answered 403 Forbidden: reading audit logs needs the Global Administrator or Intune Administrator role, or an Intune role with the "Audit data - Read" permission, together with the DeviceManagementApps.Read.All permission. Sign in with an account that has one (in the development tenant, auditor@contoso.onmicrosoft.com), or ask an administrator to assign you a role.`,
        detail, [signOutButton('Sign out and use another account')]);
    } else if (status === 429) {
      const wait = error.retryAfter ? `${error.retryAfter} seconds` : 'a little while';
      showAlert('Too many requests', `auditgraph is throttling requests (429 Too Many Requests). Wait ${wait} and apply the filter again.`, detail, [
        el('button', { class: 'button', type: 'button', text: 'Try again', onclick: () => loadList() })]);
    } else if (status >= 500) {
      showAlert('auditgraph could not answer', `The server failed with ${status}. Try again; if it keeps failing, look in auditgraph's log for the request id below, where the cause is recorded.`, detail, [
        el('button', { class: 'button', type: 'button', text: 'Try again', onclick: () => loadList() })]);
    } else if (status === 400) {
      showAlert('The filter was rejected', 'auditgraph answered 400 Bad Request. Change the filter and apply it again.', detail, []);
    } else {
      showAlert(`Request failed (${status})`, 'auditgraph did not return what the page expected. Reload the page and try again.', detail, []);
    }
  }

  function showAlert(title, text, detail, actions) {
    els.alertTitle.textContent = title;
    els.alertText.textContent = text;
    els.alertDetail.textContent = detail || '';
    els.alertDetail.hidden = !detail;
    els.alertActions.replaceChildren(...(actions || []));
    els.alert.hidden = false;
  }

  function clearAlert() {
    els.alert.hidden = true;
  }

  // ---------------------------------------------------------------------
  // Filters, kept in the URL
  // ---------------------------------------------------------------------

  const RANGES = ['day', 'week', 'month', 'all', 'custom'];

  function readUrl() {
    const q = new URLSearchParams(location.search);
    const range = RANGES.includes(q.get('range')) ? q.get('range') : 'month';
    return {
      category: q.get('category') || '',
      activity: q.get('activity') || '',
      range,
      from: q.get('from') || '',
      to: q.get('to') || '',
      event: q.get('event') || '',
    };
  }

  function writeUrl(state, push) {
    const q = new URLSearchParams();
    if (state.category) q.set('category', state.category);
    if (state.category && state.activity) q.set('activity', state.activity);
    q.set('range', state.range);
    if (state.range === 'custom') {
      if (state.from) q.set('from', state.from);
      if (state.to) q.set('to', state.to);
    }
    if (state.event) q.set('event', state.event);
    const url = '/auditlogs?' + q.toString();
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }

  function formState() {
    return {
      category: els.category.value,
      activity: els.activity.disabled ? '' : els.activity.value,
      range: els.range.value,
      from: els.from.value,
      to: els.to.value,
      event: '',
    };
  }

  /** A local calendar date (YYYY-MM-DD) as the instant its day starts. */
  function localMidnight(text, addDays) {
    const [y, m, d] = text.split('-').map(Number);
    if (!y || !m || !d) return null;
    return new Date(y, m - 1, d + (addDays || 0));
  }

  /** The OData $filter for a filter state. */
  function toFilter(state) {
    const clauses = [];
    if (state.category) clauses.push(`category eq ${quote(state.category)}`);
    if (state.category && state.activity) clauses.push(`activityType eq ${quote(state.activity)}`);
    let from = null;
    let to = null;
    const now = new Date();
    if (state.range === 'day') from = new Date(now.getTime() - 24 * 3600 * 1000);
    if (state.range === 'week') from = new Date(now.getTime() - 7 * 24 * 3600 * 1000);
    if (state.range === 'month') {
      from = new Date(now);
      from.setMonth(from.getMonth() - 1);
    }
    if (state.range === 'custom') {
      from = state.from ? localMidnight(state.from) : null;
      // The "to" day is included: the bound is the next day's midnight, exclusive.
      to = state.to ? localMidnight(state.to, 1) : null;
    }
    if (from) clauses.push(`activityDateTime ge ${from.toISOString()}`);
    if (to) clauses.push(`activityDateTime lt ${to.toISOString()}`);
    return clauses.join(' and ');
  }

  async function loadCategories() {
    const body = await callJson(`${API}/getAuditCategories`);
    const options = body.value.map((c) => el('option', { value: c, text: c }));
    els.category.replaceChildren(el('option', { value: '', text: 'All categories' }), ...options);
  }

  async function loadActivities(category, selected) {
    if (!category) {
      // The hint sits in the disabled drop-down, so every label stays in line.
      els.activity.replaceChildren(el('option', { value: '', text: 'Choose a category first' }));
      els.activity.disabled = true;
      return;
    }
    els.activity.disabled = true;
    const body = await callJson(`${API}/getAuditActivityTypes(category=${encodeURIComponent(quote(category))})`);
    const options = body.value.map((a) => el('option', { value: a, text: a }));
    els.activity.replaceChildren(el('option', { value: '', text: 'All activities' }), ...options);
    els.activity.value = body.value.includes(selected) ? selected : '';
    els.activity.disabled = false;
  }

  function showCustomDates() {
    els.custom.hidden = els.range.value !== 'custom';
  }

  async function applyUrlToForm() {
    const state = readUrl();
    if (state.category && ![...els.category.options].some((o) => o.value === state.category)) {
      state.category = '';
    }
    els.category.value = state.category;
    els.range.value = state.range;
    els.from.value = state.from;
    els.to.value = state.to;
    showCustomDates();
    await loadActivities(state.category, state.activity);
    return state;
  }

  // ---------------------------------------------------------------------
  // The list
  // ---------------------------------------------------------------------

  function renderStatus() {
    const shown = view.events.length;
    if (view.count === null) {
      els.status.textContent = view.loading ? 'Loading…' : '';
      return;
    }
    const noun = view.count === 1 ? 'event matches' : 'events match';
    els.status.textContent = `${view.count} ${noun} this filter` + (view.count ? `; showing ${shown}, newest first.` : '.');
  }

  function rowFor(event, index) {
    const actor = event.actor || {};
    const open = el('button', {
      class: 'link', type: 'button', text: activityOf(event) || '(no activity)',
      'aria-controls': 'details', 'data-index': index,
      onclick: () => selectEvent(event, true),
      onkeydown: (e) => moveFocus(e, index),
    });
    return el('tr', { 'data-id': event.id, onclick: (e) => { if (e.target === e.currentTarget || e.target.tagName === 'TD') selectEvent(event, true); } },
      // data-label: the column name, shown beside the value when narrow screens stack the cells.
      el('td', { 'data-label': 'Date' }, el('time', { datetime: event.activityDateTime, title: `UTC: ${event.activityDateTime}` }, localDateTime(event.activityDateTime))),
      el('td', { 'data-label': 'Initiated by', class: 'actor' }, breakableUpn(initiatedBy(actor))),
      el('td', { 'data-label': 'Application', text: actor.applicationDisplayName || '' }),
      el('td', { 'data-label': 'Activity' }, open),
      el('td', { 'data-label': 'Target(s)', text: targetsOf(event) }),
      el('td', { 'data-label': 'Category', text: event.category || '' }),
      el('td', { 'data-label': 'Result' }, el('span', { class: 'result ' + (event.activityResult === 'Success' ? 'ok' : 'fail'), text: event.activityResult || '' })),
    );
  }

  /** Up and down arrows move between the rows' activity buttons. */
  function moveFocus(e, index) {
    const step = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : 0;
    if (!step) return;
    const target = els.rows.querySelector(`button[data-index="${index + step}"]`);
    if (target) {
      e.preventDefault();
      target.focus();
    }
  }

  async function loadList(url) {
    const first = !url;
    if (first) {
      const q = new URLSearchParams({ $orderby: 'activityDateTime desc', $top: String(PAGE_SIZE), $count: 'true' });
      if (view.filter) q.set('$filter', view.filter);
      url = `${API}?${q.toString().replace(/\+/g, '%20')}`;
      view.events = [];
      view.count = null;
      view.nextLink = null;
      els.rows.replaceChildren();
      els.empty.hidden = true;
      els.notice.textContent = '';
    }
    view.loading = true;
    els.more.hidden = true;
    els.workspace.setAttribute('aria-busy', 'true');
    renderStatus();
    try {
      const body = await callJson(url);
      clearAlert();
      const start = view.events.length;
      view.events.push(...body.value);
      if (typeof body['@odata.count'] === 'number') view.count = body['@odata.count'];
      view.nextLink = body['@odata.nextLink'] || null;
      els.layout.hidden = false;
      els.rows.append(...body.value.map((event, i) => rowFor(event, start + i)));
      els.empty.hidden = view.events.length > 0;
      els.more.hidden = !view.nextLink;
      els.workspace.hidden = false;
      if (!first && body.value.length) {
        // Keep the keyboard where the new rows begin.
        const next = els.rows.querySelector(`button[data-index="${start}"]`);
        if (next) next.focus();
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error);
      // An empty list would look like "no events": a 401 or 403 hides the
      // filters too (they cannot work), any other failure of a first page the list.
      if (error.status === 401 || error.status === 403) els.workspace.hidden = true;
      else if (first) els.layout.hidden = true;
    } finally {
      view.loading = false;
      els.workspace.removeAttribute('aria-busy');
      renderStatus();
    }
  }

  // ---------------------------------------------------------------------
  // The details pane
  // ---------------------------------------------------------------------

  const blank = (value) => value === null || value === undefined || value === '';

  /** One label and value; `optional` ones are left out when empty. */
  function field(list, label, value, extra, optional) {
    if (optional && blank(value)) return;
    const shown = blank(value) ? '—' : value instanceof Node ? value : String(value);
    list.append(el('dt', { text: label }), el('dd', {}, shown instanceof Node ? shown : el('span', { class: 'value', text: shown }), extra || null));
  }

  function copyButton(text, label) {
    return el('button', {
      class: 'button small', type: 'button', text: 'Copy', 'aria-label': label,
      onclick: async (e) => {
        const button = e.currentTarget;
        const ok = await copyText(text);
        button.textContent = ok ? 'Copied' : 'Copy failed';
        els.notice.textContent = ok ? `${label}: copied to the clipboard.` : 'The browser did not allow copying; select the value and copy it by hand.';
        setTimeout(() => { button.textContent = 'Copy'; }, 2000);
      },
    });
  }

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch {
      // Fall back to the selection below (permissions, insecure origins).
    }
    const area = el('textarea', { class: 'visually-hidden', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    area.remove();
    return ok;
  }

  // In the admin center's order: when, what, where, how it ended, then the ids.
  // `activity` is usually null and shows only when set.
  const EVENT_FIELDS = [
    ['activityDateTime', 'Date (UTC)'], ['activityType', 'Activity'], ['displayName', 'Display name'],
    ['category', 'Category'], ['activityResult', 'Result'], ['activityOperationType', 'Operation type'],
    ['componentName', 'Component'], ['activity', 'Activity details', true], ['id', 'Event id'],
  ];
  // `type` (beta) and `auditActorType` (v1.0) are one value: shown once, as "Actor type".
  const ACTOR_FIELDS = [
    ['userPrincipalName', 'User principal name'], ['userId', 'User id', true],
    ['applicationDisplayName', 'Application name'], ['applicationId', 'Application id'],
    ['servicePrincipalName', 'Service principal name', true], ['ipAddress', 'IP address'],
    ['remoteTenantId', 'Remote tenant id', true], ['remoteUserId', 'Remote user id', true],
  ];

  function renderDetails(event) {
    const body = [];
    els.detailsTitle.textContent = activityOf(event) || 'Details';

    const activity = el('dl', { class: 'fields' });
    field(activity, 'Date (local)', localTime(event.activityDateTime));
    for (const [key, label, optional] of EVENT_FIELDS) field(activity, label, event[key], null, optional);
    field(activity, 'Correlation id', event.correlationId, event.correlationId ? copyButton(event.correlationId, 'Correlation id') : null);
    // Anything a later Graph version adds still shows.
    const known = new Set([...EVENT_FIELDS.map(([k]) => k), 'correlationId', 'actor', 'resources']);
    for (const [key, value] of Object.entries(event)) {
      if (!known.has(key) && !key.startsWith('@odata')) field(activity, key, typeof value === 'object' && value !== null ? JSON.stringify(value) : value, null, true);
    }
    body.push(el('section', { class: 'block', 'aria-labelledby': 'd-activity' }, el('h3', { id: 'd-activity', text: 'Activity' }), activity));

    const actor = event.actor || {};
    const actorList = el('dl', { class: 'fields', id: 'actor-fields' });
    for (const [key, label, optional] of ACTOR_FIELDS) {
      const value = key === 'userPrincipalName' && actor[key] ? el('span', { class: 'value' }, breakableUpn(actor[key])) : actor[key];
      field(actorList, label, value, null, optional);
    }
    field(actorList, 'Actor type', actor.auditActorType || actor.type);
    const permissions = actor.userPermissions || [];
    field(actorList, 'Permissions', permissions.length
      ? el('ul', { class: 'plain-list', id: 'actor-permissions' }, permissions.map((p) => el('li', { text: p })))
      : '');
    const tags = actor.userRoleScopeTags || [];
    if (tags.length) {
      field(actorList, 'Role scope tags', el('ul', { class: 'plain-list' },
        tags.map((t) => el('li', { text: `${t.displayName || ''} (${t.roleScopeTagId || ''})` }))));
    }
    body.push(el('section', { class: 'block', 'aria-labelledby': 'd-actor' }, el('h3', { id: 'd-actor', text: 'Initiated by (actor)' }), actorList));

    const resources = event.resources || [];
    const targets = el('section', { class: 'block', 'aria-labelledby': 'd-targets' }, el('h3', { id: 'd-targets', text: `Target(s) (${resources.length})` }));
    if (!resources.length) targets.append(el('p', { text: 'This event has no targets.' }));
    resources.forEach((r, i) => {
      const list = el('dl', { class: 'fields' });
      field(list, 'Name', r.displayName);
      field(list, 'Type', r.auditResourceType || r.type);
      field(list, 'Resource id', r.resourceId);
      const props = r.modifiedProperties || [];
      let table;
      if (props.length) {
        table = el('table', { class: 'props' },
          el('caption', { text: `Modified properties of ${r.displayName || 'target ' + (i + 1)}` }),
          el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Property' }), el('th', { scope: 'col', text: 'Old value' }),
            el('th', { scope: 'col', class: 'arrow', 'aria-hidden': 'true', text: '→' }), el('th', { scope: 'col', text: 'New value' }))),
          el('tbody', {}, props.map((p) => el('tr', {},
            el('th', { scope: 'row', text: p.displayName || '' }),
            // No old value (a creation) is not a removal: no tint, and said in words.
            p.oldValue === null || p.oldValue === undefined
              ? el('td', { class: 'none', text: '—', title: 'No old value' })
              : el('td', { class: 'old', text: p.oldValue }),
            el('td', { class: 'arrow', 'aria-hidden': 'true', text: '→' }),
            p.newValue === null || p.newValue === undefined
              ? el('td', { class: 'none', text: '—', title: 'No new value' })
              : el('td', { class: 'new', text: p.newValue })))));
      } else {
        table = el('p', { class: 'note', text: 'No modified properties.' });
      }
      targets.append(el('div', { class: 'target' }, el('h4', { text: r.displayName || `Target ${i + 1}` }), list, table));
    });
    body.push(targets);

    body.push(el('details', { class: 'block raw' }, el('summary', { text: 'Raw JSON' }), el('pre', { tabindex: '0', 'aria-label': 'Raw JSON of the event' }, JSON.stringify(event, null, 2))));
    els.detailsBody.replaceChildren(...body);
  }

  function selectEvent(event, fromUser) {
    view.selectedId = event.id;
    renderDetails(event);
    els.details.hidden = false;
    for (const row of els.rows.querySelectorAll('tr')) {
      const selected = row.dataset.id === event.id;
      row.classList.toggle('selected', selected);
      // aria-selected is for grids; a plain table row is "current".
      if (selected) row.setAttribute('aria-current', 'true');
      else row.removeAttribute('aria-current');
    }
    const state = readUrl();
    state.event = event.id;
    writeUrl(state, false);
    // Focus without scrolling: the filters stay where they were.
    if (fromUser) els.details.focus({ preventScroll: true });
  }

  function closeDetails() {
    els.details.hidden = true;
    const id = view.selectedId;
    view.selectedId = null;
    const state = readUrl();
    state.event = '';
    writeUrl(state, false);
    const row = id && els.rows.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) {
      row.classList.remove('selected');
      row.removeAttribute('aria-current');
      const button = row.querySelector('button');
      if (button) button.focus();
    }
  }

  async function openEventFromUrl(id) {
    const listed = view.events.find((e) => e.id === id);
    if (listed) return selectEvent(listed, false);
    try {
      selectEvent(await callJson(`${API}/${encodeURIComponent(id)}`), false);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 404) {
        showAlert('Event not found', `The shared link names event ${id}, which auditgraph does not hold (it may have been deleted or left the retention period).`, '', []);
      } else {
        showError(error);
      }
    }
  }

  // ---------------------------------------------------------------------
  // Export
  // ---------------------------------------------------------------------

  async function exportEvents() {
    const format = els.exportFormat.value;
    const q = new URLSearchParams({ format });
    if (view.filter) q.set('$filter', view.filter);
    els.exportButton.disabled = true;
    els.notice.textContent = 'Preparing the export…';
    try {
      const response = await call(`/auditlogs/export?${q.toString().replace(/\+/g, '%20')}`);
      const blob = await response.blob();
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      const extension = { csv: 'csv', graph: 'json', ndjson: 'ndjson' }[format];
      const link = el('a', { href: URL.createObjectURL(blob), download: `auditlogs-${stamp}.${extension}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      els.notice.textContent = `Exported the events of this filter as ${els.exportFormat.selectedOptions[0].text} (${blob.size} bytes).`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      els.notice.textContent = '';
      showError(error);
    } finally {
      els.exportButton.disabled = false;
    }
  }

  // ---------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------

  async function showView() {
    const state = await applyUrlToForm();
    // The address bar always names the whole view, defaults included, so it can be shared as is.
    writeUrl(state, false);
    view.filter = toFilter(state);
    await loadList();
    if (state.event && !els.workspace.hidden) await openEventFromUrl(state.event);
    else els.details.hidden = true;
  }

  async function start() {
    $('version').textContent = config.version || '';
    els.signIn.addEventListener('click', signIn);
    $('sign-in-welcome').addEventListener('click', signIn);
    els.signOut.addEventListener('click', signOut);

    const params = new URLSearchParams(location.search);
    if (params.has('code') || params.has('error')) await completeSignIn(params);
    renderAccount();

    if (config.auth && !session()) {
      if (els.alert.hidden) els.welcome.hidden = false;
      return;
    }

    els.range.addEventListener('change', showCustomDates);
    els.category.addEventListener('change', () => {
      loadActivities(els.category.value, '').catch((error) => {
        if (error instanceof ApiError) showError(error); else throw error;
      });
    });
    els.filters.addEventListener('submit', (e) => {
      e.preventDefault();
      const state = formState();
      writeUrl(state, true);
      view.filter = toFilter(state);
      els.details.hidden = true;
      loadList();
    });
    els.more.addEventListener('click', () => loadList(view.nextLink));
    els.exportButton.addEventListener('click', exportEvents);
    els.detailsClose.addEventListener('click', closeDetails);
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !els.details.hidden) closeDetails();
    });
    window.addEventListener('popstate', () => { showView(); });

    try {
      await loadCategories();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error);
      return;
    }
    els.workspace.hidden = false;
    await showView();
  }

  start().catch((error) => {
    showAlert('The page failed', 'Something unexpected went wrong in the page. Reload it; if it happens again, the browser console has the details.', String(error), []);
  });
})();
