"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class SuiteError(Exception):
    """Bad input or missing resources; the message says what was wrong and what to do."""


class DataError(SuiteError):
    """GLUE data missing or malformed."""


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss; the cell is recorded as failed."""


def clipped(text: str, limit: int = 40) -> str:
    """`text` as an error message may echo it: whole up to `limit` characters, else its start and '...'
    (a value pasted by mistake, thousands of characters long, would bury the message)."""
    return text if len(text) <= limit else text[:limit] + "..."
