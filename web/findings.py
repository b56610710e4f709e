"""The problems and warnings of checking a package or a draft, worded in the reader's language.

The engine returns each with a stable ``code`` and its ``params`` (the element, the expression, the name read,
the suggestion, the options: engine/definitions/why.py, engine/packages/parts.py) beside its English ``message``,
which the command line prints. The sentence is made here, as web/limit_warnings.py does for limits, so a
Hungarian page shows no English sentence; what a library says (lxml's schema errors, SpiffWorkflow's) stays a
quoted detail inside the translated sentence. A problem without a code is shown as the engine wrote it.
"""
from __future__ import annotations

from flask import g, request
from flask_babel import force_locale

from .i18n import LANGUAGES, N_, gettext

# The kinds of expression the checks name (engine/definitions/definitions.py, _expressions).
_KINDS = {"condition": N_("condition"), "script": N_("script"), "prescript": N_("prescript"),
          "postscript": N_("postscript"), "timer (date)": N_("timer (date)"),
          "timer (duration)": N_("timer (duration)"), "timer (cycle)": N_("timer (cycle)"),
          "loop cardinality": N_("loop cardinality"), "loop condition": N_("loop condition")}
# What a form field holds (engine/definitions/static_conditions.py, _TYPE_WORDS).
_TYPES = {"text": N_("text"), "number": N_("number"), "yes/no": N_("yes/no"), "list": N_("list"),
          "group": N_("group"), "value": N_("value")}


# A BPMN file's processes and their properties (engine/definitions/definitions.py; docs/processes.md).
_BPMN = {
    "process_none": lambda p: gettext("no bpmn:process element"),
    "bpmn_too_large": lambda p: gettext("%(file)s is larger than %(limit)s bytes", file=p.get("file"),
                                        limit=p.get("limit")),
    "process_not_executable": lambda p: gettext("%(element)s: isExecutable=\"%(value)s\": not a process to run",
                                                element=p.get("element"), value=p.get("value")),
    "process_executable_many": lambda p: gettext("%(element)s: one of %(count)s executable processes",
                                                 element=p.get("element"), count=p.get("count")),
    "process_property_unknown": lambda p: gettext("unknown process property '%(name)s' (known: %(known)s)",
                                                  name=p.get("name"), known=p.get("known")),
    "started_by_unknown_role": lambda p: gettext("process property 'startedBy' names unknown role(s) %(roles)s "
                                                 "(roles: %(known)s)", roles=p.get("roles"), known=p.get("known")),
    "process_property_not_boolean": lambda p: gettext("process property '%(name)s' must be 'true' or 'false'",
                                                      name=p.get("name")),
    "date_reference_unrecorded": lambda p: (
        gettext("%(form)s: field '%(field)s': x-not-before names '%(names)s', which the form of step %(step)s "
                "does not record as a date", form=p.get("form"), field=p.get("field"), names=p.get("names"),
                step=p.get("step")) if p.get("step") else
        gettext("%(form)s: field '%(field)s': x-not-before names '%(names)s', which no form of this process does "
                "record as a date", form=p.get("form"), field=p.get("field"), names=p.get("names"))),
}


