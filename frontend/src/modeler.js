// Segito's process modeler: bpmn-js's Modeler with a properties panel for what Segito reads (modeler/properties.js).
//
// As the viewer, it takes everything from the page's data attributes (the CSP allows scripts from 'self' only):
//   data-src        the address of the BPMN XML to open
//   data-save-url   where the draft is posted (JSON: file, xml, note), with the CSRF token of data-csrf
//   data-file       the BPMN file's path in the package
//   data-config     JSON: roles [{lane, name}], forms [file], operators [id], texts {English: shown}
// The page's own elements: [data-role=canvas], [data-role=panel], the save form, [data-role=problems] (a list the
// server's problems are written into), [data-role=status]. When the import ends the element carries
// data-import="done" | "failed" as the viewer's does; after a save, data-saved="<version>" or data-save="refused".
import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule } from 'bpmn-js-properties-panel';

import spiff from './modeler/spiff.json';
import SegitoPropertiesProvider, { GROUPS } from './modeler/properties';

// bpmn-js's `translate` service, from the page's texts. A text the page did not give is shown in English and
// listed in the holder's data-untranslated, which the browser tests read.
function translator(texts, holder) {
  const missing = new Set();
  return function translate(template, replacements) {
    if (!(template in texts) && template) {
      missing.add(template);
      holder.dataset.untranslated = [...missing].join('\n');
    }
    const found = texts[template] || template;
    return found.replace(/{([^}]+)}/g, (_, key) => (replacements && key in replacements ? replacements[key] : `{${key}}`));
  };
}

function say(holder, key, values) {
  const status = holder.querySelector('[data-role=status]');
  if (status) {
    status.textContent = holder.segitoTranslate(key, values);
  }
}

// Problems refuse a draft; warnings (e.g. a gateway condition that is always true) come with a saved one and are
// listed the same way, each marked as a warning (docs/services.md, "Conditions that can never be true").
function showProblems(holder, modeler, problems, warnings = false) {
  const list = holder.querySelector('[data-role=problems]');
  list.replaceChildren();
  const registry = modeler.get('elementRegistry');
  for (const problem of problems) {
    const item = document.createElement('li');
    const where = [problem.file, problem.line ? holder.segitoTranslate('line {line}', { line: problem.line }) : '']
      .filter(Boolean).join(', ');
    item.textContent = `${where}: ${problem.message}`;
    if (warnings) {
      item.className = 'warning';
      item.prepend(`${holder.segitoTranslate('Warning')}: `);
    }
    if (problem.element && registry.get(problem.element)) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'link-button';
      button.dataset.element = problem.element;
      button.textContent = holder.segitoTranslate('Show {id}', { id: problem.element });
      item.append(' ', button);
    }
    list.append(item);
  }
  list.hidden = problems.length === 0;
}

function wireProblems(holder, modeler) {
  holder.querySelector('[data-role=problems]').addEventListener('click', (event) => {
    const button = event.target.closest('[data-element]');
    if (!button) {
      return;
    }
    const element = modeler.get('elementRegistry').get(button.dataset.element);
    modeler.get('selection').select(element);
    modeler.get('canvas').scrollToElement(element);
  });
}

async function save(holder, modeler, form) {
  const note = form.querySelector('[name=note]');
  say(holder, 'Saving and checking…');
  holder.dataset.save = 'pending';
  try {
    const { xml } = await modeler.saveXML({ format: true });
    const response = await fetch(holder.dataset.saveUrl, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': holder.dataset.csrf },
      body: JSON.stringify({ file: holder.dataset.file, xml, note: note ? note.value : '' }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      const warnings = body.warnings || [];
      showProblems(holder, modeler, warnings, true);
      holder.dataset.saved = String(body.version);
      holder.dataset.save = 'saved';
      holder.dataset.warnings = String(warnings.length);
      let said = 'Nothing changed since version {v}.';
      if (body.created) {
        said = warnings.length ? 'Saved as draft version {v}: checked, with warnings (listed below).'
          : 'Saved as draft version {v}: checked, no problems.';
      }
      say(holder, said, { v: body.version });
      const link = holder.querySelector('[data-role=saved-link]');
      if (link && body.next) {
        link.href = body.next;
        link.hidden = false;
      }
    } else {
      showProblems(holder, modeler, body.details || [{ message: body.message || `HTTP ${response.status}` }]);
      holder.dataset.save = 'refused';
      say(holder, 'Not saved: the draft has problems (listed below).');
    }
  } catch (error) {
    holder.dataset.save = 'refused';
    showProblems(holder, modeler, [{ message: String(error && error.message || error) }]);
    say(holder, 'Not saved: the draft has problems (listed below).');
  }
}

async function open(holder) {
  const config = JSON.parse(holder.dataset.config || '{}');
  const translate = translator(config.texts || {}, holder);
  holder.segitoTranslate = translate;
  const modeler = new Modeler({
    container: holder.querySelector('[data-role=canvas]'),
    propertiesPanel: {
      parent: holder.querySelector('[data-role=panel]'),
      // Segito's groups start open: they are what a designer comes to the panel for.
      layout: { groups: Object.fromEntries(GROUPS.map((id) => [id, { open: true }])) },
    },
    additionalModules: [
      BpmnPropertiesPanelModule,
      { __init__: ['segitoPropertiesProvider'], segitoPropertiesProvider: ['type', SegitoPropertiesProvider] },
      { translate: ['value', translate] },
    ],
    moddleExtensions: { spiff },
    segito: { roles: config.roles || [], forms: config.forms || [], operators: config.operators || [] },
  });
  holder.segitoModeler = modeler;
  wireProblems(holder, modeler);
  const form = holder.querySelector('form[data-role=save]');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save(holder, modeler, form);
  });
  try {
    const response = await fetch(holder.dataset.src, { credentials: 'same-origin', headers: { Accept: 'application/xml' } });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    const { warnings } = await modeler.importXML(await response.text());
    // Fitted, then a little smaller and to the right, so the palette covers none of the diagram.
    const canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport', 'auto');
    canvas.zoom(canvas.zoom() * 0.9);
    canvas.scroll({ dx: 60, dy: 0 });
    holder.dataset.importWarnings = String(warnings.length);
    holder.dataset.importMessages = warnings.map((w) => w.message).join('\n');
    holder.dataset.import = 'done';
    say(holder, '');
  } catch (error) {
    holder.dataset.import = 'failed';
    holder.dataset.importMessages = String(error && error.message || error);
    say(holder, 'The diagram could not be opened.');
  }
  holder.dispatchEvent(new CustomEvent('segito:modeler', { bubbles: true, detail: { state: holder.dataset.import } }));
}

function start() {
  for (const holder of document.querySelectorAll('[data-bpmn-modeler]')) {
    open(holder);
  }
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
