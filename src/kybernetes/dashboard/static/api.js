// The dashboard backend as the browser sees it: every call carries the logged-in
// user's bearer token (kept in sessionStorage), so the API server's RBAC decides.
const KEY = 'kyb-dashboard-token';
const listeners = new Set();

export function token() { return sessionStorage.getItem(KEY); }

export function login(value) {
  sessionStorage.setItem(KEY, value.trim());
  listeners.forEach((f) => f());
}

export function logout() {
  sessionStorage.removeItem(KEY);
  listeners.forEach((f) => f());
}

export function onAuthChange(f) { listeners.add(f); return () => listeners.delete(f); }

// `#token=…` (from `kyb dashboard-url`): keep it for this tab, drop it from the address.
export function takeTokenFromFragment() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (!m) return;
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search + '#/');
}

function headers(extra) {
  return { Authorization: `Bearer ${token()}`, Accept: 'application/json', ...extra };
}

// One Kubernetes API call; resolves to {ok, status, body} where body is the parsed
// JSON (a Status on failure, with the API's own message).
export async function call(method, path, body, contentType = 'application/json') {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': contentType }) };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  let response;
  try {
    response = await fetch(`/api/k8s${path}`, init);
  } catch (e) {
    return { ok: false, status: 0, body: { message: `dashboard unreachable: ${e.message}` } };
  }
  const text = await response.text();
  let parsed;
  try { parsed = text ? JSON.parse(text) : {}; } catch { parsed = { message: text }; }
  if (response.status === 401) logout();
  return { ok: response.ok, status: response.status, body: parsed };
}

export const get = (path) => call('GET', path);
export const del = (path) => call('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' });
export const mergePatch = (path, patch) => call('PATCH', path, patch, 'application/merge-patch+json');

// Live lists over one WebSocket (`/api/live`; a browser opens only six HTTP/1.1
// connections to a host, fewer than a page's lists): each list gets an id, a `sync`
// with the whole list (a long one in `page`s after it: the first items are drawn while
// the rest arrive), then watch `change`s. onItems is called at most every `every` ms
// (every PAGE_EVERY ms while a list's pages come in);
// when the socket drops, every open list is asked for again after a second. A
// `projection` ('map') asks for only the fields the map draws.
let socket = null;
let nextId = 1;
const decoder = new TextDecoder();
const subscriptions = new Map();
const PAGE_EVERY = 3000;

export function b64url(s) {
  const bytes = new TextEncoder().encode(s);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export const tokenProtocol = () => `base64url.bearer.authorization.k8s.io.${b64url(token() || '')}`;

function sendOp(op) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(op));
}

function connect() {
  if (socket || !token()) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/api/live`, [tokenProtocol()]);
  socket = ws;
  ws.binaryType = 'arraybuffer'; // decoded at once, so messages are applied in order
  ws.onopen = () => { for (const sub of subscriptions.values()) sendOp(sub.op); };
  ws.onmessage = (ev) => {
    const text = typeof ev.data === 'string' ? ev.data : decoder.decode(ev.data);
    const msg = JSON.parse(text);
    const sub = subscriptions.get(msg.id);
    if (sub) sub.apply(msg.event, msg.data);
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    if (subscriptions.size && token()) setTimeout(connect, 1000);
  };
}

onAuthChange(() => { if (socket) { socket.close(); socket = null; } });

export function liveList(path, onItems, onError, { selector = {}, every = 100, projection = '' } = {}) {
  const id = nextId++;
  const items = new Map();
  let timer = null;
  const flush = () => { timer = null; onItems([...items.values()]); };
  const changed = () => { if (timer === null) timer = setTimeout(flush, every); };
  const key = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
  const apply = (event, data) => {
    if (event === 'sync') {
      items.clear();
      for (const o of data.items || []) items.set(key(o), o);
      onError(null);
      flush();
    } else if (event === 'page') {
      // the rest of a long list: drawn when its last page is in (every PAGE_EVERY ms
      // before, for a slow one); drawing 10,000 pods at each page cost the browser
      // ~0.3 s more CPU per first paint
      for (const o of data.items || []) items.set(key(o), o);
      if (!data.more) { if (timer !== null) clearTimeout(timer); flush(); } else if (timer === null) timer = setTimeout(flush, PAGE_EVERY);
    } else if (event === 'failure') {
      if (data.code === 401) logout();
      onError(data);
    } else if (data.type === 'DELETED') {
      items.delete(key(data.object)); changed();
    } else if (data.object && data.object.metadata) {
      items.set(key(data.object), data.object); changed();
    }
  };
  const op = { op: 'watch', id, path, ...selector, ...(projection ? { projection } : {}) };
  subscriptions.set(id, { op, apply });
  if (socket) sendOp(op); else connect();
  return () => {
    subscriptions.delete(id);
    sendOp({ op: 'stop', id });
    if (timer !== null) clearTimeout(timer);
  };
}

// Can the user do this? A SelfSubjectAccessReview, cached for the tab's session.
const reviews = new Map();
export function can(verb, group, resource, namespace = '', subresource = '') {
  const k = [verb, group, resource, namespace, subresource].join('|');
  if (!reviews.has(k)) {
    reviews.set(k, call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb, group, resource, namespace, subresource } },
    }).then((r) => Boolean(r.ok && r.body.status && r.body.status.allowed)));
  }
  return reviews.get(k);
}
onAuthChange(() => reviews.clear());

// Where each Kind lives in the API (the kinds the dashboard shows and edits).
export const KINDS = {
  Pod: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  ReplicationController: { group: '', version: 'v1', plural: 'replicationcontrollers', namespaced: true, scale: true },
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  Endpoints: { group: '', version: 'v1', plural: 'endpoints', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  Secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  Node: { group: '', version: 'v1', plural: 'nodes', namespaced: false },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, scale: true, restart: true },
  ReplicaSet: { group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true, scale: true },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true, scale: true, restart: true },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true, restart: true },
  Job: { group: 'batch', version: 'v1', plural: 'jobs', namespaced: true },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true },
};

// `/api/v1/namespaces/NS/pods[/NAME]`, or the all-namespaces list when ns is ''.
export function kindPath(kind, ns, name) {
  const k = KINDS[kind];
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  const scope = k.namespaced && ns ? `/namespaces/${ns}` : '';
  return `${base}${scope}/${k.plural}${name ? `/${name}` : ''}`;
}
