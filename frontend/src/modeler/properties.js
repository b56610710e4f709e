// The properties panel's content for what Segito reads from a BPMN file (docs/studio.md, "The modeler"): an
// element's name and id; a lane's role; a user task's form, step, English name, instructions and documents;
// a gateway's conditions on its outgoing flows; timers; scripts; a service task's operator. Every word goes
// through `translate`, which the page fills from the server's catalogues (web/studio_texts.py).
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import {
  SelectEntry, TextAreaEntry, TextFieldEntry, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';

import { bodyOf, operatorOf, setBody, setOperator, setSpiffProperty, spiffProperty } from './extensions';
import { UNITS, dateLiteral, durationLiteral, parseTimer, unquotedLiteral } from './timer';

export const GROUPS = ['segito-general', 'segito-lane', 'segito-user-task', 'segito-script', 'segito-service',
  'segito-scripts', 'segito-condition', 'segito-timer'];

const ID = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function services() {
  return {
    modeling: useService('modeling'), bpmnFactory: useService('bpmnFactory'), translate: useService('translate'),
    debounce: useService('debounceInput'), registry: useService('elementRegistry'), config: useService('config.segito'),
  };
}

function text(id, label, getValue, setValue, extra = {}) {
  return { id, label, getValue, setValue, kind: TextFieldEntry, edited: isTextFieldEntryEdited, ...extra };
}

// One entry component for every field: the closures come from the group and get the services at render time.
function Entry(props) {
  const { element, id, spec } = props;
  const s = services();
  const common = {
    element, id, label: s.translate(spec.label), debounce: s.debounce,
    getValue: () => spec.getValue(element, s),
    setValue: (value, error) => { if (!error) { spec.setValue(element, value, s); } },
  };
  if (spec.validate) {
    common.validate = (value) => { const why = spec.validate(value, element, s); return why ? s.translate(why) : null; };
  }
  if (spec.description) {
    common.description = s.translate(spec.description);
  }
  if (spec.options) {
    common.getOptions = () => spec.options(element, s);
  }
  if (spec.kind === TextAreaEntry) {
    common.rows = spec.rows || 3;
    common.monospace = Boolean(spec.monospace);
  }
  return jsx(spec.kind, common);
}

function entries(element, specs) {
  return specs.map((spec) => ({ id: spec.id, element, spec, component: Entry, isEdited: spec.edited }));
}

function generalGroup(element) {
  return {
    id: 'segito-general', label: 'General', entries: entries(element, [
      text('segito-name', 'Name', (el) => getBusinessObject(el).get('name') || '',
        (el, value, s) => s.modeling.updateLabel(el, value)),
      text('segito-id', 'ID', (el) => getBusinessObject(el).get('id'),
        (el, value, s) => s.modeling.updateProperties(el, { id: value }), {
          validate: (value, el, s) => {
            if (!ID.test(value || '')) {
              return 'An ID starts with a letter or _ and holds letters, digits, _ . - only.';
            }
            const other = s.registry.get(value);
            return other && other.businessObject !== getBusinessObject(el) ? 'Another element has this ID.' : null;
          },
        }),
    ]),
  };
}

// A lane is a role: its id is the lane the package's manifest gives the role (roles.<role>.lane).
function laneGroup(element) {
  return {
    id: 'segito-lane', label: 'Role', entries: entries(element, [{
      id: 'segito-lane-role', label: 'Role of this lane', kind: SelectEntry, edited: isSelectEntryEdited,
      description: 'Who works on the user tasks in this lane.',
      getValue: (el) => getBusinessObject(el).get('id'),
      setValue: (el, value, s) => s.modeling.updateProperties(el, { id: value }),
      options: (el, s) => {
        const current = getBusinessObject(el).get('id');
        const known = s.config.roles.map((r) => ({ value: r.lane, label: r.name }));
        return known.some((o) => o.value === current) ? known
          : [{ value: current, label: `${current} (${s.translate('not a role of this service')})` }, ...known];
      },
    }]),
  };
}

function property(id, name, label, extra = {}) {
  return text(id, label, (el) => spiffProperty(el, name),
    (el, value, s) => setSpiffProperty(el, name, (value || '').trim(), s.bpmnFactory, s.modeling), extra);
}

function documentationOf(el) {
  const [doc] = getBusinessObject(el).get('documentation');
  return doc ? doc.get('text') || '' : '';
}

function setDocumentation(el, value, s) {
  const bo = getBusinessObject(el);
  const docs = value ? [s.bpmnFactory.create('bpmn:Documentation', { text: value })] : [];
  s.modeling.updateProperties(el, { documentation: docs.concat(bo.get('documentation').slice(1)) });
}

// In bpmn-js a flow node's parent is the pool, not its lane: the lane is the one whose flowNodeRef lists it.
function laneOf(element, registry) {
  const bo = getBusinessObject(element);
  return registry.find((e) => is(e, 'bpmn:Lane') && (e.businessObject.get('flowNodeRef') || []).includes(bo)) || null;
}

function lanesBeside(element, registry) {
  return registry.filter((e) => is(e, 'bpmn:Lane') && !e.children.some((c) => is(c, 'bpmn:Lane')));
}

// A task's lane is where it is drawn: choosing another lane moves the shape into it (as dragging it there would),
// and bpmn-js keeps the lane's flowNodeRef list in step.
function moveToLane(el, laneId, s) {
  const lane = s.registry.get(laneId);
  const current = laneOf(el, s.registry);
  if (!lane || lane === current) {
    return;
  }
  const dy = (lane.y + lane.height / 2) - (el.y + el.height / 2);
  s.modeling.moveElements([el], { x: 0, y: Math.round(dy) }, lane.parent);
}

function userTaskGroup(element) {
  return {
    id: 'segito-user-task', label: 'User task', entries: entries(element, [
      {
        id: 'segito-task-lane', label: 'Lane of this task', kind: SelectEntry, edited: isSelectEntryEdited,
        description: 'Moves the task into the lane of the role that works on it.',
        getValue: (el, s) => (laneOf(el, s.registry) || { id: '' }).id,
        setValue: (el, value, s) => moveToLane(el, value, s),
        options: (el, s) => {
          const names = Object.fromEntries(s.config.roles.map((r) => [r.lane, r.name]));
          return lanesBeside(el, s.registry).map((lane) => ({ value: lane.id, label: names[lane.id] || lane.id }));
        },
      },
      {
        id: 'segito-form', label: 'Form', kind: SelectEntry, edited: isSelectEntryEdited,
        description: 'The form the caseworker fills in this step (forms/ of the package).',
        getValue: (el) => spiffProperty(el, 'formJsonSchemaFilename'),
        setValue: (el, value, s) => setSpiffProperty(el, 'formJsonSchemaFilename', value, s.bpmnFactory, s.modeling),
        options: (el, s) => [{ value: '', label: s.translate('(no form)') }]
          .concat(s.config.forms.map((f) => ({ value: f, label: f }))),
      },
      property('segito-step', 'step', 'Step number', { description: 'As the service numbers its steps, e.g. 3.1.' }),
      property('segito-name-en', 'nameEn', 'Name in English'),
      text('segito-instructions', 'Instructions', documentationOf, setDocumentation, {
        kind: TextAreaEntry, edited: isTextAreaEntryEdited, rows: 5,
        description: 'Shown on the task page: the line starting Leírás: in Hungarian, Description: in English.',
      }),
      property('segito-documents', 'documents', 'Documents (English)', { description: 'Separated by ;' }),
      property('segito-documents-hu', 'documentsHu', 'Documents (Hungarian)', { description: 'Separated by ;' }),
    ]),
  };
}

function scriptEntries(element) {
  const script = (id, type, label) => text(id, label, (el) => bodyOf(el, type),
    (el, value, s) => setBody(el, type, value, s.bpmnFactory, s.modeling),
    { kind: TextAreaEntry, edited: isTextAreaEntryEdited, monospace: true });
  return entries(element, [
    script('segito-pre-script', 'spiff:PreScript', 'Script before the task'),
    script('segito-post-script', 'spiff:PostScript', 'Script after the task'),
  ]);
}

function scriptTaskGroup(element) {
  return {
    id: 'segito-script', label: 'Script', entries: entries(element, [
      text('segito-script-body', 'Python script', (el) => getBusinessObject(el).get('script') || '',
        (el, value, s) => s.modeling.updateProperties(el, { script: value, scriptFormat: 'python' }),
        { kind: TextAreaEntry, edited: isTextAreaEntryEdited, monospace: true, rows: 8 }),
    ]),
  };
}

function serviceTaskGroup(element) {
  const operator = (el) => operatorOf(el);
  return {
    id: 'segito-service', label: 'Service task', entries: entries(element, [
      {
        id: 'segito-operator', label: 'Operator', kind: SelectEntry, edited: isSelectEntryEdited,
        description: 'The engine operation this task calls.',
        getValue: (el) => (operator(el) ? operator(el).get('id') || '' : ''),
        setValue: (el, value, s) => setOperator(el, { id: value }, s.bpmnFactory, s.modeling),
        options: (el, s) => {
          const current = operator(el) ? operator(el).get('id') : '';
          const known = [{ value: '', label: s.translate('(none)') }]
            .concat(s.config.operators.map((o) => ({ value: o, label: o })));
          return !current || known.some((o) => o.value === current) ? known
            : known.concat([{ value: current, label: current }]);
        },
      },
      text('segito-result-variable', 'Result variable',
        (el) => (operator(el) ? operator(el).get('resultVariable') || '' : ''),
        (el, value, s) => setOperator(el, { resultVariable: value || undefined }, s.bpmnFactory, s.modeling),
        { validate: (value) => (value && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value) ? 'A variable name: letters, digits and _.' : null) }),
    ]),
  };
}

