"""Where the labelling queue goes to be labelled: the Label Studio server (``LABEL_STUDIO_*`` variables).

The API key is a secret: it is read from the environment (or the git-ignored ``.env`` that ``runner.py`` loads
into it) and never from a command-line flag, a setting file or code; it is never logged nor repeated in errors.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sentiment_lib.settings.base import EnvSettings

DEFAULT_URL = "http://127.0.0.1:8080"  # what `label-studio start` serves on by default


class LabelStudioSettings(EnvSettings):
    """The Label Studio server that ``runner.py label push`` fills and ``runner.py label pull`` reads."""

    model_config = SettingsConfigDict(env_prefix="LABEL_STUDIO_")
    title: ClassVar[str] = "Label Studio settings"

    url: str = Field(DEFAULT_URL, min_length=1, description="the Label Studio server")
    api_key: str = Field(
        "", repr=False, description="an access token of its user (Account & Settings); a secret: environment or .env"
    )
    project_title: str = Field(
        "Sentiment labelling queue", min_length=1, description="the project the queue is imported into"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="each request to the server")
