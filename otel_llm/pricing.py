"""USD cost of an LLM call, from token usage and price data.

Prices come from `genai-prices`, whose data is bundled with the package: no
network call at import or per call. A user can override or add prices from a
YAML or JSON file (``OTEL_LLM_PRICES_FILE`` or ``Pricer(overrides_file=...)``),
e.g. for a self-hosted model::

    models:
      - provider: vllm            # gen_ai.provider.name, or "*" for any provider
        model: llama-3.1-70b       # gen_ai.request/response model, exact match
        input_per_mtok: 0.50       # USD per million input tokens
        output_per_mtok: 1.00
        cache_read_per_mtok: 0.05  # optional, defaults to the input price
        cache_write_per_mtok: 0.60 # optional, defaults to the input price

A model with no known price gets ``None``: the caller records no cost and
counts the call as unpriced. It never silently costs 0.

Token semantics follow the GenAI conventions: ``input_tokens`` *includes*
cache-read and cache-creation tokens, which are priced at their own rates;
reasoning tokens are part of ``output_tokens``.

Speed: resolving a model and reading its price is done once per
(provider, model) and cached. Flat and tiered prices (e.g. Claude Sonnet 4.5
and Gemini 2.5 Pro above 200k input tokens) are then applied with float
arithmetic (~1 µs), choosing the tier exactly as genai-prices does (those
entries are also in ``Pricer.float_prices``, which ``GenAICall.end()`` applies
directly);
time-conditional prices go through genai-prices' exact Decimal path with the
request time, so historic prices are honoured.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from otel_llm import semconv

log = logging.getLogger(__name__)

# gen_ai.provider.name -> genai-prices provider id. Providers mapped to None are
# self-hosted or generic OpenAI-compatible servers: a model name there says
# nothing about who bills what, so they are priced only from overrides.
PROVIDER_IDS: dict[str, str | None] = {
    semconv.Provider.OPENAI: "openai",
    semconv.Provider.AZURE_OPENAI: "azure",
    semconv.Provider.AZURE_INFERENCE: "azure",
    semconv.Provider.ANTHROPIC: "anthropic",
    semconv.Provider.AWS_BEDROCK: "aws",
    semconv.Provider.GCP_GEMINI: "google",
    semconv.Provider.GCP_GEN_AI: "google",
    semconv.Provider.GCP_VERTEX_AI: "google",
    semconv.Provider.COHERE: "cohere",
    semconv.Provider.DEEPSEEK: "deepseek",
    semconv.Provider.GROQ: "groq",
    semconv.Provider.MISTRAL_AI: "mistral",
    semconv.Provider.PERPLEXITY: "perplexity",
    semconv.Provider.X_AI: "x-ai",
    semconv.Provider.VLLM: None,
    semconv.Provider.OLLAMA: None,
    semconv.Provider.OPENAI_COMPATIBLE: None,
    # Older gen_ai.system values seen on foreign spans.
    "az.ai.openai": "azure",
    "gemini": "google",
    "vertex_ai": "google",
    "mistralai": "mistral",
    "xai": "x-ai",
}

_TOKEN_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")


class Cost(NamedTuple):
    """A priced call: the amount in USD and which price data produced it.

    A NamedTuple rather than a frozen dataclass: one is built per priced call,
    and this is the cheapest immutable record Python has.
    """

    amount: float
    source: str


@dataclass(frozen=True, slots=True)
class FlatPrice:
    """USD per token (not per million) for the four token kinds."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def apply(self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> float:
        uncached = input_tokens - cache_read - cache_write
        if uncached < 0:  # inconsistent usage: never price below the cached part alone
            uncached = 0
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + output_tokens * self.output
        )