// A flow out of an exclusive or inclusive gateway carries the condition the gateway tests (a Python expression
// over the case data); the gateway's default flow has none.
function conditionGroup(element) {
  return {
    id: 'segito-condition', label: 'Condition', entries: entries(element, [
      text('segito-condition-expression', 'Condition (Python expression)', (el) => {
        const found = getBusinessObject(el).get('conditionExpression');
        return found ? found.get('body') || '' : '';
      }, (el, value, s) => {
        const expression = value ? s.bpmnFactory.create('bpmn:FormalExpression', { body: value }) : undefined;
        s.modeling.updateProperties(el, { conditionExpression: expression });
      }, {
        kind: TextAreaEntry, edited: isTextAreaEntryEdited, monospace: true, rows: 2,
        description: "E.g. casework_next == 'review'. Quote texts.",
      }),
    ]),
  };
}

function timerDefinition(element) {
  return (getBusinessObject(element).get('eventDefinitions') || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
}

const TIMER_KINDS = { timeDate: 'On a date', timeDuration: 'After a time', timeCycle: 'Repeatedly' };

function timerKind(def) {
  return Object.keys(TIMER_KINDS).find((k) => def.get(k)) || 'timeDuration';
}

function timerExpression(def) {
  const found = def.get(timerKind(def));
  return found ? found.get('body') || '' : '';
}

function setTimer(el, kind, body, s) {
  const def = timerDefinition(el);
  const changes = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
  changes[kind] = s.bpmnFactory.create('bpmn:FormalExpression', { body });
  s.modeling.updateModdleProperties(el, def, changes);
}

function timerGroup(element) {
  const def = () => timerDefinition(element);
  const picked = () => parseTimer(timerExpression(def())) || {};
  return {
    id: 'segito-timer', label: 'Timer', entries: entries(element, [
      {
        id: 'segito-timer-kind', label: 'When', kind: SelectEntry, edited: isSelectEntryEdited,
        getValue: () => timerKind(def()),
        setValue: (el, value, s) => setTimer(el, value, timerExpression(def()), s),
        options: (el, s) => Object.entries(TIMER_KINDS).map(([value, label]) => ({ value, label: s.translate(label) })),
      },
      text('segito-timer-expression', 'Timer expression', () => timerExpression(def()),
        (el, value, s) => setTimer(el, timerKind(def()), value, s), {
          kind: TextAreaEntry, edited: isTextAreaEntryEdited, monospace: true, rows: 2,
          description: "A Python expression: a literal needs its quotes, e.g. 'P14D' or '2026-12-01T10:00:00'.",
          validate: (value) => (unquotedLiteral(value) ? 'Put the ISO text in quotes.' : null),
        }),
      text('segito-timer-amount', 'Pick a duration: how many', () => picked().amount || '',
        (el, value, s) => {
          const literal = durationLiteral(value, picked().unit || 'D');
          if (literal) { setTimer(el, 'timeDuration', literal, s); }
        }, { validate: (value) => (value && !durationLiteral(value, 'D') ? 'A whole number from 1 to 9999.' : null) }),
      {
        id: 'segito-timer-unit', label: 'Pick a duration: unit', kind: SelectEntry, edited: isSelectEntryEdited,
        getValue: () => picked().unit || 'D',
        setValue: (el, value, s) => {
          const literal = durationLiteral(picked().amount || '1', value);
          if (literal) { setTimer(el, 'timeDuration', literal, s); }
        },
        options: (el, s) => UNITS.map((u) => ({ value: u, label: s.translate({ D: 'days', W: 'weeks', M: 'months', Y: 'years', H: 'hours' }[u]) })),
      },
      text('segito-timer-date', 'Pick a date (YYYY-MM-DD)', () => picked().date || '',
        (el, value, s) => {
          const literal = dateLiteral(value, picked().time || '');
          if (literal) { setTimer(el, 'timeDate', literal, s); }
        }, { validate: (value) => (value && !dateLiteral(value, '') ? 'A date as YYYY-MM-DD.' : null) }),
      text('segito-timer-time', 'Pick a time (HH:MM)', () => picked().time || '',
        (el, value, s) => {
          const literal = dateLiteral(picked().date, value);
          if (literal) { setTimer(el, 'timeDate', literal, s); }
        }, { validate: (value) => (value && !/^([01]\d|2[0-3]):[0-5]\d$/.test(value) ? 'A time as HH:MM.' : null) }),
    ]),
  };
}

function isConditional(element) {
  if (!is(element, 'bpmn:SequenceFlow')) {
    return false;
  }
  const source = element.source && element.source.businessObject;
  return Boolean(source && (is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway')));
}

export function groupsFor(element) {
  const groups = [generalGroup(element)];
  if (is(element, 'bpmn:Lane')) {
    groups.push(laneGroup(element));
  }
  if (is(element, 'bpmn:UserTask')) {
    groups.push(userTaskGroup(element));
  }
  if (is(element, 'bpmn:ScriptTask')) {
    groups.push(scriptTaskGroup(element));
  }
  if (is(element, 'bpmn:ServiceTask')) {
    groups.push(serviceTaskGroup(element));
  }
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ServiceTask')) {
    groups.push({ id: 'segito-scripts', label: 'Scripts', entries: scriptEntries(element) });
  }
  if (isConditional(element)) {
    groups.push(conditionGroup(element));
  }
  if (is(element, 'bpmn:Event') && timerDefinition(element)) {
    groups.push(timerGroup(element));
  }
  return groups;
}

export default function SegitoPropertiesProvider(propertiesPanel, translate) {
  this.getGroups = (element) => () => groupsFor(element).map((g) => ({ ...g, label: translate(g.label) }));
  propertiesPanel.registerProvider(500, this);
}

SegitoPropertiesProvider.$inject = ['propertiesPanel', 'translate'];
