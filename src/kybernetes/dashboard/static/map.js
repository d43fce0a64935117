// The cluster map: every node a box with its pods inside, unscheduled pods apart.
import { Component } from './vendor/preact.js';
import { mergePatch } from './api.js';
import { condition, ErrorBox, html, report, useCan, useLive } from './ui.js';

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

function cpuMillis(q) {
  if (!q) return 0;
  const s = String(q);
  if (s.endsWith('m')) return parseFloat(s);
  return parseFloat(s) * 1000;
}

function memBytes(q) {
  if (!q) return 0;
  const m = String(q).match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return 0;
  const units = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return parseFloat(m[1]) * (units[m[2]] || 1);
}

const gib = (b) => `${(b / 1024 ** 3).toFixed(1)}Gi`;

export function podPhase(pod) {
  return (pod.status && pod.status.phase) || 'Pending';
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ESCAPES[c]);

// A pod's chip as HTML text: a node's chips go into the page as one string (10,000 on
// a big map; an element or a component each made the first paint several times slower).
function chip(p) {
  const id = esc(`${p.metadata.namespace}/${p.metadata.name}`);
  const phase = esc(podPhase(p));
  const deleting = Boolean(p.metadata.deletionTimestamp);
  return `<a class="pod phase-${phase}${deleting ? ' deleting' : ''}" href="#/pods/${id}" data-pod="${id}" data-phase="${phase}" title="${id}: ${phase}${deleting ? ' (terminating)' : ''}">${esc(p.metadata.name)}</a>`;
}

// Pods sorted by namespace/name: plain comparison, not localeCompare (names are
// lowercase DNS labels, so the order is the same and the sort ten times quicker).
const podKey = (p) => `${p.metadata.namespace}/${p.metadata.name}`;
function sorted(items, key) {
  return items.map((o) => [key(o), o]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
}

function Chips({ pods }) {
  return html`<div class="pods" dangerouslySetInnerHTML=${{ __html: sorted(pods, podKey).map(chip).join('') }}></div>`;
}

function usage(pods) {
  let cpu = 0;
  let mem = 0;
  for (const p of pods) {
    for (const c of p.spec.containers || []) {
      const req = (c.resources && c.resources.requests) || {};
      cpu += cpuMillis(req.cpu);
      mem += memBytes(req.memory);
    }
  }
  return { cpu, mem };
}

function NodeBox({ node, pods, canPatch }) {
  const name = node.metadata.name;
  const ready = condition(node, 'Ready');
  const isReady = Boolean(ready && ready.status === 'True');
  const cordoned = Boolean(node.spec && node.spec.unschedulable);
  const alloc = (node.status && node.status.allocatable) || {};
  const use = usage(pods.filter((p) => !['Succeeded', 'Failed'].includes(podPhase(p))));
  const toggle = async () => {
    const r = await mergePatch(`/api/v1/nodes/${name}`, { spec: { unschedulable: cordoned ? null : true } });
    report(r, `node ${name} ${cordoned ? 'uncordoned' : 'cordoned'}`);
  };
  return html`<section class=${`node ${isReady ? 'ready' : 'notready'}${cordoned ? ' cordoned' : ''}`}
      data-node=${name} data-ready=${String(isReady)} data-cordoned=${String(cordoned)}>
    <h3>${name} <span class="badge">${isReady ? 'Ready' : 'NotReady'}</span>
      ${cordoned && html`<span class="badge warn">cordoned</span>`}</h3>
    <div class="capacity" data-capacity>
      pods ${pods.length}/${alloc.pods || '?'} · cpu ${Math.round(use.cpu)}m/${cpuMillis(alloc.cpu)}m · mem ${gib(use.mem)}/${gib(memBytes(alloc.memory))}
    </div>
    <${Chips} pods=${pods} />
    <div class="actions">
      <button data-cordon disabled=${canPatch === false} onClick=${toggle}
        title=${canPatch === false ? 'your RBAC role does not allow patching nodes' : ''}>${cordoned ? 'uncordon' : 'cordon'}</button>
      <a href=${`#/edit/Node/${name}`}>yaml</a>
    </div>
  </section>`;
}

// A node's box is drawn again only when the node or one of its pods changed (their
// resourceVersions): with 1,000 nodes a change to one pod redraws one box, not all.
class MemoNodeBox extends Component {
  shouldComponentUpdate(next) {
    return next.sig !== this.props.sig || next.canPatch !== this.props.canPatch;
  }

  render(props) {
    return html`<${NodeBox} node=${props.node} pods=${props.pods} canPatch=${props.canPatch} />`;
  }
}

const signature = (node, pods) => `${node.metadata.resourceVersion}|${pods.map((p) => p.metadata.resourceVersion).join(',')}`;

export function MapPage({ ns }) {
  const [nodes, nodeError] = useLive('/api/v1/nodes', null, 'map');
  const [pods, podError] = useLive(ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods', null, 'map');
  const canPatch = useCan('patch', '', 'nodes');
  if (!nodes && !nodeError) return html`<p data-loading>loading…</p>`;
  const byNode = new Map();
  const unscheduled = [];
  for (const p of pods || []) {
    const n = p.spec.nodeName;
    if (!n) { unscheduled.push(p); continue; }
    if (!byNode.has(n)) byNode.set(n, []);
    byNode.get(n).push(p);
  }
  // pods bound to a node the list does not have (deleted, or not visible to this user)
  const known = new Set((nodes || []).map((n) => n.metadata.name));
  const elsewhere = [...byNode.entries()].filter(([n]) => !known.has(n)).flatMap(([, ps]) => ps);
  const counts = Object.fromEntries(PHASES.map((ph) => [ph, (pods || []).filter((p) => podPhase(p) === ph).length]));
  return html`<div data-map data-ready-map=${String(Boolean(nodes && pods))}>
    <${ErrorBox} error=${nodeError} /><${ErrorBox} error=${podError} />
    <p class="legend">${PHASES.map((ph) => html`<span class=${`pod phase-${ph}`}>${ph} ${counts[ph]}</span> `)}</p>
    <div class="nodes">
      ${sorted(nodes || [], (n) => n.metadata.name).map((n) => {
        const mine = byNode.get(n.metadata.name) || [];
        return html`<${MemoNodeBox} key=${n.metadata.uid} node=${n} pods=${mine}
          sig=${signature(n, mine)} canPatch=${canPatch} />`;
      })}
    </div>
    ${elsewhere.length > 0 && html`<section class="unscheduled" data-elsewhere>
      <h3>On nodes not shown (${elsewhere.length})</h3>
      <${Chips} pods=${elsewhere} />
    </section>`}
    <section class="unscheduled" data-unscheduled>
      <h3>Unscheduled (${unscheduled.length})</h3>
      <${Chips} pods=${unscheduled} />
    </section>
  </div>`;
}