# A form's computations, report fields and anonymous questionnaires, and a BPMN file's DOCTYPE
# (engine/forms/derived.py, report_fields.py, anonymous.py; engine/definitions/definitions.py): the English
# sentence, and the shape the form file must write, quoted as it is.
_SHAPED = {
    "computed_kind_unknown": (N_("field '%(field)s': x-computed must be a known name or one of %(shape)s"),
        None),
    "computed_sum_invalid": (N_("field '%(field)s': x-computed sum needs a list of field names"),
        None),
    "computed_sum_unknown": (N_("field '%(field)s': x-computed sum names unknown field(s): %(fields)s"),
        None),
    "computed_band_invalid": (N_("field '%(field)s': x-computed band needs %(shape)s"),
        '{"of": "<field>", "bands": [[<lowest value or null>, "<code>"], ...]}'),
    "computed_earliest_invalid": (N_("field '%(field)s': x-computed earliest needs %(shape)s"),
        '"<block field>/<date field of its rows>"'),
    "computed_lookup_invalid": (N_("field '%(field)s': x-computed lookup needs %(shape)s"),
        '{"field": "<field>", "values": {"<value>": <result>, ...}}'),
    "report_prefill_invalid": (N_("field '%(field)s': x-prefill-report needs at least %(shape)s"),
        '{"report": ..., "figure": ...}'),
    "report_take_missing": (N_("field '%(field)s': a table's column needs \"take\": one of %(takes)s"),
        None),
    "report_period_invalid": (N_("field '%(field)s': x-prefill-report period is %(shape)s"),
        '{"from": <date field>, "to": <date field>}'),
    "report_scale_invalid": (N_("field '%(field)s': x-prefill-report scale is %(shape)s"),
        "[[<lowest figure or null>, <value>], ...]"),
    "report_prefill_not_read_only": (N_("field '%(field)s': a field filled from a report is readOnly (the "
            "server sets it)"),
        None),
    "report_evidence_unknown": (N_("field '%(field)s': x-prefill-report-evidence names no field filled "
            "from a report"),
        None),
    "report_evidence_not_read_only": (N_("field '%(field)s': evidence of a report figure is readOnly (the "
            "server sets it)"),
        None),
    "report_evidence_not_text": (N_("field '%(field)s': evidence of a report figure is a text in every "
            "language (engine/forms/texts.py): %(shape)s"),
        '"type": "object"'),
    "anonymous_invalid": (N_("x-anonymous must be %(shape)s (only questionnaire is required)"),
        '{"questionnaire": "<key>", "period": "month|quarter|year", '
        '"min_answers": <n>, "pair": {"field": "<code field>", "group": '
        '"<key>", "moment": "start|close"}}'),
    "anonymous_questionnaire_invalid": (N_("x-anonymous: questionnaire must be a key (lower-case letters, digits, "
            "_)"),
        None),
    "anonymous_period_invalid": (N_("x-anonymous: period must be one of %(periods)s"),
        None),
    "anonymous_min_answers_invalid": (N_("x-anonymous: min_answers must be a whole number from %(least)s to 1000"),
        None),
    "anonymous_hand_out_days_invalid": (N_("x-anonymous: hand_out_days must be a whole number of days from 1 to 90"),
        None),
    "anonymous_pair_invalid": (N_("x-anonymous: pair must be %(shape)s"),
        '{"field": "<code field>", "group": "<key>", "moment": "start" or '
        '"close"}'),
    "anonymous_pair_field_invalid": (N_("x-anonymous: pair field '%(field)s' must be a top-level text field of "
            "the form"),
        None),
    "anonymous_keyword_refused": (N_("field '%(field)s': %(keyword)s cannot be used in an anonymous "
            "questionnaire (it would tie the answer to the case)"),
        None),
    "bpmn_doctype": (N_("DOCTYPE declarations and entities are not allowed"),
        None),
}


def _kind(kind: str) -> str:
    if kind.startswith("parameter "):
        return gettext("parameter %(name)s", name=kind[len("parameter "):])
    return gettext(_KINDS[kind]) if kind in _KINDS else kind


def _types(words) -> str:
    return gettext(" or ").join(gettext(_TYPES[w]) if w in _TYPES else str(w) for w in words or ())


def _why(p: dict) -> str:
    """Why a condition is decided (the reason's code is ``why`` in the finding's params)."""
    why = p.get("why")
    if why == "constant":
        return gettext("it is the constant %(value)s", value=p.get("value"))
    if why == "constants_compared":
        return (gettext("%(expression)s compares two constants and is always true", expression=p.get("expression"))
                if p.get("result") else
                gettext("%(expression)s compares two constants and is always false", expression=p.get("expression")))
    if why == "holds_none":
        return gettext("%(expression)s: the field holds none of these values", expression=p.get("expression"))
    if why == "not_a_choice":
        return gettext("%(value)s is not one of the choices of '%(field)s'", value=p.get("value"),
                         field=p.get("field"))
    if why == "cannot_hold":
        return gettext("%(expression)s compares '%(field)s' with a value it cannot hold",
                         expression=p.get("expression"), field=p.get("field"))
    if why == "contradiction":
        return gettext("%(expressions)s: these cannot all hold for one value of '%(name)s'",
                         expressions=p.get("expressions"), name=p.get("name"))
    if why == "order_type":
        return gettext("%(expression)s orders the %(types)s field '%(field)s' against %(value)s (%(value_type)s): "
                         "Python refuses to compare them, so the case would stop with an error here",
                         expression=p.get("expression"), types=_types(p.get("field_types")), field=p.get("field"),
                         value=p.get("value"), value_type=_types([p.get("value_type")]))
    if why == "type_mismatch":
        return gettext("the %(types)s field '%(field)s' is compared with %(value)s (%(value_type)s): they are "
                         "never equal", types=_types(p.get("field_types")), field=p.get("field"),
                         value=p.get("value"), value_type=_types([p.get("value_type")]))
    if why == "not_an_option":
        said = gettext("%(value)s is not one of the options of form field '%(field)s' (%(options)s)",
                         value=p.get("value"), field=p.get("field"), options=p.get("options"))
        if p.get("suggestion"):
            said += gettext(": did you mean %(suggestion)s?", suggestion=p["suggestion"])
        return said
    return ""


