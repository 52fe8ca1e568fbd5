"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class SuiteError(Exception):
    """Bad input or missing resources; the message says what was wrong and what to do."""


class DataError(SuiteError):
    """GLUE data missing or malformed."""


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss; the cell is recorded as failed."""
