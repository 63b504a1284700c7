"""Every span attribute, event and metric name otel-llm uses, in one place.

This module is the ground floor of the package: it imports nothing of ours, so
instrumentation, the processor and the monitoring generator can all read it
without importing each other. Span names follow the OpenTelemetry GenAI
semantic conventions (v1.41.0); names the spec does not have yet live under
``gen_ai.usage.cost.*`` (the open cost proposal) or ``otel_llm.*``.

Metric names here are the names *Prometheus* sees (base units, ``_total`` and
unit suffixes), because the processor exports them with ``prometheus-client``
and every rule and dashboard query is written against them. ``METRICS`` is the
metric contract: ``docs/metrics.md`` is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------
# GenAI span attributes (OpenTelemetry semantic conventions v1.41.0)
# --------------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"  # deprecated by the spec; read, never written
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"

GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"

GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"

# Input tokens include cached tokens, as the spec says.
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"

GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"

# Content: opt-in only (see otel_llm.content).
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"

SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
ERROR_TYPE_OTHER = "_OTHER"
SERVICE_NAME = "service.name"  # resource attribute

OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

# Evaluation results (user feedback and automated scores travel as these).
GEN_AI_EVALUATION_RESULT = "gen_ai.evaluation.result"  # event name
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
# Evaluation names with a metric of their own (any other name is an automated
# evaluator and becomes llm_quality_score{evaluator=<name>}).
EVALUATION_USER_FEEDBACK = "user_feedback"  # score.label up|down, score.value 1.0|0.0
EVALUATION_CORRECTION = "correction"
EVALUATION_ESCALATION = "escalation"
RATING_UP = "up"
RATING_DOWN = "down"
# otel-llm's own attributes on evaluation events: the kind of feedback and who gave it
# (user ids stay on events and in the eval store; they never become metric labels).
OTEL_LLM_FEEDBACK_ID = "otel_llm.feedback.id"
OTEL_LLM_EVALUATION_SOURCE = "otel_llm.evaluation.source"  # user | evaluator

# Older and foreign conventions the processor also reads (never written).
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
OPENINFERENCE_MODEL_NAME = "llm.model_name"
OPENINFERENCE_PROVIDER = "llm.provider"
OPENINFERENCE_SYSTEM = "llm.system"
OPENINFERENCE_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
OPENINFERENCE_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
OPENINFERENCE_TOKEN_COUNT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OPENINFERENCE_TOKEN_COUNT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
OPENINFERENCE_TOKEN_COUNT_REASONING = "llm.token_count.completion_details.reasoning"
OPENLLMETRY_USAGE_TOTAL_TOKENS = "llm.usage.total_tokens"
OPENLLMETRY_REQUEST_TYPE = "llm.request.type"
OPENLIT_USAGE_COST = "gen_ai.usage.cost"  # OpenLIT's single-float cost
ANTHROPIC_NATIVE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
# The anthropic SDK's native spans carry the stop reason here, not in gen_ai.response.finish_reasons.
ANTHROPIC_NATIVE_STOP_REASON = "anthropic.message.stop_reason"

# --------------------------------------------------------------------------
# Well-known attribute values
# --------------------------------------------------------------------------
class Operation:
    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    GENERATE_CONTENT = "generate_content"
    CREATE_AGENT = "create_agent"
    INVOKE_AGENT = "invoke_agent"
    EXECUTE_TOOL = "execute_tool"


class Provider:
    OPENAI = "openai"
    AZURE_OPENAI = "azure.ai.openai"
    AZURE_INFERENCE = "azure.ai.inference"
    ANTHROPIC = "anthropic"
    AWS_BEDROCK = "aws.bedrock"
    GCP_VERTEX_AI = "gcp.vertex_ai"
    GCP_GEMINI = "gcp.gemini"
    GCP_GEN_AI = "gcp.gen_ai"
    COHERE = "cohere"
    DEEPSEEK = "deepseek"
    GROQ = "groq"
    MISTRAL_AI = "mistral_ai"
    PERPLEXITY = "perplexity"
    X_AI = "x_ai"
    IBM_WATSONX_AI = "ibm.watsonx.ai"
    # Not in the spec's list; used for OpenAI-compatible servers.
    VLLM = "vllm"
    OLLAMA = "ollama"
    OPENAI_COMPATIBLE = "openai_compatible"


# --------------------------------------------------------------------------
# Cost (not in the spec yet; follows the open gen_ai.usage.cost proposal)
# --------------------------------------------------------------------------
GEN_AI_USAGE_COST_AMOUNT = "gen_ai.usage.cost.amount"
GEN_AI_USAGE_COST_CURRENCY = "gen_ai.usage.cost.currency"
GEN_AI_USAGE_COST_SOURCE = "gen_ai.usage.cost.source"
COST_CURRENCY_USD = "USD"
COST_SOURCE_LOCAL = "local"

# --------------------------------------------------------------------------
# otel-llm's own span attributes
# --------------------------------------------------------------------------
# Which price data produced the cost: "genai-prices <version>" or "override:<file>".
OTEL_LLM_COST_PRICE_SOURCE = "otel_llm.cost.price_source"
# True when usage is known but no price is: the span carries no cost amount.
OTEL_LLM_COST_UNPRICED = "otel_llm.cost.unpriced"
# False when the provider sent no usage (e.g. a stream without include_usage):
# the span then carries no token counts and no cost, rather than invented ones.
OTEL_LLM_USAGE_REPORTED = "otel_llm.usage.reported"
# True on a span whose stream ended before completion (closed early, cut off, GC'd).
OTEL_LLM_STREAM_INCOMPLETE = "otel_llm.stream.incomplete"
# Decision taken by otel_llm.guard for this call (allow, reroute, refuse, delay).
OTEL_LLM_GUARD_DECISION = "otel_llm.guard.decision"
OTEL_LLM_GUARD_ORIGINAL_MODEL = "otel_llm.guard.original_model"

# Attribution: set by otel_llm.attributes(...) on every LLM span in scope and
# carried to downstream services in OpenTelemetry baggage under the same keys.
USER_ID = "user.id"
CUSTOMER_ID = "otel_llm.customer.id"
FEATURE = "otel_llm.feature"
EXPERIMENT = "otel_llm.experiment"
VARIANT = "otel_llm.variant"
OUTCOME_NAME = "otel_llm.outcome.name"
OUTCOME_SUCCESS = "otel_llm.outcome.success"
# On the ``outcome {name}`` span otel_llm.outcome() emits when its scope ends: the
# summed cost and the number of the LLM calls that served it (retries included).
OUTCOME_COST_AMOUNT = "otel_llm.outcome.cost.amount"
OUTCOME_CALLS = "otel_llm.outcome.calls"
OUTCOME_SPAN_PREFIX = "outcome "
ATTRIBUTION_KEYS = (USER_ID, CUSTOMER_ID, FEATURE, EXPERIMENT, VARIANT)

# Instrumentation scope name of otel-llm's tracer.
INSTRUMENTATION_SCOPE = "otel_llm"
# Scope under which recent anthropic SDKs trace their own calls; platform clients
# (Bedrock, Vertex, Foundry, ...) append ".<platform>", so match it as a prefix.
ANTHROPIC_NATIVE_SCOPE = "com.anthropic.sdk.python"

# Sanity bounds on one call: a span claiming more is corrupt, not expensive. The
# largest context windows hold a few million tokens; the priciest models charge a
# few hundred USD per million output tokens. The processor rejects spans past
# these (limits.max_tokens_per_span / max_cost_per_span_usd in the collector).
MAX_TOKENS_PER_CALL = 50_000_000  # each token count (input, output, cache read/write)
MAX_COST_PER_CALL_USD = 10_000.0

# Environment variables.
ENV_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_PRICES_FILE = "OTEL_LLM_PRICES_FILE"
# Interface `instrument(metrics_port=...)` serves /metrics on (default 127.0.0.1; 0.0.0.0 in a container).
ENV_METRICS_HOST = "OTEL_LLM_METRICS_HOST"
# Path of the embedded eval store (SQLite); default ./otel-llm-evals.sqlite3.
ENV_EVAL_STORE = "OTEL_LLM_EVAL_STORE"
# Feature name under which the LLM-as-judge's own calls are attributed (and never sampled).
JUDGE_FEATURE = "otel_llm.judge"
# Feature of the golden-set replay (`otel-llm evalset run`): its quality scores are the stable-eval-set
# signal of model drift, next to production's in the service's quality figures.
GOLDEN_SET_FEATURE = "golden_set"
# Evaluator comparing a golden-set answer with the case's `expected` (exact or contained).
EVALUATION_GOLDEN_MATCH = "golden_match"

# --------------------------------------------------------------------------
# Metrics: the contract every rule, dashboard and report reads
# --------------------------------------------------------------------------
# Labels every request-level metric carries, in this order.
LABEL_OPERATION = "gen_ai_operation_name"
LABEL_PROVIDER = "gen_ai_provider_name"
LABEL_REQUEST_MODEL = "gen_ai_request_model"
LABEL_RESPONSE_MODEL = "gen_ai_response_model"
LABEL_ERROR_TYPE = "error_type"
LABEL_SERVICE = "service_name"
LABEL_FEATURE = "feature"
LABEL_EXPERIMENT = "experiment"
LABEL_VARIANT = "variant"
COMMON_LABELS = (
    LABEL_OPERATION,
    LABEL_PROVIDER,
    LABEL_REQUEST_MODEL,
    LABEL_RESPONSE_MODEL,
    LABEL_ERROR_TYPE,
    LABEL_SERVICE,
    LABEL_FEATURE,
    LABEL_EXPERIMENT,
    LABEL_VARIANT,
)
LABEL_TOKEN_TYPE = "gen_ai_token_type"
LABEL_FINISH_REASON = "finish_reason"
LABEL_CUSTOMER = "customer"
LABEL_USER = "user"
LABEL_OVERFLOW_LABEL = "label"
LABEL_RATING = "rating"
LABEL_EVALUATOR = "evaluator"
LABEL_OUTCOME = "outcome"
LABEL_RESULT = "result"
LABEL_REASON = "reason"
# The value a label folds into once its distinct-value budget is spent.
OVERFLOW_VALUE = "__other__"

TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

# Advisory bucket boundaries from the GenAI metrics spec.
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
# Cost of one request in USD: from a cached embedding (1e-5) to a long reasoning call ($10).
REQUEST_COST_BUCKETS = (
    0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
# Quality scores live in [0, 1]; buckets fine enough to read p10 and the 0.7/0.8 thresholds.
QUALITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric: its Prometheus name, type, unit, labels and meaning."""

    name: str
    type: str  # counter | histogram | gauge
    unit: str
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] | None = None


