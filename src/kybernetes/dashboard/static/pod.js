// A pod's page: status, conditions, containers, events, live logs and a terminal.
import { useEffect, useRef, useState } from './vendor/preact-hooks.js';
import { token, tokenProtocol } from './api.js';
import { DeleteButton, EventRows } from './lists.js';
import { podPhase } from './map.js';
import { age, ErrorBox, html, useCan, useLive } from './ui.js';

function containerState(s) {
  const st = (s && s.state) || {};
  if (st.running) return `running since ${age(st.running.startedAt)}`;
  if (st.waiting) return `waiting: ${st.waiting.reason || ''}`;
  if (st.terminated) return `terminated: ${st.terminated.reason || ''} (exit ${st.terminated.exitCode})`;
  return 'unknown';
}

// Logs that follow: a streamed `pods/log?follow=true`, started again if it ends while
// the page is open (a container not started yet, or restarted).
function Logs({ ns, name, container, running }) {
  const [text, setText] = useState('');
  const [note, setNote] = useState('');
  const pre = useRef(null);
  useEffect(() => {
    if (!container) return undefined;
    const ctrl = new AbortController();
    setText('');
    const run = async () => {
      while (!ctrl.signal.aborted) {
        const params = new URLSearchParams({ container, follow: 'true', tailLines: '1000' });
        try {
          const r = await fetch(`/api/k8s/api/v1/namespaces/${ns}/pods/${name}/log?${params}`,
            { headers: { Authorization: `Bearer ${token()}` }, signal: ctrl.signal });
          if (!r.ok) {
            let body = {};
            try { body = await r.json(); } catch { body = {}; }
            setNote(body.message || `logs: ${r.status}`);
          } else {
            setNote('');
            setText('');
            const reader = r.body.getReader();
            const decoder = new TextDecoder();
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              const chunk = decoder.decode(value, { stream: true });
              setText((t) => (t + chunk).slice(-200000));
            }
          }
        } catch (e) {
          if (ctrl.signal.aborted) return;
        }
        await new Promise((res) => setTimeout(res, 2000));
      }
    };
    run();
    return () => ctrl.abort();
  }, [ns, name, container, running]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text]);
  return html`<div class="logs-box">${note && html`<p class="note" data-logs-note>${note}</p>`}
    <pre data-logs data-container=${container} ref=${pre}>${text}</pre></div>`;
}

const enc = new TextEncoder();

// xterm.js (~290 KB) is loaded when a terminal first opens, not with every page.
let xtermLoaded = null;
function loadXterm() {
  const script = (src) => new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.appendChild(s);
  });
  if (!xtermLoaded) xtermLoaded = script('/static/vendor/xterm.js').then(() => script('/static/vendor/addon-fit.js'));
  return xtermLoaded;
}