def _condition(code: str, p: dict) -> str:
    subject = gettext("%(element)s: condition \"%(expression)s\" (to %(target)s)", element=p.get("element"),
                        expression=p.get("expression"), target=p.get("target"))
    if code == "condition_never_true":
        return gettext("%(subject)s can never be true: %(why)s", subject=subject, why=_why(p))
    if code == "condition_always_true" and p.get("later") is not None:  # the warning of an exclusive gateway
        why = _why(p) or gettext("a constant")
        if p["later"]:
            return gettext("%(subject)s is always true (%(why)s), so it is taken whenever the gateway is reached: "
                             "the flows listed after it (%(later)s) are never taken; make it the gateway's default "
                             "flow instead", subject=subject, why=why, later=", ".join(p["later"]))
        return gettext("%(subject)s is always true (%(why)s), so it is taken whenever the gateway is reached; make "
                         "it the gateway's default flow instead", subject=subject, why=why)
    if code == "condition_always_true":
        return gettext("%(subject)s is always true: %(why)s", subject=subject, why=_why(p))
    if code == "gateway_stuck":
        return gettext("%(subject)s: every condition leaving gateway '%(gateway)s' is never true and it has no "
                         "default flow: every case reaching it would stop there", subject=subject,
                         gateway=p.get("gateway"))
    return gettext("%(subject)s is wrong: %(why)s", subject=subject, why=_why(p))


def say(problem: dict) -> str:
    """One problem or warning (without its file and line) as a sentence in the reader's language."""
    code, p = problem.get("code"), problem.get("params") or {}
    if not code:
        return str(problem.get("message", ""))
    if code.startswith("condition_") or code == "gateway_stuck":
        return _condition(code, p)
    if code in ("name_unknown", "name_set_later"):
        said = gettext("%(element)s: %(kind)s \"%(expression)s\" reads '%(name)s', which no form, script or the "
                         "engine sets before this point", element=p.get("element"), kind=_kind(p.get("kind", "")),
                         expression=p.get("expression"), name=p.get("name"))
        if code == "name_set_later":
            said += gettext(": it is set only after this point (by %(tasks)s)", tasks=", ".join(p.get("tasks") or ()))
        elif p.get("suggestion"):
            said += gettext(": did you mean '%(suggestion)s'?", suggestion=p["suggestion"])
        return said
    if code == "bpmn_schema":
        said = gettext("The file does not match the BPMN schema: %(detail)s", detail=p.get("detail"))
        return f"{p['element']}: {said}" if p.get("element") else said
    if code == "xml_malformed":
        return gettext("The file is not well-formed XML: %(detail)s", detail=p.get("detail"))
    if code == "bpmn_parse":
        return gettext("SpiffWorkflow cannot read the process: %(detail)s", detail=p.get("detail"))
    if code == "expression_refused":
        return gettext("%(element)s: %(kind)s %(expression)s is refused: %(detail)s", element=p.get("element"),
                         kind=_kind(p.get("kind", "")), expression=p.get("expression"), detail=p.get("detail"))
    if code == "task_without_lane":
        return gettext("user task '%(task)s' is in no lane, so no role can work on it", task=p.get("task"))
    if code in _BPMN:
        return _BPMN[code](p)
    if code in _SHAPED:
        msgid, shape = _SHAPED[code]
        if code == "computed_kind_unknown":
            shape = "{" + str(p.get("kinds")) + ": ...}"
        return gettext(msgid, **{**p, "shape": shape})
    if code == "form_file_missing":
        return gettext("user task '%(task)s' names form file '%(form)s', which is missing", task=p.get("task"),
                         form=p.get("form"))
    if code in _REPORT:
        said = gettext(_REPORT[code], **p)
        return f"{p['path']}: {said}" if p.get("path") else said
    return _form(code, p) or _package(code, p) or _demo(code, p) or str(problem.get("message", ""))


