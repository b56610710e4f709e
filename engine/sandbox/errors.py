"""SandboxError, and finding the line of sandboxed code an error came from."""
from __future__ import annotations

FILENAME = "<sandbox>"  # the file name sandboxed code is compiled under, to find its frames in a traceback


class SandboxError(Exception):
    """Refused or failed sandboxed code; ``line`` and ``col`` (1-based) locate it when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None):
        self.message, self.line, self.col = message, line, col
        where = "" if line is None else f"line {line}: "
        tail = "" if line is None or col is None else f" (column {col})"
        super().__init__(f"{where}{message}{tail}")


def located(err: Exception) -> SandboxError:
    """A SandboxError carrying the line of the innermost sandboxed frame in err's traceback."""
    line, tb = None, err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(err, SandboxError):
        return err if err.line is not None else SandboxError(err.message, line)
    return SandboxError(f"{type(err).__name__}: {err}", line)
