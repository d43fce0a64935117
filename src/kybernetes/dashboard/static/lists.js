// Lists: workloads (with scale, restart, delete), Services with endpoints, ConfigMaps
// and Secrets (values hidden until asked), and Events as a live stream.
import { useState } from './vendor/preact-hooks.js';
import { del, KINDS, kindPath, mergePatch } from './api.js';
import { age, byName, ErrorBox, html, report, useCan, useLive } from './ui.js';

const WORKLOAD_KINDS = ['Deployment', 'ReplicaSet', 'ReplicationController', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'];

function ScaleInput({ kind, obj, allowed }) {
  const ns = obj.metadata.namespace;
  const name = obj.metadata.name;
  const replicas = (obj.spec && obj.spec.replicas) ?? 1;
  const apply = async (e) => {
    if (e.key !== 'Enter') return;
    const value = parseInt(e.target.value, 10);
    if (Number.isNaN(value) || value < 0) { report({ ok: false, status: 0, body: { message: 'replicas must be a number ≥ 0' } }); return; }
    const r = await mergePatch(`${kindPath(kind, ns, name)}/scale`, { spec: { replicas: value } });
    report(r, `${kind} ${ns}/${name} scaled to ${value}`);
  };
  return html`<input type="number" min="0" class="scale" data-scale key=${`${name}-${replicas}`}
    defaultValue=${replicas} disabled=${allowed === false} onKeyDown=${apply}
    title=${allowed === false ? 'your RBAC role does not allow scaling this' : 'Enter applies'} />`;
}

export function DeleteButton({ path, what, allowed }) {
  const [armed, setArmed] = useState(false);
  const go = async () => {
    if (!armed) { setArmed(true); setTimeout(() => setArmed(false), 4000); return; }
    setArmed(false);
    report(await del(path), `${what} deleted`);
  };
  return html`<button data-delete class=${armed ? 'danger' : ''} disabled=${allowed === false} onClick=${go}>
    ${armed ? 'confirm delete' : 'delete'}</button>`;
}

function restart(kind, obj) {
  const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } };
  return mergePatch(kindPath(kind, obj.metadata.namespace, obj.metadata.name), patch);
}

function ready(kind, obj) {
  const s = obj.status || {};
  if (kind === 'DaemonSet') return `${s.numberReady || 0}/${s.desiredNumberScheduled || 0}`;
  if (kind === 'Job') return `${s.succeeded || 0}/${(obj.spec && obj.spec.completions) ?? 1}`;
  if (kind === 'CronJob') return `${(s.active || []).length} active`;
  return `${s.readyReplicas || 0}/${(obj.spec && obj.spec.replicas) ?? 1}`;
}

function WorkloadTable({ kind, ns }) {
  const k = KINDS[kind];
  const [items, error] = useLive(kindPath(kind, ns));
  const canScale = useCan('patch', k.group, k.plural, ns, 'scale');
  const canPatch = useCan('patch', k.group, k.plural, ns);
  const canDelete = useCan('delete', k.group, k.plural, ns);
  if (error && error.code === 404) return null;  // a kind this API server does not serve
  if (items && !items.length && !error) return null;
  return html`<section data-kind=${kind}><h2>${kind}s</h2><${ErrorBox} error=${error} />
    <table><thead><tr><th>name</th><th>ready</th><th>replicas</th><th>age</th><th></th></tr></thead>
    <tbody>${(items || []).sort(byName).map((o) => {
      const id = `${kind}/${o.metadata.namespace}/${o.metadata.name}`;
      return html`<tr key=${o.metadata.uid} data-workload=${id}>
        <td>${o.metadata.namespace}/${o.metadata.name}</td>
        <td data-ready-count>${ready(kind, o)}</td>
        <td>${k.scale ? html`<${ScaleInput} kind=${kind} obj=${o} allowed=${canScale} />` : ''}</td>
        <td>${age(o.metadata.creationTimestamp)}</td>
        <td class="actions">
          ${k.restart && html`<button data-restart disabled=${canPatch === false}
              onClick=${async () => report(await restart(kind, o), `${id} restarting`)}>restart</button>`}
          <a href=${`#/edit/${kind}/${o.metadata.namespace}/${o.metadata.name}`} data-edit>yaml</a>
          <${DeleteButton} path=${kindPath(kind, o.metadata.namespace, o.metadata.name)} what=${id} allowed=${canDelete} />
        </td></tr>`;
    })}</tbody></table></section>`;
}

export function WorkloadsPage({ ns }) {
  return html`<div data-workloads>${WORKLOAD_KINDS.map((k) => html`<${WorkloadTable} key=${k} kind=${k} ns=${ns} />`)}</div>`;
}