def _form(code: str, p: dict) -> str:
    """A form file's problem (engine/definitions/form_files.py); the JSON and JSON Schema libraries' own words are
    the quoted detail."""
    if code == "form_json_invalid":
        return gettext("not valid JSON: %(detail)s (column %(column)s)", column=p.get("column"),
                       detail=p.get("detail"))
    if code == "form_schema_invalid":
        return gettext("not a valid JSON Schema at '%(where)s': %(detail)s", where=p.get("where"),
                       detail=p.get("detail"))
    if code == "form_not_object":
        return gettext("a form's schema must have type 'object'")
    if code == "form_visible_when_unknown":
        return gettext("field '%(field)s': x-visible-when refers to '%(refers_to)s', which is not a sibling field",
                       field=p.get("field"), refers_to=p.get("refers_to"))
    if code == "form_computation_unknown":
        return gettext("field '%(field)s': unknown computation '%(computation)s'", field=p.get("field"),
                       computation=p.get("computation"))
    if code == "form_label_missing":
        return gettext("field '%(field)s': x-label needs 'hu' and 'en'", field=p.get("field"))
    return _convention(code, p)


def _convention(code: str, p: dict) -> str:
    """A form's rarer conventions (docs/forms.md): each sentence names the field, the keyword and its shape as the
    form file writes them."""
    field = {"field": p.get("field")}
    said = {
        "form_visible_when_in_invalid": lambda: gettext("field '%(field)s': x-visible-when 'in' must be a non-empty "
                                                        "list of the values that show the field", **field),
        "form_starts_case_invalid": lambda: gettext("field '%(field)s': x-starts-case must be true, on a top-level "
                                                    "choice (type string, enum) whose values are process keys",
                                                    **field),
        "form_expected_count_invalid": lambda: gettext("field '%(field)s': x-expected-count must be on a repeatable "
                                                       "block, as %(shape)s", shape='{"field": "<sibling integer '
                                                       'field>", "offset": <integer>}', **field),
        "form_required_when_differs_invalid": lambda: gettext("field '%(field)s': x-required-when-differs is "
                                                              "%(shape)s", shape='{"field": "<field of this form>", '
                                                              '"from": "<field or case-data key>"}', **field),
        "form_date_rule_not_date": lambda: gettext("field '%(field)s': %(rules)s apply only to a date field "
                                                   "(format: date)", rules=p.get("rules"), **field),
        "form_not_future_invalid": lambda: gettext("field '%(field)s': x-not-future must be true", **field),
        "form_max_years_back_invalid": lambda: gettext("field '%(field)s': x-max-years-back must be a whole number "
                                                       "of years from 1 to 200", **field),
        "form_not_before_invalid": lambda: gettext("field '%(field)s': x-not-before must be %(shape)s",
                                                   shape='{"field": "<data key>", "step": "<step>"}', **field),
        "form_options_not_map": lambda: gettext("field '%(field)s': x-options must map each option to its labels, "
                                                "%(shape)s", shape='{"<option>": {"hu": ..., "en": ...}}', **field),
        "form_option_labels_missing": lambda: gettext("field '%(field)s': x-options needs a label in 'hu' and 'en' "
                                                      "for every option; missing for: %(options)s",
                                                      options=p.get("options"), **field),
        "form_append_only_misplaced": lambda: gettext("field '%(field)s': x-append-only must be true, on a "
                                                      "repeatable block (array of objects) at the top level of the "
                                                      "form", **field),
        "form_min_new_rows_invalid": lambda: gettext("field '%(field)s': x-min-new-rows must be a whole number of at "
                                                     "least 0, on an x-append-only block", **field),
        "form_append_only_elsewhere": lambda: gettext("field '%(field)s' is x-append-only in another form of this "
                                                      "process, so it must be here too", **field),
        "members_kind_unknown": lambda: gettext("field %(field)s: x-members is one of %(kinds)s, not %(kind)s",
                                                kinds=p.get("kinds"), kind=p.get("kind"), **field),
        "members_not_block": lambda: gettext("field %(field)s: an x-members block is a repeatable block (an array "
                                             "of objects)", **field),
        "members_row_field_missing": lambda: gettext("field %(field)s: a '%(kind)s' block's rows need the field "
                                                     "'%(row_field)s'", kind=p.get("kind"),
                                                     row_field=p.get("row_field"), **field),
        "members_not_date": lambda: gettext("field %(field)s: '%(row_field)s' of a '%(kind)s' block is a date "
                                            "(format: date)", kind=p.get("kind"), row_field=p.get("row_field"),
                                            **field),
        "members_client_code_optional": lambda: gettext("field %(field)s: 'client_code' of a '%(kind)s' block must "
                                                        "be required", kind=p.get("kind"), **field),
        "members_all_invalid": lambda: gettext("field %(field)s: x-members-all is true or false, on a 'leave' or "
                                               "'attendance' block", **field),
        "form_review_key_unknown": lambda: gettext("x-review names '%(key)s', which no form of this process records "
                                                   "(case facts: %(facts)s)", key=p.get("key"),
                                                   facts=p.get("facts")),
        "form_review_by_unknown": lambda: (
            gettext("x-review shows '%(key)s' side by side by '%(by)s', which is not a field of its rows",
                    key=p.get("key"), by=p.get("by")) if p.get("how") == "by" else
            gettext("x-review shows '%(key)s' gathered by '%(by)s', which is not a field of its rows",
                    key=p.get("key"), by=p.get("by"))),
    }.get(code)
    if said is not None:
        return said()
    if code == "form_review_invalid":
        shape = gettext('x-review must be a list of %(group)s (and "by": "<field of the rows>" to show repeatable '
                        'blocks side by side, or "group": "<field of the rows>" to show their rows gathered by that '
                        'field)', group='{"label": {"hu": …, "en": …}, "fields": ["<data key>", …]}')
        return gettext("group %(n)s: %(shape)s", n=p["group"], shape=shape) if p.get("group") else shape
    return ""


