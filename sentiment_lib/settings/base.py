"""What every settings model shares: read from the environment only when asked, and errors a person can act on.

A model (a pydantic-settings ``BaseSettings``: its ``env_prefix`` and field aliases name the variables) is built
from values (``Model(**values)``: exactly those values and the defaults, nothing else) or from the environment
(:meth:`EnvSettings.from_environment`: each field's one variable, read from ``os.environ`` or a given mapping,
then overrides apply). Keeping construction pure means a test or a caller that passes values gets those values,
whatever the shell running it has exported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Self, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sentiment_lib.errors import ConfigError

M = TypeVar("M", bound=BaseSettings)
# the fields whose values came from the environment, while build() constructs a model: its errors name them
# by their variable (a context variable, since pydantic hands the values to __init__ and nothing else)
_FROM_ENVIRONMENT: ContextVar[frozenset[str]] = ContextVar("from_environment", default=frozenset())


class EnvSettings(BaseSettings):
    """A frozen settings model whose variables are ``<env_prefix><FIELD>`` unless a field names its own."""

    # no setting is meant to be infinite or NaN: "nan" for a timeout would silently disable what it bounds
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_default=True, allow_inf_nan=False
    )
    # the heading of this model's errors and of its table in the configuration reference
    title: ClassVar[str] = "Settings"
    # fields the command line sets (its own options and their defaults): no environment variable reads them
    command_line_only: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **values: Any):
        """Raises ConfigError: an unknown name, a value that does not convert, or one out of bounds."""
        _check_names(type(self), values)
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise _config_error(type(self), err, _FROM_ENVIRONMENT.get()) from None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is read by from_environment only

    @classmethod
    def environment_values(cls, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The values of this model's variables set in ``environ`` (default: the process's), by field.

        Each field is read from exactly one name, spelled exactly (:func:`variable_name`): a secret such as
        ``ADMIN_TOKEN`` is never also read as ``SENTIMENT_SERVE_ADMIN_TOKEN``, nor ``sentiment_threads`` as
        ``SENTIMENT_THREADS``. A blank value means unset, as a line ``NAME=`` in an environment file does.
        """
        environ = os.environ if environ is None else environ
        found = {name: environ.get(variable_name(cls, name), "") for name in variables_of(cls)}
        return {name: value for name, value in found.items() if value.strip()}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """The model from its variables, then ``overrides`` (those that are not None).

        Raises:
            ConfigError: a value that does not convert or is out of bounds; the message names the variable.
        """
        from_env = cls.environment_values(environ)
        given = {name: value for name, value in overrides.items() if value is not None}
        return build(cls, {**from_env, **given}, from_environment=set(from_env) - set(given))


def variables_of(model: type[EnvSettings]) -> list[str]:
    """The fields of ``model`` that an environment variable sets."""
    return [name for name in model.model_fields if name not in model.command_line_only]


def variable_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``model``."""
    alias = model.model_fields[field].validation_alias
    if alias is not None:
        assert isinstance(alias, str), f"{model.__name__}.{field}: one variable name, not {alias!r}"
        return alias
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


def build(model: type[M], values: Mapping[str, Any], from_environment: set[str] | frozenset[str] = frozenset()) -> M:
    """``model(**values)``, its validation errors turned into one :class:`ConfigError` naming each culprit:
    the variable for a value that came from the environment, the setting's name for the others.

    Raises:
        ConfigError: an unknown name, a value that does not convert, or one out of bounds.
    """
    token = _FROM_ENVIRONMENT.set(frozenset(from_environment))
    try:
        return model(**values)
    finally:
        _FROM_ENVIRONMENT.reset(token)


def _check_names(model: type[BaseSettings], values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(model.model_fields))
    if unknown:
        raise ConfigError(f"Unknown setting {unknown[0]!r}. Known settings: {', '.join(sorted(model.model_fields))}")


def _config_error(model: type[BaseSettings], err: ValidationError, from_environment: frozenset[str]) -> ConfigError:
    title = getattr(model, "title", model.__name__)
    problems = [_problem(model, detail, from_environment) for detail in err.errors()]
    return ConfigError(f"Invalid {title.lower()}: " + "; ".join(problems))


def _problem(model: type[BaseSettings], detail: Mapping[str, Any], from_environment: frozenset[str]) -> str:
    field = str(detail["loc"][0]) if detail["loc"] else ""
    message = str(detail["msg"]).removeprefix("Value error, ")
    if field not in model.model_fields:
        return message  # a check of several fields at once: its message names them
    name = variable_name(model, field) if field in from_environment else field
    shown = "" if _is_secret(model.model_fields[field]) else f", got {detail['input']!r}"
    return f"{name}: {message}{shown}"


def _is_secret(info: FieldInfo) -> bool:
    return info.repr is False  # secrets are declared repr=False; their values are never repeated in errors
