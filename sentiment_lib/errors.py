"""The project's exception hierarchy: one base class, one subclass per kind of failure."""


class SentimentError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(SentimentError):
    """A setting, preset or notebook parameter is invalid."""


class DataValidationError(SentimentError):
    """Input data breaks the contract (missing file or columns, bad labels, empty reviews, ...)."""


class DataLeakageError(SentimentError):
    """The same text appears in more than one split."""


class ModelError(SentimentError):
    """A model cannot be found, loaded or registered."""


class RegistryUnavailableError(SentimentError):
    """The model registry cannot be read (locked or corrupt store, server down or failing): nothing can be
    concluded about which versions exist, so nothing may be promoted or trained as a "first" model."""


class StepFailedError(SentimentError):
    """A pipeline notebook failed; the executed notebook is kept for inspection."""

    def __init__(self, message: str, executed_notebook: str | None = None):
        super().__init__(message)
        self.executed_notebook = executed_notebook


class ServingUnavailableError(SentimentError):
    """The prediction API does not answer, or answers with an error, where a command needs it.

    ``status`` is the HTTP status it answered with (0 when nothing answered).
    """

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status
