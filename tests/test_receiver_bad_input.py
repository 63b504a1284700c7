"""Bad input gets a clear answer or a counted drop; the receiver stays up and bounded."""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import time

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm import semconv as sc
from otel_llm.processor.config import load_config
from otel_llm.processor.receiver import Receiver
from otel_llm.processor.synthetic import emit_llm_span, realistic_spans, sdk_tracer

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def start(**flags):
    overrides = {"--grpc.listen-address": "127.0.0.1:0", "--http.listen-address": "127.0.0.1:0",
                 "--web.listen-address": "", "--limits.max-request-bytes": 4 * 1024 * 1024,
                 "--metrics.top-n": 5}
    overrides.update(flags)
    r = Receiver(load_config(overrides=overrides, environ={}))
    r.start()
    return r


@pytest.fixture
def receiver():
    r = start()
    yield r
    r.stop(grace=2)


def post(r, body, headers=PROTOBUF, path="/v1/traces"):
    conn = http.client.HTTPConnection("127.0.0.1", r.http_port, timeout=10)
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def grpc_call(r, body, timeout=10):
    with grpc.insecure_channel(f"127.0.0.1:{r.grpc_port}") as ch:
        return ch.unary_unary(TRACES)(body, timeout=timeout)


def healthy(r):
    conn = http.client.HTTPConnection("127.0.0.1", r.http_port, timeout=5)
    conn.request("GET", "/healthz")
    ok = conn.getresponse().status == 200
    conn.close()
    return ok


def spans_request(**kw):
    tracer, _, listed = sdk_tracer(service="svc")
    emit_llm_span(tracer, **kw)
    return encode_spans(listed.spans).SerializeToString()


def test_malformed_protobuf_and_json_get_400_and_invalid_argument(receiver):
    status, _, body = post(receiver, b"\xff\xff\xff not protobuf")
    assert status == 400 and b"malformed OTLP protobuf" in body
    status, _, body = post(receiver, b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["message"].startswith("malformed OTLP JSON")
    with pytest.raises(grpc.RpcError) as err:
        grpc_call(receiver, b"\xff\xff\xff")
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert healthy(receiver)


def test_wrong_content_type_and_encoding_get_415(receiver):
    status, _, body = post(receiver, b"hello", {"Content-Type": "text/plain"})
    assert status == 415 and b"application/x-protobuf" in body
    status, _, _ = post(receiver, b"x", {**PROTOBUF, "Content-Encoding": "br"})
    assert status == 415


def test_oversized_bodies_and_gzip_bombs_are_refused(receiver):
    big = b"\x00" * (5 * 1024 * 1024)
    status, _, body = post(receiver, big)
    assert status == 413 and b"max_request_bytes" in body
    status, _, _ = post(receiver, gzip.compress(big), {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status == 413
    with pytest.raises(grpc.RpcError) as err:
        grpc_call(receiver, big)
    assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert healthy(receiver)


def test_gzip_body_is_accepted(receiver):
    status, _, _ = post(receiver, gzip.compress(spans_request(cost=0.5)), {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status == 200
    assert receiver.engine.series_count() == 1


def test_absurd_values_are_rejected_with_partial_success_and_counted(receiver):
    tracer, _, listed = sdk_tracer(service="svc")
    emit_llm_span(tracer, input_tokens=-5, output_tokens=10, cost=0.1)
    emit_llm_span(tracer, ttfc_s=float("nan"), cost=0.1)
    emit_llm_span(tracer, cost=float("inf"))
    emit_llm_span(tracer, cost=0.1)  # the one good span
    status, _, data = post(receiver, encode_spans(listed.spans).SerializeToString())
    assert status == 200
    resp = ExportTraceServiceResponse.FromString(data)
    assert resp.partial_success.rejected_spans == 3
    assert "negative_tokens" in resp.partial_success.error_message
    got = grpc_call(receiver, encode_spans(listed.spans).SerializeToString())
    assert ExportTraceServiceResponse.FromString(got).partial_success.rejected_spans == 3
    reg = receiver.registry
    assert reg.get_sample_value("otel_llm_receiver_spans_total",
                                {"result": "rejected", "reason": "negative_tokens"}) == 2
    assert reg.get_sample_value("otel_llm_receiver_spans_total",
                                {"result": "rejected", "reason": "invalid_cost"}) == 2
    assert reg.get_sample_value("otel_llm_receiver_spans_total", {"result": "accepted", "reason": ""}) == 2


def _json_span(attributes, scope="x"):
    kv = [{"key": k, "value": v} for k, v in attributes.items()]
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeSpans": [{"scope": {"name": scope}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "chat", "kind": 3,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
            "attributes": kv}]}]}]}).encode()