def _package(code: str, p: dict) -> str:
    """A problem of the package's files or of what its manifest names (engine/packages/check.py); a manifest's
    problem starts with the field's path, as the command line prints it."""
    said = {
        "folder_unknown": lambda: gettext("folder '%(folder)s/' is not part of a package (known: %(known)s)",
                                          folder=p.get("folder"), known=p.get("known")),
        "file_not_allowed": lambda: gettext("a package holds service.yaml, BPMN files, README/*.md and the known "
                                            "folders only"),
        "manifest_missing": lambda: gettext("missing: every package has a manifest (docs/services.md)"),
        "forms_folder_file": lambda: gettext("forms/ holds form files (*.json) only, no subfolders"),
        "tests_folder_file": lambda: gettext("tests/ holds test-run files (*.yaml) only, no subfolders"),
        "yaml_empty": lambda: gettext("the file is empty"),
        "yaml_not_mapping": lambda: gettext("the file must be a mapping of fields (key: value)"),
        "process_file_missing": lambda: gettext("processes.%(process)s: file '%(file)s' is not in the package",
                                                process=p.get("process"), file=p.get("file")),
        "process_not_declared": lambda: gettext("not declared in service.yaml (add it under 'processes')"),
        "process_key_mismatch": lambda: gettext("processes.%(declared)s: %(file)s holds process '%(key)s', so its "
                                                "key here must be '%(key)s'", declared=p.get("declared"),
                                                file=p.get("file"), key=p.get("key")),
        "role_unknown": lambda: gettext("unknown role '%(role)s' (the engine's roles: %(known)s)", role=p.get("role"),
                                        known=p.get("known")),
        "lane_without_role": lambda: gettext("lane '%(lane)s' of %(file)s is no role's lane (add a role with 'lane: "
                                             "%(lane)s' under 'roles')", lane=p.get("lane"), file=p.get("file")),
        "role_not_in_package": lambda: gettext("'%(role)s' is not one of this package's roles", role=p.get("role")),
        "process_not_in_package": lambda: gettext("'%(process)s' is not a process of this package",
                                                  process=p.get("process")),
        "form_field_unknown": lambda: gettext("no form of process '%(process)s' has a field '%(field)s'",
                                              process=p.get("process"), field=p.get("field")),
        "user_task_unknown": lambda: gettext("no process of this package has a user task '%(task)s'",
                                             task=p.get("task")),
        "field_unknown": lambda: gettext("unknown field(s) %(fields)s", fields=p.get("fields")),
        "schema_mismatch": lambda: gettext("does not fit the package's format: %(detail)s", detail=p.get("detail")),
        "yaml_invalid": lambda: gettext("not valid YAML: %(detail)s", detail=p.get("detail")),
        "not_utf8": lambda: gettext("not UTF-8 text: %(detail)s", detail=p.get("detail")),
        "file_too_large": lambda: gettext("larger than %(limit)s bytes", limit=p.get("limit")),
        "package_key_twice": lambda: gettext("two packages have the key '%(key)s'", key=p.get("key")),
        "caseload_role_differs": lambda: gettext("package '%(package)s' counts caseload '%(caseload)s' for role "
                                                 "'%(role)s'", package=p.get("package"), caseload=p.get("caseload"),
                                                 role=p.get("role")),
        "process_of_other_package": lambda: gettext("process '%(process)s' belongs to package '%(package)s'",
                                                    process=p.get("process"), package=p.get("package")),
        "start_from_not_deployed": lambda: gettext("process '%(process)s' is not deployed", process=p.get("process")),
        "start_from_not_registering": lambda: gettext("process '%(process)s' registers no client",
                                                      process=p.get("process")),
        "documents_folder_file": lambda: gettext("documents/ holds documents.yaml and templates (*.html, *.css) "
                                                 "only, no subfolders"),
        "documents_declarations_missing": lambda: gettext("missing: documents/ needs documents.yaml, which names "
                                                          "each document (docs/documents.md)"),
        "document_id_twice": lambda: gettext("'%(id)s' is the id of document %(other)s too", id=p.get("id"),
                                             other=p.get("other")),
        "document_field_unknown": lambda: gettext("no form of this package has a field '%(field)s'",
                                                  field=p.get("field")),
        "form_not_in_forms": lambda: gettext("no form '%(form)s' in forms/", form=p.get("form")),
        "document_log_is_field": lambda: gettext("'%(name)s' is a field already; name the log otherwise",
                                                 name=p.get("name")),
        "document_template_missing": lambda: gettext("'%(template)s' is not in documents/",
                                                     template=p.get("template")),
        "document_trial_failed": lambda: gettext("document '%(id)s' (%(lang)s): %(detail)s", id=p.get("id"),
                                                 lang=p.get("lang"), detail=p.get("detail")),
        "template_syntax": lambda: gettext("template syntax: %(detail)s", detail=p.get("detail")),
        "not_a_folder": lambda: gettext("not a folder"),
        "package_symlink": lambda: gettext("a symbolic link; a package holds plain files only"),
        "package_too_large": lambda: gettext("the package exceeds its bounds (%(files)s files, %(file_bytes)s bytes "
                                             "a file, %(total_bytes)s bytes in all)", files=p.get("files"),
                                             file_bytes=p.get("file_bytes"), total_bytes=p.get("total_bytes")),
        "archive_path_absolute": lambda: gettext("an absolute or Windows-style path; names in a package archive "
                                                 "are relative with '/'"),
        "archive_path_dots": lambda: gettext("a path with '..' or '.' (it could leave the package folder)"),
        "archive_too_large": lambda: gettext("the archive is larger than %(limit)s bytes", limit=p.get("limit")),
        "archive_not_zip": lambda: gettext("not a zip archive (%(detail)s)", detail=p.get("detail")),
        "archive_too_many": lambda: gettext("the archive holds %(count)s entries, more than %(limit)s",
                                            count=p.get("count"), limit=p.get("limit")),
        "archive_encrypted": lambda: gettext("encrypted; upload an archive without a password"),
        "archive_entry_twice": lambda: gettext("appears twice in the archive"),
        "archive_entry_unreadable": lambda: gettext("cannot be unpacked (%(detail)s)", detail=p.get("detail")),
        "archive_entry_too_large": lambda: gettext("unpacks to more than %(limit)s bytes", limit=p.get("limit")),
        "archive_unpacks_too_large": lambda: gettext("the archive unpacks to more than %(limit)s bytes",
                                                     limit=p.get("limit")),
        "reports_folder_file": lambda: gettext("reports/ holds report files (*.yaml) only, no subfolders"),
        "report_key_twice": lambda: gettext("'%(key)s' is the key of %(other)s too", key=p.get("key"),
                                            other=p.get("other")),
        "lane_not_in_package": lambda: gettext("lane '%(lane)s' is no role's lane in the package's service.yaml",
                                               lane=p.get("lane")),
        "process_cannot_run": lambda: gettext("process '%(process)s' cannot be run", process=p.get("process")),
        "start_never": lambda: gettext("a case that starts from nothing and not by hand could never start: the "
                                       "engine starts cases for a client"),
        "start_data_without_client": lambda: gettext("a case that starts from nothing has no client to take data "
                                                     "from"),
        "start_from_registers_none": lambda: gettext("process '%(process)s' registers no client (it has no "
                                                     "'registers_client')", process=p.get("process")),
        "registers_client_missing": lambda: gettext("%(file)s calls '%(operation)s', so the process needs "
                                                    "'registers_client' (which form fields feed the client "
                                                    "register)", file=p.get("file"), operation=p.get("operation")),
        "legal_basis_missing": lambda: gettext("a process that holds a person's data needs 'legal_basis' "
                                               "(article_6, article_9 for special categories, the law; "
                                               "docs/services.md)"),
        "consent_missing": lambda: gettext("a basis of consent (point a) needs 'consent': the statement, its "
                                           "version and text the person signs"),
        "consent_without_basis": lambda: gettext("a consent statement is declared but neither article_6 nor "
                                                 "article_9 is 'a' (consent)"),
        "consent_task_unknown": lambda: gettext("no user task '%(task)s' in %(file)s", task=p.get("task"),
                                                file=p.get("file")),
        "timer_purpose_unknown": lambda: gettext("no timer of this package has purpose '%(purpose)s'",
                                                 purpose=p.get("purpose")),
    }.get(code)
    if said is None:
        return ""
    return f"{p['path']}: {said()}" if p.get("path") else said()


