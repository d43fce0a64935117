// Shared view pieces: htm bound to preact, live-list and RBAC hooks, the message bar.
import { h } from './vendor/preact.js';
import { useEffect, useState } from './vendor/preact-hooks.js';
import htm from './vendor/htm.js';
import { can, liveList } from './api.js';

export const html = htm.bind(h);

// Items of a live list (null until the first sync) and the API's refusal, if any.
export function useLive(path, selector, projection = '') {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const sel = selector ? JSON.stringify(selector) : '';
  useEffect(() => {
    setItems(null);
    if (!path) return undefined;
    return liveList(path, setItems, setError, { selector: selector || {}, projection });
  }, [path, sel, projection]);
  return [items, error];
}

// true / false once the SelfSubjectAccessReview answers (null meanwhile).
export function useCan(verb, group, resource, namespace, subresource) {
  const [allowed, setAllowed] = useState(null);
  useEffect(() => {
    let live = true;
    can(verb, group, resource, namespace, subresource).then((a) => { if (live) setAllowed(a); });
    return () => { live = false; };
  }, [verb, group, resource, namespace, subresource]);
  return allowed;
}

// One message bar for the outcome of actions (the API's own text on a refusal).
const messageListeners = new Set();
export function say(text, isError = false) { messageListeners.forEach((f) => f({ text, isError, at: Date.now() })); }
export function report(result, okText) {
  if (result.ok) say(okText);
  else say(result.body.message || `request failed (${result.status})`, true);
  return result.ok;
}
export function MessageBar() {
  const [msg, setMsg] = useState(null);
  useEffect(() => { messageListeners.add(setMsg); return () => messageListeners.delete(setMsg); }, []);
  if (!msg) return null;
  return html`<div class=${`message ${msg.isError ? 'error' : 'ok'}`} data-message data-message-error=${String(msg.isError)}>
    ${msg.text} <button class="link" onClick=${() => setMsg(null)}>×</button></div>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" data-list-error>${error.message || JSON.stringify(error)}</div>`;
}

export const byName = (a, b) => (`${a.metadata.namespace || ''}/${a.metadata.name}`).localeCompare(`${b.metadata.namespace || ''}/${b.metadata.name}`);

export function age(ts) {
  if (!ts) return '';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function condition(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}