GENAI = {"gen_ai.operation.name": {"stringValue": "chat"}, "gen_ai.provider.name": {"stringValue": "openai"},
         "gen_ai.request.model": {"stringValue": "gpt-4o"}}


@pytest.mark.parametrize("attributes, reason", [
    # the audit's request: int64 max input tokens was priced at 2.3e13 USD
    ({**GENAI, "gen_ai.usage.input_tokens": {"intValue": "9223372036854775807"}}, "absurd_tokens"),
    ({**GENAI, "gen_ai.usage.output_tokens": {"intValue": "50000001"}}, "absurd_tokens"),
    ({**GENAI, "gen_ai.usage.input_tokens": {"intValue": "10"},
      "gen_ai.usage.cache_read.input_tokens": {"intValue": "9223372036854775807"}}, "absurd_tokens"),
    ({**GENAI, "gen_ai.usage.cost.amount": {"doubleValue": 1e12}}, "absurd_cost"),
    ({**GENAI, "gen_ai.usage.cost.amount": {"intValue": "20000"}}, "absurd_cost"),
    # older conventions and OpenInference go through the slow path: same bounds
    ({"gen_ai.system": {"stringValue": "openai"}, "gen_ai.request.model": {"stringValue": "gpt-4o"},
      "gen_ai.usage.prompt_tokens": {"intValue": "9223372036854775807"}}, "absurd_tokens"),
    ({"openinference.span.kind": {"stringValue": "LLM"}, "llm.model_name": {"stringValue": "gpt-4o"},
      "llm.token_count.completion": {"intValue": "60000000"}}, "absurd_tokens"),
    ({"gen_ai.system": {"stringValue": "openai"}, "gen_ai.request.model": {"stringValue": "gpt-4o"},
      "gen_ai.usage.cost": {"doubleValue": 99999.0}}, "absurd_cost"),
])
def test_absurd_token_counts_and_costs_are_rejected_not_summed(receiver, attributes, reason):
    status, _, data = post(receiver, _json_span(attributes), {"Content-Type": "application/json"})
    assert status == 200
    assert json.loads(data)["partialSuccess"] == {"rejectedSpans": "1", "errorMessage": f"1 span(s) rejected: {reason}"}
    reg = receiver.registry
    assert reg.get_sample_value("otel_llm_receiver_spans_total", {"result": "rejected", "reason": reason}) == 1
    recorded = [s for fam in reg.collect() if fam.name.startswith(("llm_", "gen_ai_")) for s in fam.samples
                if s.value]
    assert recorded == []  # nothing recorded: no request, no tokens, no cost
    assert healthy(receiver)


def test_token_and_cost_bounds_are_configurable():
    r = start(**{"--limits.max-tokens-per-span": "1000", "--limits.max-cost-per-span-usd": "0.5"})
    try:
        tracer, _, listed = sdk_tracer(service="svc")
        emit_llm_span(tracer, input_tokens=1001, cost=0.1)
        emit_llm_span(tracer, cost=0.51)
        emit_llm_span(tracer, input_tokens=1000, cost=0.5)
        status, _, data = post(r, encode_spans(listed.spans).SerializeToString())
        assert status == 200
        assert ExportTraceServiceResponse.FromString(data).partial_success.rejected_spans == 2
        reg = r.registry
        assert reg.get_sample_value("otel_llm_receiver_spans_total", {"result": "rejected", "reason": "absurd_tokens"}) == 1
        assert reg.get_sample_value("otel_llm_receiver_spans_total", {"result": "rejected", "reason": "absurd_cost"}) == 1
    finally:
        r.stop(grace=1)