OPERATION_DURATION = MetricSpec(
    "gen_ai_client_operation_duration_seconds", "histogram", "seconds", COMMON_LABELS,
    "Duration of GenAI operations (gen_ai.client.operation.duration).", DURATION_BUCKETS,
)
TOKEN_USAGE = MetricSpec(
    "gen_ai_client_token_usage", "histogram", "tokens", COMMON_LABELS + (LABEL_TOKEN_TYPE,),
    "Input and output tokens per operation (gen_ai.client.token.usage).", TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK = MetricSpec(
    "gen_ai_client_operation_time_to_first_chunk_seconds", "histogram", "seconds", COMMON_LABELS,
    "Time from request to first streamed chunk, streaming calls only.", DURATION_BUCKETS,
)
COST = MetricSpec(
    "llm_cost_usd_total", "counter", "USD", COMMON_LABELS,
    "Cost of GenAI operations in US dollars, from token usage and price data.",
)
REQUEST_COST = MetricSpec(
    "llm_request_cost_usd", "histogram", "USD", COMMON_LABELS,
    "Cost of each priced GenAI operation in US dollars (median, p95 and max per request).",
    REQUEST_COST_BUCKETS,
)
UNPRICED_REQUESTS = MetricSpec(
    "llm_unpriced_requests_total", "counter", "requests", COMMON_LABELS,
    "Operations that used tokens but whose cost is unknown (no price for the model).",
)
RESPONSES = MetricSpec(
    "llm_responses_total", "counter", "responses", COMMON_LABELS + (LABEL_FINISH_REASON,),
    "Responses by finish reason (length = truncated, content_filter = filtered).",
)
CUSTOMER_COST = MetricSpec(
    "llm_customer_cost_usd_total", "counter", "USD", (LABEL_SERVICE, LABEL_CUSTOMER),
    "Cost per customer: exact for the top-N spenders, the rest folded into __other__.",
)
USER_COST = MetricSpec(
    "llm_user_cost_usd_total", "counter", "USD", (LABEL_SERVICE, LABEL_USER),
    "Cost per user: exact for the top-N spenders, the rest folded into __other__.",
)
LABEL_OVERFLOW = MetricSpec(
    "llm_label_overflow_total", "counter", "values", (LABEL_OVERFLOW_LABEL,),
    "Label values folded into __other__ because the label's distinct-value budget was spent.",
)
RECEIVER_SPANS = MetricSpec(
    "otel_llm_receiver_spans_total", "counter", "spans", (LABEL_RESULT, LABEL_REASON),
    "Spans received by otel-llm collector: accepted, ignored (not GenAI) or rejected, with the reason.",
)
# Quality, feedback, outcomes: filled by the feedback, evaluation and cost issues.
FEEDBACK = MetricSpec(
    "llm_feedback_total", "counter", "ratings", COMMON_LABELS + (LABEL_RATING,),
    "User ratings (rating=up|down) of LLM responses, with the rated call's labels.",
)
CORRECTIONS = MetricSpec(
    "llm_corrections_total", "counter", "corrections", COMMON_LABELS,
    "User corrections of LLM output (an edit of the AI's answer).",
)
ESCALATIONS = MetricSpec(
    "llm_escalations_total", "counter", "escalations", COMMON_LABELS,
    "Conversations escalated from the AI to a human.",
)
QUALITY_SCORE = MetricSpec(
    "llm_quality_score", "histogram", "ratio", COMMON_LABELS + (LABEL_EVALUATOR,),
    "Automated quality scores between 0 and 1, by evaluator.", QUALITY_BUCKETS,
)
# Outcomes carry the experiment and variant in scope, for cost per successful outcome per variant.
OUTCOME_LABELS = (LABEL_SERVICE, LABEL_FEATURE, LABEL_EXPERIMENT, LABEL_VARIANT, LABEL_OUTCOME, LABEL_RESULT)
OUTCOMES = MetricSpec(
    "llm_outcomes_total", "counter", "outcomes", OUTCOME_LABELS,
    "Business outcomes served by LLM calls (result=success|failure).",
)
OUTCOME_COST = MetricSpec(
    "llm_outcome_cost_usd_total", "counter", "USD", OUTCOME_LABELS,
    "Cost of the LLM calls that served each outcome, retries included.",
)
EVALSET_AGE = MetricSpec(
    "llm_evalset_age_seconds", "gauge", "seconds", (LABEL_SERVICE,),
    "Time since the golden eval set was last refreshed from production samples.",
)

# Self-metrics of `otel-llm collector` (the receiver), per request, not per span.
LABEL_TRANSPORT = "transport"
LABEL_SIGNAL = "signal"
LABEL_CODE = "code"
RECEIVER_REQUESTS = MetricSpec(
    "otel_llm_receiver_requests_total", "counter", "requests", (LABEL_TRANSPORT, LABEL_SIGNAL, LABEL_CODE),
    "OTLP export requests handled by otel-llm collector, by transport (grpc|http) and result code.",
)
RECEIVER_BYTES = MetricSpec(
    "otel_llm_receiver_request_bytes_total", "counter", "bytes", (LABEL_TRANSPORT, LABEL_SIGNAL),
    "Bytes of OTLP request bodies received (after decompression).",
)
RECEIVER_PROCESSING = MetricSpec(
    "otel_llm_receiver_processing_seconds", "histogram", "seconds", (LABEL_TRANSPORT, LABEL_SIGNAL),
    "Time spent decoding and deriving metrics from one OTLP request, queue wait included.",
    (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RECEIVER_QUEUE_DEPTH = MetricSpec(
    "otel_llm_receiver_queue_depth", "gauge", "requests", (),
    "Export requests admitted and waiting for or in processing (bounded by max_pending_requests).",
)
RECEIVER_QUEUE_CAPACITY = MetricSpec(
    "otel_llm_receiver_queue_capacity", "gauge", "requests", (),
    "The configured bound on admitted requests; past it clients get RESOURCE_EXHAUSTED / 429.",
)
EVALUATIONS_DROPPED = MetricSpec(
    "llm_evaluation_events_dropped_total", "counter", "events", (LABEL_REASON,),
    "gen_ai.evaluation.result events that could not be turned into a metric, by reason.",
)

# Self-metrics of the background evaluation worker (otel_llm.evaluation).
EVALUATION_DROPPED = MetricSpec(
    "otel_llm_evaluation_dropped_total", "counter", "interactions", (LABEL_REASON,),
    "Sampled interactions not evaluated: queue_full, no_content, evaluator_error, store_error.",
)
EVALUATION_QUEUE_DEPTH = MetricSpec(
    "otel_llm_evaluation_queue_depth", "gauge", "interactions", (),
    "Interactions waiting for the evaluation worker (bounded; past the bound they are dropped).",
)

# Experiments and drift (otel_llm.experiments, otel_llm.drift): exported by their own collectors.
LABEL_KIND = "kind"
LABEL_SIGNAL_NAME = "signal"
LABEL_WINDOW = "window"
EXPERIMENT_ASSIGNMENTS = MetricSpec(
    "llm_experiment_assignments_total", "counter", "assignments", (LABEL_EXPERIMENT, LABEL_VARIANT),
    "Calls to otel_llm.experiments.assign() inside the experiment's window, by variant.",
)
EXPERIMENT_USERS = MetricSpec(
    "llm_experiment_users", "gauge", "users", (LABEL_EXPERIMENT, LABEL_VARIANT),
    "Distinct users assigned to each variant by this process since it started.",
)
INPUT_DRIFT_PSI = MetricSpec(
    "llm_input_drift_psi", "gauge", "psi", (LABEL_SERVICE, LABEL_FEATURE),
    "Population stability index of the current query-topic mix against the baseline window.",
)
INPUT_DRIFT_JS = MetricSpec(
    "llm_input_drift_js_distance", "gauge", "ratio", (LABEL_SERVICE, LABEL_FEATURE),
    "Jensen-Shannon distance (base 2, 0..1) of the current query-topic mix against the baseline.",
)
OUT_OF_SCOPE_RATIO = MetricSpec(
    "llm_out_of_scope_ratio", "gauge", "ratio", (LABEL_SERVICE, LABEL_FEATURE),
    "Share of recent sampled queries the topic classifier marks out of scope.",
)
QUERY_REPEAT_RATIO = MetricSpec(
    "llm_query_repeat_ratio", "gauge", "ratio", (LABEL_SERVICE, LABEL_FEATURE, LABEL_KIND),
    "Share of recent sampled queries repeating an earlier one (kind=exact after normalisation, or near).",
)
MODEL_CHANGES = MetricSpec(
    "llm_model_change_total", "counter", "changes", (LABEL_SERVICE, LABEL_REQUEST_MODEL, LABEL_KIND),
    "Changes of response model or system fingerprint (kind) seen for the same requested model.",
)
OUTPUT_SIGNAL_RATIO = MetricSpec(
    "llm_output_signal_ratio", "gauge", "ratio", (LABEL_SERVICE, LABEL_FEATURE, LABEL_SIGNAL_NAME, LABEL_WINDOW),
    "Share of responses showing a signal (refusal, invalid_json, non_answer, truncated) in window=current|baseline.",
)
OUTPUT_SIGNAL_DRIFT = MetricSpec(
    "llm_output_signal_drift", "gauge", "bool", (LABEL_SERVICE, LABEL_FEATURE, LABEL_SIGNAL_NAME),
    "1 while the current rate of a response signal is significantly above its baseline, else 0.",
)
FINISH_REASON_DRIFT_PSI = MetricSpec(
    "llm_finish_reason_drift_psi", "gauge", "psi", (LABEL_SERVICE, LABEL_FEATURE),
    "Population stability index of the current finish-reason mix against the baseline window.",
)
DRIFT_SPANS = MetricSpec(
    "llm_drift_spans_total", "counter", "spans", (LABEL_RESULT,),
    "Spans seen by the drift monitor: result=used, no_content (capture off), unsampled, dropped or invalid.",
)

# Decisions of the opt-in cost guard (otel_llm.guard), counted in the app process.
LABEL_DECISION = "decision"
LABEL_POLICY = "policy"
GUARD_DECISIONS = MetricSpec(
    "llm_guard_decisions_total", "counter", "calls", (LABEL_DECISION, LABEL_POLICY),
    "Calls seen by otel_llm.guard: allow, reroute, delay, refuse, or allow_unknown (state unknown).",
)

METRICS: tuple[MetricSpec, ...] = (
    OPERATION_DURATION,
    TOKEN_USAGE,
    TIME_TO_FIRST_CHUNK,
    COST,
    REQUEST_COST,
    UNPRICED_REQUESTS,
    RESPONSES,
    CUSTOMER_COST,
    USER_COST,
    LABEL_OVERFLOW,
    RECEIVER_SPANS,
    FEEDBACK,
    CORRECTIONS,
    ESCALATIONS,
    QUALITY_SCORE,
    OUTCOMES,
    OUTCOME_COST,
    GUARD_DECISIONS,
    EVALSET_AGE,
    EVALUATIONS_DROPPED,
    EVALUATION_DROPPED,
    EVALUATION_QUEUE_DEPTH,
    RECEIVER_REQUESTS,
    RECEIVER_BYTES,
    RECEIVER_PROCESSING,
    RECEIVER_QUEUE_DEPTH,
    RECEIVER_QUEUE_CAPACITY,
    EXPERIMENT_ASSIGNMENTS,
    EXPERIMENT_USERS,
    INPUT_DRIFT_PSI,
    INPUT_DRIFT_JS,
    OUT_OF_SCOPE_RATIO,
    QUERY_REPEAT_RATIO,
    MODEL_CHANGES,
    OUTPUT_SIGNAL_RATIO,
    OUTPUT_SIGNAL_DRIFT,
    FINISH_REASON_DRIFT_PSI,
    DRIFT_SPANS,
)