// exec over the API server's WebSocket channel protocol (v5/v4.channel.k8s.io), bridged
// by the dashboard backend; the token rides as kube's bearer subprotocol.
function Terminal({ ns, name, container, running }) {
  const box = useRef(null);
  const [state, setState] = useState('idle');
  useEffect(() => {
    if (!container || !running) return undefined;
    let stop = null;
    let gone = false;
    loadXterm().then(() => { if (!gone) stop = open(); }, () => setState('error'));
    return () => { gone = true; if (stop) stop(); };
  }, [ns, name, container, running]);

  function open() {
    const term = new window.Terminal({ convertEol: false, cursorBlink: true, fontSize: 13, rows: 20 });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    try { fit.fit(); } catch { /* not laid out yet */ }
    const q = new URLSearchParams({ container, stdin: 'true', stdout: 'true', stderr: 'true', tty: 'true' });
    q.append('command', 'sh');
    const path = `/api/v1/namespaces/${ns}/pods/${name}/exec?${q}`;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/exec?path=${encodeURIComponent(path)}`,
      ['v5.channel.k8s.io', 'v4.channel.k8s.io', tokenProtocol()]);
    ws.binaryType = 'arraybuffer';
    const send = (channel, bytes) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const msg = new Uint8Array(bytes.length + 1);
      msg[0] = channel;
      msg.set(bytes, 1);
      ws.send(msg);
    };
    const resize = () => send(4, enc.encode(JSON.stringify({ Width: term.cols, Height: term.rows })));
    ws.onopen = () => { setState('connected'); resize(); term.focus(); };
    ws.onmessage = (ev) => {
      const data = new Uint8Array(ev.data);
      if (!data.length) return;
      if (data[0] === 1 || data[0] === 2) term.write(data.slice(1));
      else if (data[0] === 3) {
        let status = {};
        try { status = JSON.parse(new TextDecoder().decode(data.slice(1))); } catch { status = {}; }
        if (status.status !== 'Success') term.write(`\r\n\x1b[31m${status.message || 'exec failed'}\x1b[0m\r\n`);
      }
    };
    ws.onclose = () => { setState('closed'); term.write('\r\n\x1b[2m[session closed]\x1b[0m\r\n'); };
    ws.onerror = () => setState('error');
    const input = term.onData((d) => send(0, enc.encode(d)));
    const resized = term.onResize(resize);
    return () => { input.dispose(); resized.dispose(); ws.onclose = null; ws.close(); term.dispose(); };
  }
  return html`<div class="terminal-box"><p class="note">${running ? `sh in ${container}: ${state}` : 'the pod is not running'}</p>
    <div data-terminal data-terminal-state=${state} ref=${box}></div></div>`;
}

export function PodPage({ ns, name }) {
  const [pods, error] = useLive(`/api/v1/namespaces/${ns}/pods`, { fieldSelector: `metadata.name=${name}` });
  const [events] = useLive(`/api/v1/namespaces/${ns}/events`);
  const [container, setContainer] = useState('');
  const canDelete = useCan('delete', '', 'pods', ns);
  const pod = pods && pods[0];
  if (!pods && !error) return html`<p data-loading>loading…</p>`;
  if (!pod) return html`<${ErrorBox} error=${error} /><p data-pod-missing>pod ${ns}/${name} is gone</p>`;
  const names = (pod.spec.containers || []).map((c) => c.name);
  const chosen = names.includes(container) ? container : names[0];
  const statuses = new Map(((pod.status && pod.status.containerStatuses) || []).map((s) => [s.name, s]));
  const cs = statuses.get(chosen);
  const running = Boolean(cs && cs.state && cs.state.running);
  const mine = (events || []).filter((e) => e.involvedObject && e.involvedObject.kind === 'Pod' && e.involvedObject.name === name);
  const phase = podPhase(pod);
  return html`<div class="pod-page" data-pod-page=${`${ns}/${name}`} data-phase=${phase}>
    <h2>Pod ${ns}/${name} <span class=${`badge phase-${phase}`}>${phase}</span></h2>
    <p>node <b>${pod.spec.nodeName || '(unscheduled)'}</b> · IP ${(pod.status && pod.status.podIP) || '-'} ·
      created ${age(pod.metadata.creationTimestamp)} ago ·
      <a href=${`#/edit/Pod/${ns}/${name}`}>yaml</a>
      <${DeleteButton} path=${`/api/v1/namespaces/${ns}/pods/${name}`} what=${`pod ${ns}/${name}`} allowed=${canDelete} /></p>
    <h3>Conditions</h3>
    <table data-conditions><tbody>${((pod.status && pod.status.conditions) || []).map((c) => html`<tr data-condition=${c.type} data-status=${c.status}>
      <td>${c.type}</td><td>${c.status}</td><td>${c.reason || ''}</td><td>${age(c.lastTransitionTime)}</td></tr>`)}</tbody></table>
    <h3>Containers</h3>
    <table data-containers><tbody>${(pod.spec.containers || []).map((c) => {
      const s = statuses.get(c.name);
      return html`<tr data-container=${c.name}><td>${c.name}</td><td>${c.image}</td>
        <td>${s && s.ready ? 'ready' : 'not ready'}</td><td>restarts ${(s && s.restartCount) || 0}</td><td>${containerState(s)}</td></tr>`;
    })}</tbody></table>
    ${names.length > 1 && html`<label>container <select data-container-select value=${chosen} onChange=${(e) => setContainer(e.target.value)}>
      ${names.map((n) => html`<option value=${n}>${n}</option>`)}</select></label>`}
    <h3>Logs</h3>
    <${Logs} ns=${ns} name=${name} container=${chosen} running=${running} />
    <h3>Terminal</h3>
    <${Terminal} ns=${ns} name=${name} container=${chosen} running=${running} />
    <h3>Events</h3>
    <div data-pod-events><${EventRows} events=${mine} /></div>
  </div>`;
}
