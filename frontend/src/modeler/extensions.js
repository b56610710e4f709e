// Reading and writing what Segito keeps in a BPMN element's `spiff:` extension elements (docs/processes.md):
// `spiff:properties` (name/value pairs: the form file, step, English name, documents), the pre- and post-scripts
// and a service task's operator. Every change goes through bpmn-js's modeling commands, so it can be undone.
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

export function extensionsOf(element, type) {
  const ext = getBusinessObject(element).get('extensionElements');
  return ext ? ext.get('values').filter((v) => v.$instanceOf(type)) : [];
}

export function spiffProperty(element, name) {
  for (const props of extensionsOf(element, 'spiff:Properties')) {
    const found = props.get('values').find((p) => p.get('name') === name);
    if (found) {
      return found.get('value') || '';
    }
  }
  return '';
}

// The element's extensionElements, created (as one undoable step) when it has none yet.
function extensionElements(element, bpmnFactory, modeling) {
  const bo = getBusinessObject(element);
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    modeling.updateProperties(element, { extensionElements: ext });
  }
  return ext;
}

function addExtension(element, created, bpmnFactory, modeling) {
  const ext = extensionElements(element, bpmnFactory, modeling);
  created.$parent = ext;
  modeling.updateModdleProperties(element, ext, { values: [...ext.get('values'), created] });
  return created;
}

function removeExtension(element, found, modeling) {
  const ext = getBusinessObject(element).get('extensionElements');
  modeling.updateModdleProperties(element, ext, { values: ext.get('values').filter((v) => v !== found) });
}

// Sets (or, with an empty value, removes) one `spiff:property`.
export function setSpiffProperty(element, name, value, bpmnFactory, modeling) {
  let [props] = extensionsOf(element, 'spiff:Properties');
  const current = props && props.get('values').find((p) => p.get('name') === name);
  if (!value) {
    if (current) {
      modeling.updateModdleProperties(element, props, { values: props.get('values').filter((p) => p !== current) });
    }
    return;
  }
  if (current) {
    modeling.updateModdleProperties(element, current, { value });
    return;
  }
  if (!props) {
    props = addExtension(element, bpmnFactory.create('spiff:Properties', { values: [] }), bpmnFactory, modeling);
  }
  const created = bpmnFactory.create('spiff:Property', { name, value });
  created.$parent = props;
  modeling.updateModdleProperties(element, props, { values: [...props.get('values'), created] });
}

// The body of a single extension element such as `spiff:preScript`; empty removes it.
export function bodyOf(element, type) {
  const [found] = extensionsOf(element, type);
  return found ? found.get('value') || '' : '';
}

export function setBody(element, type, value, bpmnFactory, modeling) {
  const [found] = extensionsOf(element, type);
  if (!value) {
    if (found) {
      removeExtension(element, found, modeling);
    }
  } else if (found) {
    modeling.updateModdleProperties(element, found, { value });
  } else {
    addExtension(element, bpmnFactory.create(type, { value }), bpmnFactory, modeling);
  }
}

export function operatorOf(element) {
  const [found] = extensionsOf(element, 'spiff:ServiceTaskOperator');
  return found || null;
}

// A service task's operator: its id and the variable its result goes to. SpiffWorkflow's schema wants the
// `spiff:parameters` child even when there are none, so a new operator gets an empty one.
export function setOperator(element, changes, bpmnFactory, modeling) {
  let found = operatorOf(element);
  if (!found) {
    found = bpmnFactory.create('spiff:ServiceTaskOperator', {
      parameterList: bpmnFactory.create('spiff:Parameters', { parameters: [] }),
    });
    found.get('parameterList').$parent = found;
    addExtension(element, found, bpmnFactory, modeling);
  }
  modeling.updateModdleProperties(element, found, changes);
}