def _demo(code: str, p: dict) -> str:
    """A demo script's problem (engine/packages/demo_scripts.py; docs/demo.md)."""
    said = {
        "demo_folder_file": lambda: gettext("demo/ holds demo scripts (*.yaml) only, no subfolders"),
        "demo_data_unknown": lambda: gettext("%(path)s: no data named '%(use)s' under 'data' (named: %(named)s)",
                                             path=p.get("path"), use=p.get("use"),
                                             named=p.get("named") or gettext("none")),
        "demo_process_unknown": lambda: gettext("process '%(process)s' is not one of this package's processes "
                                                "(%(known)s)", process=p.get("process"), known=p.get("known")),
        "demo_not_manual": lambda: gettext("process '%(process)s' is not started by hand (start.manual: false): "
                                           "play the case that starts it", process=p.get("process")),
        "demo_user_unknown": lambda: gettext("'%(user)s' is not a demo user (%(known)s)", user=p.get("user"),
                                             known=p.get("known")),
        "demo_may_not_start": lambda: gettext("'%(user)s' may not start '%(process)s' (start.roles: %(roles)s)",
                                              user=p.get("user"), process=p.get("process"), roles=p.get("roles")),
        "demo_client_missing": lambda: gettext("process '%(process)s' starts from a client registered by "
                                               "'%(registered_by)s': give 'client' (e.g. '%(example)s')",
                                               process=p.get("process"), registered_by=p.get("registered_by"),
                                               example="${<case name>.client_code}"),
        "demo_client_not_taken": lambda: gettext("process '%(process)s' starts from nothing: it takes no 'client'",
                                                 process=p.get("process")),
        "demo_task_unknown": lambda: gettext("process '%(process)s' has no user task '%(task)s'",
                                             process=p.get("process"), task=p.get("task")),
        "demo_role_missing": lambda: gettext("'%(user)s' does not have the role '%(role)s' that does '%(task)s'",
                                             user=p.get("user"), role=p.get("role"), task=p.get("task")),
        "demo_fields_unknown": lambda: gettext("the form of '%(task)s' has no field(s) %(fields)s",
                                               task=p.get("task"), fields=p.get("fields")),
        "demo_expression_invalid": lambda: gettext(
            "'%(expression)s' is neither a date relative to the day the demo is played ('today', 'today-10d', "
            "'today+2w', 'today-3m') nor what an earlier case produced ('%(client_code)s', '%(case_id)s')",
            expression="${" + str(p.get("expression")) + "}", client_code="<case name>.client_code",
            case_id="<case name>.case_id"),
        "demo_case_later": lambda: gettext("case '%(name)s' (%(at)s) is played after this one: cases play in the "
                                           "order they are written", name=p.get("name"), at=p.get("at")),
        "demo_name_twice": lambda: gettext("a case named '%(name)s' is already at %(at)s", name=p.get("name"),
                                           at=p.get("at")),
    }.get(code)
    return said() if said else ""


