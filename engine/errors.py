"""Errors the engine raises; each carries a message a person can act on."""
from __future__ import annotations


class SegitoError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(SegitoError):
    status = 404
    code = "not_found"


class Forbidden(SegitoError):
    status = 403
    code = "forbidden"


class Gone(SegitoError):
    """What was asked for existed but can no longer be used (a one-time link already used, or expired)."""

    status = 410
    code = "gone"


class Conflict(SegitoError):
    """Somebody else changed the same case or task first; nothing of this command was saved."""

    status = 409
    code = "conflict"


class ConfirmationNeeded(Conflict):
    """The command is allowed but unusual (e.g. a second open case of one client): nothing was done; the same
    command asked again with confirmation does it. ``details`` names what calls for the confirmation."""

    code = "confirmation_needed"


class ValidationFailed(SegitoError):
    """Form data was refused; ``details`` holds one entry per field: path, seed field, message."""

    status = 422
    code = "validation_failed"


class DefinitionInvalid(SegitoError):
    """A BPMN upload was refused; ``details`` holds one entry per problem: file, line, message."""

    status = 422
    code = "definition_invalid"


class WorkflowFailed(SegitoError):
    """The process itself failed (a gateway without a matching flow, a failing script)."""

    status = 500
    code = "workflow_failed"


class ExpressionRefused(WorkflowFailed):
    """An expression of the process definition failed or was refused while it ran (a timer value out of
    bounds, a script past its time or memory budget); nothing was saved. The definition needs fixing, not the
    request (docs/architecture.md, "Expressions are untrusted")."""

    status = 422
    code = "expression_refused"
class ProcessDataRefused(WorkflowFailed):
    """The process built data that cannot be saved (nested too deep): the definition's fault, refused like bad
    input (nothing saved, the message names the variable) rather than failing as an internal error."""

    status = 422
    code = "process_data_refused"


class PackageInvalid(SegitoError):
    """A service package was refused; ``details`` holds one entry per problem: file, line, message."""

    status = 422
    code = "package_invalid"


class KeyUnavailable(SegitoError):
    """Personal data is sealed under a key this process does not hold: a master key not configured (or a wrong
    one), or a data key destroyed by an erasure (docs/operations.md, "Keys")."""

    status = 503
    code = "key_unavailable"
