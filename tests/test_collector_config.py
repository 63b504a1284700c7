"""collector_config/*.yaml are well-formed and match what `otel-llm collector` accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_llm import semconv as sc
from otel_llm.processor.config import ENV_BEARER_TOKEN, load_config
from otel_llm.processor.receiver import Receiver
from otel_llm.processor.span_view import WANTED
from otel_llm.processor.synthetic import emit_llm_span, sdk_tracer

DIR = Path(__file__).resolve().parents[1] / "collector_config"
CONFIGS = sorted(DIR.glob("*.yaml"))
SECTIONS = ("receivers", "processors", "exporters", "extensions", "connectors")


def load(path):
    return yaml.safe_load(path.read_text())


def otel_llm_exporter(cfg):
    name = next(n for n in cfg["exporters"] if "otel_llm" in n)
    exp = cfg["exporters"][name]
    return name, exp.get("protocol", {}).get("otlp", exp)


def substitute(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1), m.group(2) or ""), value)


def test_there_are_the_two_documented_configs():
    assert {p.name for p in CONFIGS} == {"gateway.yaml", "scale-out.yaml"}
    readme = (DIR / "README.md").read_text()
    for p in CONFIGS:
        assert f"`{p.name}`" in readme


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pipelines_reference_only_defined_components(path):
    cfg = load(path)
    service = cfg["service"]
    for ext in service.get("extensions", []):
        assert ext in cfg["extensions"], f"{path.name}: extension {ext} not defined"
    for pname, pipeline in service["pipelines"].items():
        assert pname.split("/")[0] in ("traces", "logs", "metrics")
        assert pipeline["receivers"] and pipeline["exporters"]
        for kind in ("receivers", "processors", "exporters"):
            for comp in pipeline.get(kind, []):
                assert comp in cfg[kind], f"{path.name}: {pname} uses undefined {kind[:-1]} {comp}"
    used = {c for p in service["pipelines"].values() for k in ("receivers", "processors", "exporters")
            for c in p.get(k, [])}
    for section in ("receivers", "processors", "exporters"):
        for comp in cfg[section]:
            assert comp in used, f"{path.name}: {comp} is defined but unused"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_all_spans_go_to_the_backend_and_only_genai_to_otel_llm(path):
    cfg = load(path)
    pipes = cfg["service"]["pipelines"]
    name, _ = otel_llm_exporter(cfg)
    to_backend = [p for p in pipes.values() if "otlp/backend" in p["exporters"]]
    assert any(not any(x.startswith("filter") for x in p.get("processors", [])) for p in to_backend)
    for pname, p in pipes.items():
        if name in p["exporters"]:
            assert any(x.startswith("filter/") for x in p["processors"]), pname
            assert p["processors"][0] == "memory_limiter"
    genai_filter = cfg["processors"]["filter/genai_only"]["traces"]["span"][0]
    markers = (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.GEN_AI_REQUEST_MODEL,
               sc.OPENINFERENCE_MODEL_NAME, sc.OPENINFERENCE_SPAN_KIND)
    for key in markers:
        assert key in WANTED
        assert f'attributes["{key}"] == nil' in genai_filter
    assert sc.ANTHROPIC_NATIVE_SCOPE in genai_filter
    logs_filter = cfg["processors"]["filter/evaluation_events"]["logs"]["log_record"][0]
    assert sc.GEN_AI_EVALUATION_RESULT in logs_filter


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_exporter_auth_and_batch_size_match_the_receiver(path):
    cfg = load(path)
    _, exp = otel_llm_exporter(cfg)
    assert exp["headers"]["authorization"] == f"Bearer ${{env:{ENV_BEARER_TOKEN}}}"
    assert exp["retry_on_failure"]["enabled"] is True
    batch = cfg["processors"]["batch"]
    # a realistic GenAI span is under 2 KB; the batch must fit the receiver's default request limit
    assert batch["send_batch_max_size"] * 2048 < load_config(environ={}).limits.max_request_bytes


def test_gateway_endpoint_and_headers_are_accepted_by_a_real_receiver():
    cfg = load(DIR / "gateway.yaml")
    _, exp = otel_llm_exporter(cfg)
    env = {ENV_BEARER_TOKEN: "gw-token"}
    endpoint = substitute(exp["endpoint"], env)
    assert endpoint == "127.0.0.1:14317"  # the address gateway.yaml tells otel-llm to listen on
    assert "--grpc.listen-address=127.0.0.1:14317" in (DIR / "gateway.yaml").read_text()
    host = endpoint.rsplit(":", 1)[0]
    receiver = Receiver(load_config(overrides={"--grpc.listen-address": f"{host}:0", "--http.listen-address": "",
                                               "--web.listen-address": ""}, environ=env))
    receiver.start()
    try:
        headers = {k: substitute(v, env) for k, v in exp["headers"].items()}
        tracer, _, listed = sdk_tracer()
        emit_llm_span(tracer, cost=0.2)
        exporter = OTLPSpanExporter(endpoint=f"{host}:{receiver.grpc_port}", insecure=exp["tls"]["insecure"],
                                    headers=headers)
        assert exporter.export(listed.spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        assert receiver.engine.series_count() == 1
    finally:
        receiver.stop(grace=1)