@pytest.mark.parametrize("path", ["/v1/traces", "/v1/logs"])
@pytest.mark.parametrize("body, kind", [(b"[]", "an array"), (b'"str"', "a string"), (b"5", "a number"),
                                        (b"null", "null"), (b"true", "a boolean")])
def test_otlp_json_must_be_an_object_at_the_top_level(receiver, path, body, kind):
    status, _, data = post(receiver, body, {"Content-Type": "application/json"}, path=path)
    assert status == 400
    message = json.loads(data)["message"]
    assert message.startswith("malformed OTLP JSON: expected an object at the top level")
    assert message.endswith(f"got {kind}")
    assert healthy(receiver)


def test_megabyte_attributes_fold_and_do_not_become_labels(receiver):
    huge = "m" * (1024 * 1024)
    body = spans_request(cost=0.1, user="u" * 1000,
                         extra={sc.GEN_AI_REQUEST_MODEL: huge, sc.GEN_AI_INPUT_MESSAGES: "p" * (1024 * 1024)})
    status, _, _ = post(receiver, body)
    assert status == 200
    reg = receiver.registry
    assert reg.get_sample_value("llm_label_overflow_total", {"label": "gen_ai_request_model"}) == 1
    assert reg.get_sample_value("llm_label_overflow_total", {"label": "user"}) == 1
    assert reg.get_sample_value("llm_user_cost_usd_total",
                                {"service_name": "svc", "user": "__other__"}) is not None
    for fam in reg.collect():
        for s in fam.samples:
            assert all(len(v) < 300 for v in s.labels.values())


def test_a_flood_of_distinct_user_ids_keeps_series_bounded(receiver):
    spans = realistic_spans(8_000, users=None)  # every span a new user
    before: dict[str, float] = {}
    for i in range(0, len(spans), 2000):
        status, _, _ = post(receiver, encode_spans(spans[i:i + 2000]).SerializeToString())
        assert status == 200
        users = {s.labels["user"]: s.value for fam in receiver.registry.collect()
                 if fam.name == "llm_user_cost_usd" for s in fam.samples}
        assert len(users) <= 5 + 5 + 1  # top-N exact + N frozen + __other__
        for who, v in users.items():  # counters never go down
            assert v >= before.get(who, 0.0)
        before = users
    spans_cost = sum(s.attributes.get(sc.GEN_AI_USAGE_COST_AMOUNT, 0.0) for s in spans)
    forgotten = receiver.engine._users["checkout"].forgotten
    assert sum(before.values()) + forgotten == pytest.approx(spans_cost)
    assert receiver.engine.series_count() < 100


def test_overload_answers_429_and_resource_exhausted_then_recovers():
    r = start(**{"--limits.max-pending-requests": 1})
    try:
        body = spans_request(cost=0.1)
        r.engine._lock.acquire()  # stall processing so the one admitted request occupies the queue
        first = threading.Thread(target=post, args=(r, body))
        first.start()
        deadline = time.time() + 5
        while r.pipeline.pending < 1 and time.time() < deadline:
            time.sleep(0.01)
        status, headers, _ = post(r, body)
        assert status == 429 and headers["Retry-After"] == "1"
        with pytest.raises(grpc.RpcError) as err:
            grpc_call(r, body)
        assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        r.engine._lock.release()
        first.join(5)
        assert post(r, body)[0] == 200
        assert r.registry.get_sample_value("otel_llm_receiver_requests_total",
                                           {"transport": "http", "signal": "traces", "code": "429"}) == 1
    finally:
        if r.engine._lock.locked():
            r.engine._lock.release()
        r.stop(grace=2)


def test_draining_receiver_answers_503_with_retry_after_and_not_ready(receiver):
    receiver.pipeline.drain(timeout=1)
    status, headers, _ = post(receiver, spans_request(cost=0.1))
    assert status == 503 and "Retry-After" in headers
    conn = http.client.HTTPConnection("127.0.0.1", receiver.http_port, timeout=5)
    conn.request("GET", "/readyz")
    assert conn.getresponse().status == 503
    conn.close()


