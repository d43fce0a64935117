// The dashboard's shell: login, namespace switcher, navigation and the hash router.
import { render } from './vendor/preact.js';
import { useEffect, useState } from './vendor/preact-hooks.js';
import { call, login, logout, onAuthChange, takeTokenFromFragment, token } from './api.js';
import { EditPage } from './edit.js';
import { ConfigPage, EventsPage, ServicesPage, WorkloadsPage } from './lists.js';
import { MapPage } from './map.js';
import { PodPage } from './pod.js';
import { html, MessageBar, useLive } from './ui.js';

const NS_KEY = 'kyb-dashboard-namespace';

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const f = () => setHash(location.hash || '#/');
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return hash.replace(/^#/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

function Login() {
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const value = new FormData(e.target).get('token') || '';
    if (!value.trim()) { setError('enter a token'); return; }
    const r = await fetch('/api/k8s/api', { headers: { Authorization: `Bearer ${value.trim()}` } });
    if (r.status === 401) { setError('Unauthorized: the API server does not accept this token'); return; }
    login(value);
  };
  return html`<main class="login">
    <h1>kybernetes</h1>
    <form data-login onSubmit=${submit}>
      <label>Bearer token <input name="token" type="password" autocomplete="off" autofocus /></label>
      <button type="submit">Log in</button>
      ${error && html`<p class="error" data-login-error>${error}</p>`}
      <p class="hint">Get one with <code>kyb dashboard-url</code> (cluster admin) or
        <code>kubectl create token NAME</code> (a ServiceAccount).</p>
    </form></main>`;
}

function Who() {
  const [user, setUser] = useState('');
  useEffect(() => {
    call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })
      .then((r) => { if (r.ok) setUser(r.body.status.userInfo.username); });
  }, []);
  return html`<span class="who" data-user>${user}</span>`;
}

// A list of the namespaces when the user may list them; a field to type one otherwise
// (a user bound to one namespace's role sees nothing cluster-wide).
function NamespaceSwitcher({ ns, setNs }) {
  const [items, error] = useLive('/api/v1/namespaces');
  if (error && !items) {
    return html`<input data-namespace placeholder="namespace" value=${ns} title="your role cannot list namespaces: type one"
      onKeyDown=${(e) => { if (e.key === 'Enter') setNs(e.target.value.trim()); }} />`;
  }
  const names = (items || []).map((n) => n.metadata.name).sort();
  if (ns && !names.includes(ns)) names.push(ns);
  return html`<select data-namespace value=${ns} onChange=${(e) => setNs(e.target.value)}>
    <option value="">all namespaces</option>
    ${names.map((n) => html`<option value=${n}>${n}</option>`)}
  </select>`;
}

const NAV = [['', 'Map'], ['workloads', 'Workloads'], ['services', 'Services'], ['config', 'Config'], ['events', 'Events']];

function Shell() {
  const route = useRoute();
  const [ns, setNsState] = useState(sessionStorage.getItem(NS_KEY) || '');
  const setNs = (v) => { sessionStorage.setItem(NS_KEY, v); setNsState(v); };
  const [page, ...rest] = route;
  let body;
  if (page === 'pods' && rest.length >= 2) body = html`<${PodPage} ns=${rest[0]} name=${rest[1]} />`;
  else if (page === 'edit' && rest.length >= 2) body = html`<${EditPage} kind=${rest[0]} ns=${rest.length > 2 ? rest[1] : ''} name=${rest[rest.length - 1]} />`;
  else if (page === 'workloads') body = html`<${WorkloadsPage} ns=${ns} />`;
  else if (page === 'services') body = html`<${ServicesPage} ns=${ns} />`;
  else if (page === 'config') body = html`<${ConfigPage} ns=${ns} />`;
  else if (page === 'events') body = html`<${EventsPage} ns=${ns} />`;
  else body = html`<${MapPage} ns=${ns} />`;
  return html`<header>
      <strong>kybernetes</strong>
      <nav>${NAV.map(([p, label]) => html`<a href=${`#/${p}`} class=${(page || '') === p ? 'active' : ''}>${label}</a>`)}</nav>
      <${NamespaceSwitcher} ns=${ns} setNs=${setNs} />
      <${Who} />
      <button class="link" data-logout onClick=${logout}>log out</button>
    </header>
    <${MessageBar} />
    <main>${body}</main>`;
}

function App() {
  const [authed, setAuthed] = useState(Boolean(token()));
  useEffect(() => onAuthChange(() => setAuthed(Boolean(token()))), []);
  return authed ? html`<${Shell} />` : html`<${Login} />`;
}

takeTokenFromFragment();
render(html`<${App} />`, document.getElementById('app'));
