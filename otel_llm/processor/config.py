"""Configuration of ``otel-llm collector``: YAML file, flags and environment, validated.

Precedence: command-line flag > environment variable > config file > default.
Every flag ``--section.some-name`` has the environment fallback
``OTEL_LLM_COLLECTOR_SECTION_SOME_NAME``. The bearer token is read from
``auth.bearer_token_file`` or ``OTEL_LLM_COLLECTOR_AUTH_BEARER_TOKEN`` (never
a flag, so it does not show in ``ps``). Errors name the bad field, e.g.
``limits.max_request_bytes: must be >= 1024 (got 10)``.

Example file (all keys optional)::

    grpc:   {listen_address: "127.0.0.1:4317"}   # "" disables the listener
    http:   {listen_address: "127.0.0.1:4318"}   # OTLP/HTTP, also serves /metrics
    web:    {listen_address: "127.0.0.1:9464"}   # /metrics, /healthz, /readyz
    auth:   {bearer_token_file: /etc/otel-llm/token}
    tls:    {cert_file: server.crt, key_file: server.key, client_ca_file: ca.crt}
    limits: {max_request_bytes: 8388608, max_attribute_length: 256, max_pending_requests: 8,
             max_tokens_per_span: 50000000, max_cost_per_span_usd: 10000}
    metrics: {top_n: 20, max_label_values: 500, max_series: 10000, recent_calls: 50000}
    drift:  {enabled: true, sample_rate: 1.0, state_file: /var/lib/otel-llm/drift.json}
    prices_file: prices.yaml
    eval_store: /var/lib/otel-llm/evals.sqlite3
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from otel_llm import semconv as sc

ENV_PREFIX = "OTEL_LLM_COLLECTOR_"
ENV_BEARER_TOKEN = ENV_PREFIX + "AUTH_BEARER_TOKEN"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the field and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Listener(_Section):
    listen_address: str = Field(description="host:port to listen on; empty disables")

    @field_validator("listen_address")
    @classmethod
    def _check(cls, v: str) -> str:
        if v == "":
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected host:port with a port 0-65535, got {v!r}")
        return v


class Auth(_Section):
    bearer_token_file: Path | None = None
    bearer_token: str | None = Field(default=None, description="prefer bearer_token_file or the env var")


class TLS(_Section):
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = Field(default=None, description="set to require client certificates (mTLS)")

    @model_validator(mode="after")
    def _pair(self) -> TLS:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be set together")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("client_ca_file (mTLS) needs cert_file and key_file")
        for name in ("cert_file", "key_file", "client_ca_file"):
            p = getattr(self, name)
            if p is not None and not Path(p).is_file():
                raise ValueError(f"{name}: no such file: {p}")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class Limits(_Section):
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="largest OTLP request body accepted")
    max_attribute_length: int = Field(default=256, ge=16, description="longer label/id values fold into __other__")
    max_pending_requests: int = Field(default=8, ge=1, description="admitted requests; past it: 429/RESOURCE_EXHAUSTED")
    max_tokens_per_span: int = Field(default=sc.MAX_TOKENS_PER_CALL, ge=1,
                                     description="a span with a larger token count is rejected (absurd_tokens)")
    max_cost_per_span_usd: float = Field(default=sc.MAX_COST_PER_CALL_USD, gt=0,
                                         description="a span costing more is rejected (absurd_cost)")


class Metrics(_Section):
    top_n: int = Field(default=20, ge=1, le=10_000, description="exact per-customer / per-user cost series")
    max_label_values: int = Field(default=500, ge=1, description="distinct values per label before __other__")
    max_series: int = Field(default=10_000, ge=10, description="label tuples per metric before whole tuples fold")
    recent_calls: int = Field(default=50_000, ge=100, description="calls remembered to join evaluation events")


class Drift(_Section):
    enabled: bool = Field(default=True, description="run the drift detectors (otel_llm.drift) on received spans")
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0,
                               description="share of traces whose message content the drift detectors read")
    state_file: Path | None = Field(default=None, description="drift baselines loaded at start, saved at stop")


class CollectorConfig(_Section):
    grpc: Listener = Listener(listen_address="127.0.0.1:4317")
    http: Listener = Listener(listen_address="127.0.0.1:4318")
    web: Listener = Listener(listen_address="127.0.0.1:9464")
    auth: Auth = Auth()
    tls: TLS = TLS()
    limits: Limits = Limits()
    metrics: Metrics = Metrics()
    drift: Drift = Drift()
    prices_file: Path | None = None
    # Eval store for POST /v1/feedback; default $OTEL_LLM_EVAL_STORE or ./otel-llm-evals.sqlite3 (docs/feedback.md).
    eval_store: Path | None = None

    def bearer_token(self) -> str | None:
        """The token clients must send, from the env var, the inline value or the file."""
        token = os.environ.get(ENV_BEARER_TOKEN) or self.auth.bearer_token
        if token is None and self.auth.bearer_token_file is not None:
            try:
                token = Path(self.auth.bearer_token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"auth.bearer_token_file: cannot read {self.auth.bearer_token_file}: "
                                  f"{exc.strerror or exc}") from exc
            if not token:
                raise ConfigError(f"auth.bearer_token_file: {self.auth.bearer_token_file} is empty")
        return token or None


# flag -> (section, key, type); the env fallback is derived from the flag name.
FLAGS: dict[str, tuple[str, str | None, type]] = {
    "--grpc.listen-address": ("grpc", "listen_address", str),
    "--http.listen-address": ("http", "listen_address", str),
    "--web.listen-address": ("web", "listen_address", str),
    "--auth.bearer-token-file": ("auth", "bearer_token_file", str),
    "--tls.cert-file": ("tls", "cert_file", str),
    "--tls.key-file": ("tls", "key_file", str),
    "--tls.client-ca-file": ("tls", "client_ca_file", str),
    "--limits.max-request-bytes": ("limits", "max_request_bytes", int),
    "--limits.max-attribute-length": ("limits", "max_attribute_length", int),
    "--limits.max-pending-requests": ("limits", "max_pending_requests", int),
    "--limits.max-tokens-per-span": ("limits", "max_tokens_per_span", int),
    "--limits.max-cost-per-span-usd": ("limits", "max_cost_per_span_usd", float),
    "--metrics.top-n": ("metrics", "top_n", int),
    "--metrics.max-label-values": ("metrics", "max_label_values", int),
    "--metrics.max-series": ("metrics", "max_series", int),
    "--prices.file": ("prices_file", None, str),
    "--evalstore.path": ("eval_store", None, str),
    "--drift.enabled": ("drift", "enabled", bool),
    "--drift.sample-rate": ("drift", "sample_rate", float),
    "--drift.state-file": ("drift", "state_file", str),
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace(".", "_").replace("-", "_").upper()


def _format(exc: ValidationError, origin: str) -> str:
    errors = exc.errors()
    # A misspelt required key reads as an unknown field *and* a missing one: report
    # the unknown field, suggesting the missing name, and drop the echo.
    missing: dict[tuple[Any, ...], list[str]] = {}
    for err in errors:
        if err["type"] == "missing" and err["loc"]:
            missing.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))
    misspelt: set[tuple[Any, ...]] = set()
    lines = []
    for err in errors:
        parent = tuple(err["loc"][:-1])
        if err["type"] == "extra_forbidden" and parent in missing:
            misspelt.add(parent)
    for err in errors:
        parent = tuple(err["loc"][:-1])
        if err["type"] == "missing" and parent in misspelt:
            continue
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(err["loc"][-1]), missing.get(parent, ()), n=1)
            hint = f"did you mean {close[0]!r}? " if close else "check the spelling; "
            msg = f"unknown field ({hint}see docs/collector.md)"
        got = err.get("input")
        if (err["type"] not in ("extra_forbidden", "missing") and not isinstance(got, dict)
                and repr(got) not in msg):
            msg += f" (got {got!r})"
        lines.append(f"{origin}: {loc}: {msg}")
    return "\n".join(lines)


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> CollectorConfig:
    """Build the config from a YAML file, env vars and flag overrides (``{flag: value}``)."""
    import yaml

    doc: dict[str, Any] = {}
    origin = "config"
    if path:
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
        doc = loaded
    env = os.environ if environ is None else environ
    layered: dict[str, Any] = {}
    for flag in FLAGS:
        from_env = env.get(env_name(flag))
        if from_env is not None:
            layered[flag] = from_env
    layered.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for flag, given in layered.items():
        section, key, typ = FLAGS[flag]
        value: Any = given
        if typ is int or typ is float:
            try:
                value = typ(value)
            except (TypeError, ValueError):
                kind = "an integer" if typ is int else "a number"
                raise ConfigError(f"{flag} ({env_name(flag)}): expected {kind}, got {value!r}") from None
        elif typ is bool and not isinstance(value, bool):
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise ConfigError(f"{flag} ({env_name(flag)}): expected true or false, got {value!r}")
            value = text in _TRUE
        if key is None:
            doc[section] = value
        else:
            sec = doc.get(section)
            if sec is None:
                sec = doc[section] = {}
            if not isinstance(sec, dict):
                raise ConfigError(f"{origin}: {section}: expected a mapping, got {sec!r}")
            sec[key] = value
    try:
        return CollectorConfig.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(_format(exc, origin)) from None
