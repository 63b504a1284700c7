"""The simulated product and its script: features, customers, traffic, and three incidents.

Everything the demo does to the world lives here as data, so the story can be
read in one place: a support product with four LLM features and five customers
runs healthy for a while, then

1. the provider silently swaps the model snapshot behind the alias and answers
   get worse (quality drops, users rate down, answers get cut off);
2. a new customer arrives whose volume of long, retrieval-heavy requests spikes
   cost per request and the daily spend;
3. the provider's latency regresses (and a few requests time out).

Times are fractions of the run, so a 20-second test and a 10-minute show tell
the same story. ``expected_alerts`` names the alerts (the generated rules'
names) that count as having detected each incident.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Feature:
    name: str
    model: str
    share: float  # of the base traffic
    prompt_chars: int  # context sent with each request (~4 chars per token)
    max_tokens: int
    stream: bool = False


@dataclass(frozen=True)
class Customer:
    name: str
    users: int
    weight: float


@dataclass(frozen=True)
class Incident:
    key: str
    title: str
    at: float  # fraction of the run
    what: str
    expected_alerts: tuple[str, ...]


FEATURES: tuple[Feature, ...] = (
    Feature("support_chat", "gpt-4o-mini", 0.40, 2_400, 300, stream=True),
    Feature("summarise", "gpt-4o-mini", 0.30, 6_000, 250),
    Feature("search_answer", "gpt-4o", 0.20, 8_000, 350),
    Feature("classify", "gpt-4o-mini", 0.10, 800, 20),
)
CUSTOMERS: tuple[Customer, ...] = (
    Customer("acme", 60, 0.35),
    Customer("globex", 40, 0.25),
    Customer("initech", 30, 0.20),
    Customer("umbrella", 20, 0.12),
    Customer("hooli", 10, 0.08),
)
# The customer that arrives in incident 2: contract review over long documents on the large model.
NEW_CUSTOMER = Customer("megacorp", 25, 1.0)
NEW_CUSTOMER_FEATURE = Feature("contract_review", "gpt-4o", 1.0, 48_000, 400)
EXPERIMENT = "prompt-v2"
EXPERIMENT_VARIANTS = {"control": 50, "concise": 50}

INCIDENTS: tuple[Incident, ...] = (
    Incident(
        "model_change", "Silent model change", 0.25,
        "the provider swaps the snapshot behind the model alias; answers get worse",
        ("LLMQualityScoreLow", "LLMThumbsDownRateHigh"),
    ),
    Incident(
        "cost_spike", "New customer volume spike", 0.45,
        "megacorp starts sending long contract reviews on gpt-4o",
        ("LLMCostPerRequestHigh", "LLMSpendForecastHigh"),
    ),
    Incident(
        "latency_regression", "Latency regression", 0.65,
        "the provider gets 3.5x slower and some requests time out",
        ("LLMLatencyP95High", "LLMErrorRateHigh"),
    ),
)


@dataclass
class ProviderState:
    """What the simulated provider does right now (read per request)."""

    latency_factor: float = 1.0
    quality: float = 0.985
    # No background errors: at demo volumes one error in a 5-second window is already 2%.
    error_rate: float = 0.0
    snapshot_suffix: str = ""  # non-empty: the silently swapped model snapshot


@dataclass
class Scenario:
    """The timeline of one run; ``at(elapsed)`` tells which incidents are live."""

    duration: float  # seconds; the cycle length when running forever
    base_rps: float = 10.0
    new_customer_rps: float = 14.0
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def injected_at(self, incident: Incident) -> float:
        return incident.at * self.duration

    def live(self, elapsed: float) -> set[str]:
        position = elapsed % self.duration
        return {i.key for i in INCIDENTS if position >= self.injected_at(i)}

    def provider(self, elapsed: float) -> ProviderState:
        live = self.live(elapsed)
        state = ProviderState()
        if "model_change" in live:
            state.quality = 0.40
            state.snapshot_suffix = "-2025-preview"
        if "latency_regression" in live:
            state.latency_factor = 3.5
            state.error_rate = 0.06
        return state

    def latency(self, max_tokens: int, state: ProviderState) -> float:
        """Seconds for one call: log-normal around a median set by the answer length (p95 ~ 2.1x the median)."""
        median = 0.3 + max_tokens / 600
        return median * math.exp(self.rng.gauss(0.0, 0.45)) * state.latency_factor

    def pick_base_request(self) -> tuple[Feature, Customer, str]:
        feature = self.rng.choices(FEATURES, weights=[f.share for f in FEATURES])[0]
        customer = self.rng.choices(CUSTOMERS, weights=[c.weight for c in CUSTOMERS])[0]
        user = f"{customer.name}-u{self.rng.randrange(customer.users):03d}"
        return feature, customer, user

    def pick_new_customer_request(self) -> tuple[Feature, Customer, str]:
        user = f"{NEW_CUSTOMER.name}-u{self.rng.randrange(NEW_CUSTOMER.users):03d}"
        return NEW_CUSTOMER_FEATURE, NEW_CUSTOMER, user

    def rates(self, elapsed: float) -> list[tuple[float, str]]:
        """(requests per second, source) pairs live at ``elapsed``."""
        out = [(self.base_rps, "base")]
        if "cost_spike" in self.live(elapsed):
            out.append((self.new_customer_rps, "new_customer"))
        return out