function endpointsOf(ep) {
  const out = [];
  for (const subset of (ep && ep.subsets) || []) {
    const ports = (subset.ports || []).map((p) => p.port);
    for (const a of subset.addresses || []) out.push({ addr: a.ip, ports, ready: true, pod: a.targetRef && a.targetRef.name });
    for (const a of subset.notReadyAddresses || []) out.push({ addr: a.ip, ports, ready: false, pod: a.targetRef && a.targetRef.name });
  }
  return out;
}

export function ServicesPage({ ns }) {
  const [services, error] = useLive(kindPath('Service', ns));
  const [endpoints] = useLive(kindPath('Endpoints', ns));
  const eps = new Map((endpoints || []).map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  return html`<section data-services><h2>Services</h2><${ErrorBox} error=${error} />
    <table><thead><tr><th>name</th><th>type</th><th>cluster IP</th><th>ports</th><th>endpoints</th><th></th></tr></thead>
    <tbody>${(services || []).sort(byName).map((s) => {
      const id = `${s.metadata.namespace}/${s.metadata.name}`;
      return html`<tr key=${s.metadata.uid} data-service=${id}>
        <td>${id}</td><td>${s.spec.type}</td><td>${s.spec.clusterIP}</td>
        <td>${(s.spec.ports || []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol || 'TCP'}`).join(', ')}</td>
        <td data-endpoints>${endpointsOf(eps.get(id)).map((e) => html`<span class=${`endpoint ${e.ready ? 'ready' : 'notready'}`}
            data-endpoint=${e.addr} title=${e.pod || ''}>${e.addr}:${e.ports.join(',')}</span> `)}</td>
        <td><a href=${`#/edit/Service/${id}`}>yaml</a></td></tr>`;
    })}</tbody></table></section>`;
}

function SecretRow({ s }) {
  const [shown, setShown] = useState(false);
  const data = s.data || {};
  const decode = (v) => { try { return atob(v); } catch { return v; } };
  const id = `${s.metadata.namespace}/${s.metadata.name}`;
  return html`<tr data-secret=${id}><td>${id}</td><td>${s.type}</td>
    <td>${Object.keys(data).sort().map((k) => html`<div class="kv"><b>${k}</b>: <span data-secret-value=${k}>${shown ? decode(data[k]) : '••••••'}</span></div>`)}</td>
    <td><button data-reveal onClick=${() => setShown(!shown)}>${shown ? 'hide' : 'show'}</button>
      <a href=${`#/edit/Secret/${id}`}>yaml</a></td></tr>`;
}

export function ConfigPage({ ns }) {
  const [cms, cmError] = useLive(kindPath('ConfigMap', ns));
  const [secrets, secretError] = useLive(kindPath('Secret', ns));
  return html`<section data-configmaps><h2>ConfigMaps</h2><${ErrorBox} error=${cmError} />
      <table><tbody>${(cms || []).sort(byName).map((c) => {
        const id = `${c.metadata.namespace}/${c.metadata.name}`;
        return html`<tr key=${c.metadata.uid} data-configmap=${id}><td>${id}</td>
          <td>${Object.entries(c.data || {}).map(([k, v]) => html`<div class="kv"><b>${k}</b>: <pre>${v}</pre></div>`)}</td>
          <td><a href=${`#/edit/ConfigMap/${id}`}>yaml</a></td></tr>`;
      })}</tbody></table></section>
    <section data-secrets><h2>Secrets</h2><${ErrorBox} error=${secretError} />
      <table><tbody>${(secrets || []).sort(byName).map((s) => html`<${SecretRow} key=${s.metadata.uid} s=${s} />`)}</tbody></table></section>`;
}

export function eventTime(e) {
  return e.lastTimestamp || e.eventTime || (e.series && e.series.lastObservedTime) || e.firstTimestamp || e.metadata.creationTimestamp;
}

export function EventRows({ events, limit = 200 }) {
  const sorted = [...events].sort((a, b) => (Date.parse(eventTime(b)) || 0) - (Date.parse(eventTime(a)) || 0)).slice(0, limit);
  return html`<table class="events"><tbody>${sorted.map((e) => {
    const o = e.involvedObject || {};
    return html`<tr key=${e.metadata.uid} data-event=${e.reason} class=${e.type === 'Warning' ? 'warning' : ''}>
      <td>${age(eventTime(e))}</td><td>${e.type}</td><td>${e.reason}</td>
      <td>${o.kind}/${o.namespace ? `${o.namespace}/` : ''}${o.name}</td><td>${e.message}</td>${e.count > 1 ? html`<td>×${e.count}</td>` : html`<td></td>`}</tr>`;
  })}</tbody></table>`;
}

export function EventsPage({ ns }) {
  const [events, error] = useLive(ns ? `/api/v1/namespaces/${ns}/events` : '/api/v1/events');
  return html`<section data-events><h2>Events</h2><${ErrorBox} error=${error} /><${EventRows} events=${events || []} /></section>`;
}