def test_otlp_json_with_hex_ids_and_string_ints_is_understood(receiver):
    doc = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "chat gpt-4o-mini", "kind": 3,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001500000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 7}},
                {"key": "gen_ai.usage.cost.amount", "value": {"doubleValue": 0.125}},
            ]}]}]}]}
    status, headers, data = post(receiver, json.dumps(doc).encode(), {"Content-Type": "application/json"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    reg = receiver.registry
    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai",
              "gen_ai_request_model": "gpt-4o-mini", "gen_ai_response_model": "", "error_type": "",
              "service_name": "json-svc", "feature": "", "experiment": "", "variant": ""}
    assert reg.get_sample_value("llm_cost_usd_total", labels) == 0.125
    assert reg.get_sample_value("gen_ai_client_token_usage_sum", {**labels, "gen_ai_token_type": "input"}) == 42
    assert reg.get_sample_value("gen_ai_client_operation_duration_seconds_sum", labels) == 1.5


def test_outcomes_can_be_posted_as_json_and_bad_ones_are_refused(receiver):
    ok = json.dumps({"outcome": "ticket_resolved", "success": True, "cost_usd": 0.25, "feature": "support",
                     "service_name": "svc"}).encode()
    status, _, body = post(receiver, ok, {"Content-Type": "application/json"}, path="/v1/outcomes")
    assert status == 200 and json.loads(body) == {"accepted": 1}
    status, _, body = post(receiver, b'{"outcome": "x"}', {"Content-Type": "application/json"}, path="/v1/outcomes")
    assert status == 400 and "success" in json.loads(body)["error"]
    labels = {"service_name": "svc", "feature": "support", "experiment": "", "variant": "", "outcome": "ticket_resolved",
              "result": "success"}
    assert receiver.registry.get_sample_value("llm_outcomes_total", labels) == 1
    assert receiver.registry.get_sample_value("llm_outcome_cost_usd_total", labels) == 0.25


def test_stop_lets_an_in_flight_request_finish_before_closing():
    r = start()
    body = spans_request(cost=0.1)
    results = []
    r.engine._lock.acquire()  # the request is admitted, then waits for the engine
    try:
        t = threading.Thread(target=lambda: results.append(post(r, body)[0]))
        t.start()
        deadline = time.time() + 5
        while r.pipeline.pending < 1 and time.time() < deadline:
            time.sleep(0.01)
        stopped = []
        stopper = threading.Thread(target=lambda: stopped.append(r.stop(grace=5)))
        stopper.start()
        time.sleep(0.2)
        assert not stopped  # still draining
    finally:
        r.engine._lock.release()
    t.join(5)
    stopper.join(10)
    assert results == [200] and stopped == [True]
    assert r.engine.series_count() == 1


def test_many_distinct_label_values_fold_into_other_and_series_stay_bounded():
    r = start(**{"--metrics.max-label-values": 50})
    try:
        tracer, _, listed = sdk_tracer(service="svc")
        for i in range(1000):
            emit_llm_span(tracer, model=f"model-{i}", cost=0.001)
        status, _, _ = post(r, encode_spans(listed.spans).SerializeToString())
        assert status == 200
        assert r.engine.series_count() <= 51
        reg = r.registry
        # request and response model each fold 950 times
        assert reg.get_sample_value("llm_label_overflow_total", {"label": "gen_ai_request_model"}) == 950
        total = sum(s.value for fam in reg.collect() if fam.name == "gen_ai_client_operation_duration_seconds"
                    for s in fam.samples if s.name.endswith("_count"))
        assert total == 1000  # folded, not dropped
    finally:
        r.stop(grace=1)


def test_ids_that_read_the_same_never_produce_duplicate_series(receiver):
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    tracer, _, listed = sdk_tracer(service="svc")
    emit_llm_span(tracer, cost=1.0, user="5")
    emit_llm_span(tracer, cost=2.0, extra={sc.USER_ID: 5})  # an int id
    emit_llm_span(tracer, cost=4.0, user="__other__")
    assert post(receiver, encode_spans(listed.spans).SerializeToString())[0] == 200
    seen = set()
    for fam in text_string_to_metric_families(generate_latest(receiver.registry).decode()):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in seen, key
            seen.add(key)
    assert receiver.registry.get_sample_value("llm_user_cost_usd_total", {"service_name": "svc", "user": "5"}) == 3.0
