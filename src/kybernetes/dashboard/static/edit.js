// The YAML editor: the object as the API returns it; saved with PUT as YAML, so a
// refusal shows the API's own message (a 422's field errors, a 409, a 403).
import { useEffect, useState } from './vendor/preact-hooks.js';
import { call, get, KINDS, kindPath } from './api.js';
import { html } from './ui.js';

// js-yaml (~100 KB) is loaded when the editor first opens, not with every page.
async function toYaml(obj) {
  const { dump } = await import('./vendor/js-yaml.js');
  return dump(clean(obj), { lineWidth: -1, noRefs: true });
}

function clean(obj) {
  const copy = JSON.parse(JSON.stringify(obj));
  if (copy.metadata) delete copy.metadata.managedFields;
  return copy;
}

export function EditPage({ kind, ns, name }) {
  const [text, setText] = useState(null);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const known = Boolean(KINDS[kind]);
  const path = known ? kindPath(kind, KINDS[kind].namespaced ? ns : '', name) : '';
  const load = async () => {
    const r = await get(path);
    if (r.ok) { setText(await toYaml(r.body)); setError(''); } else setError(r.body.message || `${r.status}`);
  };
  useEffect(() => { if (known) load(); }, [path]);
  if (!known) return html`<p class="error" data-error>unknown kind ${kind}</p>`;
  const save = async () => {
    setSaved('');
    const r = await call('PUT', path, text, 'application/yaml');
    if (r.ok) {
      setError('');
      setSaved(`saved (resourceVersion ${r.body.metadata.resourceVersion})`);
      setText(await toYaml(r.body));
    } else {
      setError(r.body.message || `the API answered ${r.status}`);
    }
  };
  return html`<div class="editor" data-editor=${`${kind}/${ns ? `${ns}/` : ''}${name}`}>
    <h2>${kind} ${ns ? `${ns}/` : ''}${name}</h2>
    <textarea data-yaml spellcheck="false" value=${text ?? ''} onInput=${(e) => setText(e.target.value)}></textarea>
    <div class="actions">
      <button data-save disabled=${text === null} onClick=${save}>save</button>
      <button data-reload onClick=${load}>reload</button>
      ${saved && html`<span class="ok" data-saved>${saved}</span>`}
    </div>
    <pre class="error" data-error>${error}</pre>
  </div>`;
}
