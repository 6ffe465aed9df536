"""User-facing errors: anything raised as `QAError` is shown as a message (CLI exit 2, HTTP 4xx),
never as a traceback, because it describes bad input or configuration, not a bug."""


class QAError(Exception):
    """Bad input or configuration that the user can fix."""

    exit_code = 2


class InputError(QAError):
    """The question, file or option given is not acceptable."""


class ModelNotFoundError(QAError):
    """A model folder is missing or is not in the Hugging Face layout."""


class DataFormatError(QAError):
    """A data file (SQuAD, RACE, passages, triples) is malformed."""