# A report file's checks (engine/reports/grammar.py; docs/reports.md): each after the path of its value.
_REPORT = {
    "report_condition_subject": N_("a condition names one of fact, field, completed, any, all, not"),
    "report_condition_test": N_("'%(subject)s' needs one test: equals, in, filled or above"),
    "report_condition_test_alone": N_("%(tests)s go with 'fact' or 'field'"),
    "report_fact_unknown_declared": N_("no fact '%(fact)s' (declared: %(declared)s)"),
    "report_condition_field": N_("an indicator's condition reads facts ('fact'), not form fields"),
    "report_form_field_unknown": N_("no form field '%(field)s' in the package's forms"),
    "report_condition_completed": N_("'completed' is a condition of a fact ('when')"),
    "report_process_unknown": N_("process '%(process)s' is not a process of this package (%(known)s)"),
    "report_fact_source": N_("a fact has one source: field, divide, days_between, case, client or completions"),
    "report_field_not_in_form": N_("no field '%(field)s' in %(form)s"),
    "report_field_not_in_records": N_("no field '%(field)s' in the records of '%(records)s'"),
    "report_fact_not_scalar": N_("'%(fact)s' is not a fact of one value"),
    "report_person_latest": N_("'person: latest' goes with a fact of one value read from a field"),
    "report_values_not_list": N_("'%(field)s' is not a list field of %(form)s"),
    "report_fact_unknown": N_("no fact '%(fact)s'"),
    "report_indicator_twice": N_("indicator '%(indicator)s' is declared twice"),
    "report_pair_group_missing": N_("name the pair group: 'questionnaire: <group>' (or rows: {paired_items: <group>})"),
    "report_pair_group_unknown": N_("no anonymous questionnaire pair group '%(group)s' with a start and a close form "
        "(%(known)s)"),
    "report_pair_item_unknown": N_("'%(item)s' is not a number asked at both moments of '%(group)s' (%(items)s)"),
    "report_pair_reads_cases": N_("'%(key)s' reads cases; anonymous answers have none (the period is the close "
                                  "answer's)"),
    "report_aggregate": N_("an indicator computes one of: %(aggregates)s"),
    "report_not_collection": N_("'%(fact)s' is not a collection (a list fact)"),
    "report_count": N_("count 'cases' or a collection (%(collections)s)"),
    "report_distinct": N_("distinct 'client', 'caseworker', 'case', 'value' or a fact, not '%(value)s'"),
    "report_per_case": N_("'per_case' goes with 'sum' or 'mean' (the case's largest value, then summed or averaged "
        "over the cases)"),
    "report_ratio_unknown": N_("no indicator or column '%(name)s'"),
    "report_process_not_reports": N_("process '%(process)s' is not one of the report's"),
    "report_table_unknown": N_("no table '%(table)s'"),
    "report_table_plan": N_("a figure shown as a table has no plan of its own"),
    "report_drill_unknown": N_("no column '%(column)s' in table '%(table)s'"),
    "report_indicator_unknown": N_("no indicator '%(indicator)s'"),
    "report_pair_column": N_("rows of a paired questionnaire's items take 'paired' figures (or ratios of them)"),
    "report_pair_item_column": N_("the rows are the items"),
    "report_pair_rows_only": N_("a paired questionnaire's items are the only rows"),
    "report_pair_rows_unknown": N_("no anonymous questionnaire pair group '%(group)s'"),
    "report_rows_two_kinds": N_("two kinds of rows are a period (month or quarter) and another"),
    "report_not_list_fact": N_("'%(fact)s' is not a list fact"),
    "report_bands": N_("bands come 'from_request' or have 'limits'"),
    "report_register_fact": N_("'%(fact)s' is the client register's birth date, sealed at rest: only an age band's "
        "rows read it ('bands: %(fact)s' with 'age: true')"),
    "report_column_unknown": N_("no column '%(column)s'"),
}


def where(problem: dict) -> str:
    """``file:line`` (or the file), as the command line prefixes each problem."""
    return f"{problem['file']}:{problem['line']}" if problem.get("line") else str(problem.get("file") or "")


def worded(problems, locale: str | None = None) -> list[dict]:
    """The problems with ``message`` in the reader's language (``locale``, else the page's); the English one the
    engine wrote stays as ``message_en``, and ``code`` and ``params`` are kept for a program to read."""
    problems = list(problems or ())
    if locale is None:
        return [_worded(p) for p in problems]
    saved = g.pop("_segito_translations", None)  # web/i18n.py caches the page's catalogue per request
    try:
        with force_locale(locale):
            return [_worded(p) for p in problems]
    finally:
        g.pop("_segito_translations", None)
        if saved is not None:
            g._segito_translations = saved


def _worded(problem) -> dict:
    if not isinstance(problem, dict) or not problem.get("code"):
        return problem
    return {**problem, "message": say(problem), "message_en": problem.get("message")}


def api_locale() -> str:
    """The language of an API answer: the request's Accept-Language when it names one of ours, else English (the
    language the API has always answered in)."""
    return request.accept_languages.best_match(LANGUAGES) or "en"
