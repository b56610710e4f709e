// Segito's BPMN diagram viewer: bpmn-js's NavigatedViewer on every element marked `data-bpmn-viewer`.
//
// The page gives everything through data attributes, so no inline script is needed (the CSP allows scripts
// from 'self' only) and every visible word comes from the server's own translations:
//   data-src       the address of the BPMN XML (same origin, the page's session)
//   data-current   ids of the elements waiting now, space-separated
//   data-done      ids of the elements already run
//   data-taken     ids of the sequence flows already taken
//   data-added, data-removed, data-changed   ids of the elements a compared version added, removed or changed
// Zoom and fit are the element's own buttons with data-action="zoom-in" | "zoom-out" | "fit".
// When the import ends, the element carries the result for tests and tools to read:
//   data-import="done" | "failed", data-import-warnings (a count) and data-import-messages (their text).
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

const MARKERS = {
  current: 'segito-current', done: 'segito-done', taken: 'segito-taken',
  // Comparing two versions (the diff page): what the other version lacks or has otherwise.
  added: 'segito-added', removed: 'segito-removed', changed: 'segito-changed',
};
const ZOOM_STEP = 1.25;
const FIT_MARGIN = 0.95; // a fitted diagram keeps a little space to the frame
const MIN_HEIGHT = 240;

function ids(holder, name) {
  return (holder.dataset[name] || '').split(/\s+/).filter(Boolean);
}

function mark(canvas, registry, holder) {
  for (const [name, marker] of Object.entries(MARKERS)) {
    for (const id of ids(holder, name)) {
      // A step of an older version, or a task of a call, may have no shape here: skipped, not an error.
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    }
  }
}

function fit(canvas) {
  canvas.zoom('fit-viewport', 'auto');
  canvas.zoom(canvas.zoom() * FIT_MARGIN);
}

// The frame takes the diagram's proportions (a wide process needs no tall empty frame), within the style
// sheet's height limit; set through the style object, which the CSP allows.
function shape(canvas, canvasHolder) {
  const inner = canvas.viewbox().inner;
  if (!inner.width || !inner.height) {
    return;
  }
  const limit = parseFloat(getComputedStyle(canvasHolder).maxHeight) || window.innerHeight * 0.7;
  const wanted = canvasHolder.clientWidth * (inner.height / inner.width) / FIT_MARGIN;
  canvasHolder.style.height = `${Math.round(Math.max(MIN_HEIGHT, Math.min(limit, wanted)))}px`;
  canvas.resized();
}

function wireButtons(holder, canvas) {
  holder.addEventListener('click', (event) => {
    const button = event.target.closest('[data-action]');
    if (!button || !holder.contains(button)) {
      return;
    }
    const action = button.dataset.action;
    if (action === 'zoom-in') {
      canvas.zoom(canvas.zoom() * ZOOM_STEP);
    } else if (action === 'zoom-out') {
      canvas.zoom(canvas.zoom() / ZOOM_STEP);
    } else if (action === 'fit') {
      fit(canvas);
    }
  });
}

function finish(holder, state, messages) {
  holder.dataset.importWarnings = String(messages.length);
  holder.dataset.importMessages = messages.join('\n');
  holder.dataset.import = state;
  const status = holder.querySelector('[data-role=loading]');
  if (status) {
    status.hidden = true;
  }
  const failed = holder.querySelector('[data-role=failed]');
  if (failed && state === 'failed') {
    failed.hidden = false;
  }
  holder.dispatchEvent(new CustomEvent('segito:diagram', { bubbles: true, detail: { state, messages } }));
}

async function open(holder) {
  const canvasHolder = holder.querySelector('[data-role=canvas]') || holder;
  const viewer = new NavigatedViewer({ container: canvasHolder });
  holder.segitoViewer = viewer;
  const canvas = viewer.get('canvas');
  wireButtons(holder, canvas);
  try {
    const response = await fetch(holder.dataset.src, { credentials: 'same-origin', headers: { Accept: 'application/xml' } });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    const { warnings } = await viewer.importXML(await response.text());
    mark(canvas, viewer.get('elementRegistry'), holder);
    shape(canvas, canvasHolder);
    fit(canvas);
    finish(holder, 'done', warnings.map((w) => w.message));
  } catch (error) {
    const found = (error && error.warnings) || [];
    finish(holder, 'failed', [String(error && error.message || error)].concat(found.map((w) => w.message)));
  }
}

function start() {
  for (const holder of document.querySelectorAll('[data-bpmn-viewer]')) {
    open(holder);
  }
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