@dataclass(frozen=True, slots=True)
class TieredPrice:
    """Per-token prices that step up with the request's total input tokens.

    Each kind is ``(base, ((start, price), ...))`` with tiers ascending. As in
    genai-prices, a tier applies to *all* tokens of the call once the total
    input tokens (cache included) exceed its start.
    """

    input: tuple[float, tuple[tuple[int, float], ...]]
    output: tuple[float, tuple[tuple[int, float], ...]]
    cache_read: tuple[float, tuple[tuple[int, float], ...]]
    cache_write: tuple[float, tuple[tuple[int, float], ...]]

    @staticmethod
    def _rate(kind: tuple[float, tuple[tuple[int, float], ...]], total_input: int) -> float:
        base, tiers = kind
        for start, rate in reversed(tiers):
            if total_input > start:
                return rate
        return base

    def apply(self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> float:
        uncached = input_tokens - cache_read - cache_write
        if uncached < 0:
            uncached = 0
        rate = self._rate
        return (
            uncached * rate(self.input, input_tokens)
            + cache_read * rate(self.cache_read, input_tokens)
            + cache_write * rate(self.cache_write, input_tokens)
            + output_tokens * rate(self.output, input_tokens)
        )


def _per_token(value: Any) -> tuple[float, tuple[tuple[int, float], ...]] | None:
    """A genai-prices Decimal or TieredPrices (USD per million) as per-token floats."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value) / 1e6, ()
    tiers = tuple(sorted((int(t.start), float(t.price) / 1e6) for t in value.tiers))
    return float(value.base) / 1e6, tiers


class PricesFileError(ValueError):
    """The price override file is unreadable or malformed; the message says where."""


def load_overrides(path: str | os.PathLike[str]) -> dict[tuple[str, str], FlatPrice]:
    """Read a price override file (YAML or JSON) into ``{(provider, model): FlatPrice}``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricesFileError(f"{p}: cannot read price file: {exc.strerror or exc}") from exc
    try:
        if p.suffix == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error becomes one clear message
        raise PricesFileError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        raise PricesFileError(f"{p}: expected a mapping with a 'models' list")
    out: dict[tuple[str, str], FlatPrice] = {}
    for i, entry in enumerate(doc["models"]):
        where = f"{p}: models[{i}]"
        if not isinstance(entry, dict):
            raise PricesFileError(f"{where}: expected a mapping")
        model = entry.get("model")
        if not isinstance(model, str) or not model:
            raise PricesFileError(f"{where}.model: required, a non-empty string")
        provider = entry.get("provider", "*")
        if not isinstance(provider, str) or not provider:
            raise PricesFileError(f"{where}.provider: must be a non-empty string (or '*')")
        rates: dict[str, float] = {}
        for key in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok"):
            value = entry.get(key)
            if value is None:
                if key in ("input_per_mtok", "output_per_mtok"):
                    raise PricesFileError(f"{where}.{key}: required, USD per million tokens")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise PricesFileError(f"{where}.{key}: must be a finite number >= 0, got {value!r}")
            rates[key] = float(value) / 1e6
        out[(provider, model)] = FlatPrice(
            input=rates["input_per_mtok"],
            output=rates["output_per_mtok"],
            cache_read=rates.get("cache_read_per_mtok", rates["input_per_mtok"]),
            cache_write=rates.get("cache_write_per_mtok", rates["input_per_mtok"]),
        )
    return out


class Pricer:
    """Prices token usage; thread-safe, caches per (provider, model)."""

    def __init__(self, overrides_file: str | os.PathLike[str] | None = None) -> None:
        import genai_prices

        self._data_source = f"genai-prices {genai_prices.__version__}"
        self._overrides: dict[tuple[str, str], FlatPrice] = {}
        self._override_source = ""
        if overrides_file is not None:
            self._overrides = load_overrides(overrides_file)
            self._override_source = f"override:{os.fspath(overrides_file)}"
        # (provider, model) -> (FlatPrice, source) | (ModelInfo, source) | None (unknown)
        self._cache: dict[tuple[str | None, str], Any] = {}
        # The subset of _cache priced by float arithmetic: (provider, model) -> (FlatPrice | TieredPrice, source).
        # Read directly by GenAICall.end() (see float_price), which then skips price()'s generic path.
        # A subclass that overrides price() never fills it, so its pricing is never bypassed.
        self.float_prices: dict[tuple[str | None, str], tuple[FlatPrice | TieredPrice, str]] = {}
        self._fills_float_prices = type(self).price is Pricer.price
        self._lock = threading.Lock()

    @property
    def data_source(self) -> str:
        return self._data_source

    def price(
        self,
        provider: str | None,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        at: datetime | int | None = None,
    ) -> Cost | None:
        """USD cost of one call, or ``None`` when the model has no known price.

        ``at`` is the request time (a datetime or Unix nanoseconds), used only
        for models whose price changed over time; ``None`` means now.
        """
        if not model:
            return None
        key = (provider, model)
        entry = self._cache.get(key, _MISSING)
        if entry is _MISSING:
            entry = self._resolve(provider, model)
            with self._lock:
                self._cache[key] = entry
                if entry is not None and self._fills_float_prices and type(entry[0]) in (FlatPrice, TieredPrice):
                    self.float_prices[key] = entry
        if entry is None:
            return None
        price, source = entry
        if type(price) is FlatPrice or type(price) is TieredPrice:
            return Cost(price.apply(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens), source)
        return self._exact(price, source, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, at)

    def float_price(self, provider: str | None, model: str) -> tuple[FlatPrice | TieredPrice, str] | None:
        """``(price, source)`` when this model is priced by float arithmetic, else ``None``.

        ``price.apply(input, output, cache_read, cache_write)`` then gives exactly
        ``price(...).amount``. ``None`` also for a model not priced yet: call
        ``price()`` once to resolve it. A subclass that overrides ``price()``
        gets ``None`` always, so its own pricing is never bypassed.
        """
        return self.float_prices.get((provider, model))

    def is_known(self, provider: str | None, model: str) -> bool:
        return self.price(provider, model, 0, 0) is not None

    # -- internals ---------------------------------------------------------
    def _resolve(self, provider: str | None, model: str) -> Any:
        override = self._overrides.get((provider or "*", model)) or self._overrides.get(("*", model))
        if override is not None:
            return override, self._override_source
        if provider is not None and provider in PROVIDER_IDS:
            provider_id = PROVIDER_IDS[provider]
            if provider_id is None:
                return None
        else:
            provider_id = None  # unknown provider: let genai-prices match on the model name
        from genai_prices import data_snapshot

        try:
            _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
        except LookupError:
            return None
        except Exception:  # noqa: BLE001 - price data problems must not break the caller
            log.exception("otel-llm: price lookup failed for %s/%s", provider, model)
            return None
        prices = info.prices
        if isinstance(prices, list):
            return info, self._data_source  # time-conditional: exact path with the request time
        values = {k: getattr(prices, k, None) for k in _TOKEN_KEYS}
        if values["input_mtok"] is None and values["output_mtok"] is None:
            return None  # not a token-priced model (images, audio...): unknown, not free
        if all(v is None or isinstance(v, Decimal) for v in values.values()):
            inp = float(values["input_mtok"] or 0) / 1e6
            cr, cw = values["cache_read_mtok"], values["cache_write_mtok"]
            flat = FlatPrice(
                input=inp,
                output=float(values["output_mtok"] or 0) / 1e6,
                cache_read=float(cr) / 1e6 if cr is not None else inp,
                cache_write=float(cw) / 1e6 if cw is not None else inp,
            )
            return flat, self._data_source
        if all(v is None or isinstance(v, Decimal) or _is_tiered(v) for v in values.values()):
            zero: tuple[float, tuple[tuple[int, float], ...]] = (0.0, ())
            inp_t = _per_token(values["input_mtok"]) or zero
            tiered = TieredPrice(
                input=inp_t,
                output=_per_token(values["output_mtok"]) or zero,
                # Unpriced cache tokens stay in genai-prices' input leaf, i.e. at the input rate.
                cache_read=_per_token(values["cache_read_mtok"]) or inp_t,
                cache_write=_per_token(values["cache_write_mtok"]) or inp_t,
            )
            return tiered, self._data_source
        return info, self._data_source

    @staticmethod
    def _exact(info: Any, source: str, inp: int, out: int, cr: int, cw: int, at: datetime | int | None) -> Cost | None:
        from genai_prices import Usage

        if isinstance(at, datetime):
            when = at
        elif at:
            when = datetime.fromtimestamp(at / 1e9, tz=timezone.utc)
        else:
            when = datetime.now(tz=timezone.utc)
        try:
            model_price = info.get_prices(when)
            result = model_price.calc_price(
                Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
            )
        except Exception:  # noqa: BLE001
            log.exception("otel-llm: price calculation failed for %s", getattr(info, "id", info))
            return None
        return Cost(float(result["total_price"]), source)


def _is_tiered(value: Any) -> bool:
    from genai_prices.types import TieredPrices

    return isinstance(value, TieredPrices)


_MISSING = object()
_default: Pricer | None = None
_default_lock = threading.Lock()


def default_pricer() -> Pricer:
    """The process-wide pricer, reading ``OTEL_LLM_PRICES_FILE`` once if set."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                path = os.environ.get(semconv.ENV_PRICES_FILE)
                _default = Pricer(overrides_file=path or None)
    return _default


def set_default_pricer(pricer: Pricer | None) -> None:
    """Replace the process-wide pricer (e.g. after loading an override file)."""
    global _default
    _default = pricer
