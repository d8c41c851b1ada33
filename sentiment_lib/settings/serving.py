"""The API's settings: ``SENTIMENT_SERVE_<NAME>`` variables, plus the two tokens ``ADMIN_TOKEN`` and
``METRICS_TOKEN`` (secrets keep the names operators already use for them).

The registered model's name and the served-log folder are not here: they are the pipeline's settings
(``SENTIMENT_REGISTERED_MODEL_NAME``, ``SENTIMENT_SERVED_LOG_DIR``), so the API follows the model the
pipeline registers.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from sentiment_lib.errors import ConfigError
from sentiment_lib.settings.base import EnvSettings
from sentiment_lib.settings.pipeline import CHAMPION

ShadowCpu = Literal["idle", "low"]  # how the shadow challenger's process is scheduled (ServeConfig.shadow_cpu)
MOVED = {"SENTIMENT_SERVE_REGISTERED_MODEL_NAME": "SENTIMENT_REGISTERED_MODEL_NAME"}


class ServeConfig(EnvSettings):
    """How the API serves: limits, threads, who may call what."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_SERVE_")
    title: ClassVar[str] = "Serving settings"
    # app.py / sentiment serve set these from --workspace (SENTIMENT_WORKSPACE), --host and --log-format
    command_line_only: ClassVar[frozenset[str]] = frozenset({"workspace", "host", "access_log"})

    alias: str = Field(CHAMPION, description="the registry alias served")
    workspace: str = Field(".", description="the workspace whose registry, served log and reports are used")
    max_review_chars: int = Field(5000, ge=1, description="characters of one review at most")
    max_batch_items: int = Field(1000, ge=1, description="reviews of one /batch_predict at most")
    # 1,000 reviews of 5,000 characters took 32 s of both cores; this is 1,000 of 500
    max_batch_chars: int = Field(500_000, ge=1, description="characters of a whole batch at most")
    max_csv_columns: int = Field(20, ge=1, description="a CSV header with more columns is refused unread")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1, description="waitress refuses a larger body before reading it")
    # idle connections do not hold a thread, so a high limit costs only file descriptors and a few KB each;
    # with waitress's default of 100, 100 idle clients locked everyone out (docs "Security")
    threads: int = Field(16, ge=1, description="waitress threads")
    connection_limit: int = Field(1000, ge=1, description="open connections at most")
    channel_timeout_seconds: int = Field(30, ge=1, description="a connection silent this long is closed")
    trusted_proxies: str = Field(
        "", description="proxy addresses (comma-separated) whose forwarding headers are believed"
    )
    api_keys_file: str = Field(
        "", description="keys (hashed) that /predict, /batch_predict and /explain require; empty: open"
    )
    rate_limit_per_minute: float = Field(
        0.0, ge=0, description="requests per minute per API key (or address without keys); 0 = no limit"
    )
    rate_limit_burst: int = Field(20, ge=1, description="requests a client may send at once before the rate applies")
    max_concurrent_batches: int = Field(2, ge=1, description="/batch_predict model calls at once; more wait, then 503")
    # waiting holds a server thread, which /predict and /health need (16 waiting batches on 16 threads queued
    # /health behind them for 2 s in bench_load)
    batch_wait_seconds: float = Field(0.0, ge=0, description="how long a batch waits for a slot before the 503")
    predict_timeout_seconds: float = Field(30.0, gt=0, description="a /predict waits this long for the model, then 503")
    stuck_after_seconds: float = Field(
        60.0, gt=0, description="/health answers 503 while one model call runs longer than this"
    )
    refresh_seconds: float = Field(10.0, ge=0, description="seconds between checks for a new @champion; 0 = never")
    micro_batching: bool = Field(True, description="concurrent /predict calls share one model call")
    log_inputs: bool = Field(True, description="served texts go to the served log for the drift checks")
    # shadow scoring (sentiment_lib/serving/shadow.py): off the request path, never delaying an answer
    shadow_share: float = Field(
        0.1, ge=0, le=1, description="share of served texts the @challenger also scores, off the request path; 0 = off"
    )
    shadow_queue_size: int = Field(
        1000, ge=1, description="texts waiting for the challenger at most; a full queue drops (and counts) the text"
    )
    # "idle": Linux's idle scheduling class, CPU time no other thread wants (a saturated server scores little and
    # drops the rest, counted); "low": nice 19, a small share even of a busy CPU (what the tests use: CI's cores
    # are busy with other tests)
    shadow_cpu: ShadowCpu = Field(
        "idle", description="the challenger's process runs on idle CPU time only ('idle') or at nice 19 ('low')"
    )
    admin_token: str = Field(
        "", validation_alias="ADMIN_TOKEN", repr=False, description="bearer token of /admin/reload; empty: off"
    )
    metrics_token: str = Field(
        "", validation_alias="METRICS_TOKEN", repr=False, description="a scraper's bearer token for /metrics off host"
    )
    host: str = Field("127.0.0.1", description="the address served on (off loopback the pages need a token)")
    public_status: bool = Field(False, description="the status page and reports open to anyone who can reach them")
    access_log: bool = Field(False, description="one log record per request (on with --log-format json)")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        try:
            parse_trusted_proxies(value)
        except ValueError as err:
            raise ValueError(f"must be IP addresses separated by commas: {err}") from None
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServeConfig:
        """The settings from the environment, then ``overrides`` (those that are not None).

        Raises:
            ConfigError: a value does not convert, or a variable that moved to the pipeline's settings is set.
        """
        _refuse_moved(os.environ if environ is None else environ)
        return cls.from_environment(environ, **overrides)


def parse_trusted_proxies(text: str) -> frozenset[str]:
    """``"127.0.0.1, ::1"`` -> the set of addresses; each must be an IP address.

    Raises:
        ValueError: an entry that is not an IP address.
    """
    return frozenset(str(ipaddress.ip_address(entry)) for entry in (p.strip() for p in text.split(",")) if entry)


def _refuse_moved(env: Mapping[str, str]) -> None:
    for old, new in MOVED.items():
        if old in env:
            raise ConfigError(f"{old} is no longer read: set {new}, which names the model for training and serving")
