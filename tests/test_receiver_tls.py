"""TLS and mTLS on both OTLP endpoints, with certificates made by openssl in a temp dir."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import urllib.request

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_llm.processor.config import load_config
from otel_llm.processor.receiver import Receiver
from otel_llm.processor.synthetic import emit_llm_span, sdk_tracer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt", cwd=d)
    return d


def spans():
    tracer, _, listed = sdk_tracer()
    emit_llm_span(tracer, cost=0.5)
    return listed.spans


@pytest.fixture(autouse=True)
def _no_ca_bundle_override(monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own CA file
    # (psf/requests#3829), which would hide the exporter's certificate_file.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def start(certs, mtls):
    flags = {"--grpc.listen-address": "127.0.0.1:0", "--http.listen-address": "127.0.0.1:0",
             "--web.listen-address": "", "--tls.cert-file": str(certs / "server.crt"),
             "--tls.key-file": str(certs / "server.key")}
    if mtls:
        flags["--tls.client-ca-file"] = str(certs / "ca.crt")
    r = Receiver(load_config(overrides=flags, environ={}))
    r.start()
    return r


def test_tls_on_grpc_and_http(certs):
    r = start(certs, mtls=False)
    try:
        creds = grpc.ssl_channel_credentials((certs / "ca.crt").read_bytes())
        exp = OTLPSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", credentials=creds)
        assert exp.export(spans()) is SpanExportResult.SUCCESS
        exp.shutdown()
        silent = socket.create_connection(("127.0.0.1", r.http_port))  # connects, never says hello
        http_exp = HttpExporter(endpoint=f"https://127.0.0.1:{r.http_port}/v1/traces",
                                certificate_file=str(certs / "ca.crt"), timeout=5)
        assert http_exp.export(spans()) is SpanExportResult.SUCCESS  # not blocked by the silent client
        http_exp.shutdown()
        silent.close()
        ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        body = urllib.request.urlopen(f"https://127.0.0.1:{r.http_port}/metrics", context=ctx).read().decode()
        assert 'otel_llm_receiver_spans_total{reason="",result="accepted"} 2.0' in body
        with pytest.raises(OSError):  # plain HTTP against the TLS port fails
            urllib.request.urlopen(f"http://127.0.0.1:{r.http_port}/healthz", timeout=3).read()
    finally:
        r.stop(grace=1)


def test_mtls_requires_a_client_certificate(certs):
    r = start(certs, mtls=True)
    try:
        ca = (certs / "ca.crt").read_bytes()
        no_cert = OTLPSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", credentials=grpc.ssl_channel_credentials(ca),
                                   timeout=3)
        assert no_cert.export(spans()) is SpanExportResult.FAILURE
        no_cert.shutdown()
        creds = grpc.ssl_channel_credentials(ca, (certs / "client.key").read_bytes(),
                                             (certs / "client.crt").read_bytes())
        exp = OTLPSpanExporter(endpoint=f"127.0.0.1:{r.grpc_port}", credentials=creds)
        assert exp.export(spans()) is SpanExportResult.SUCCESS
        exp.shutdown()
        http_exp = HttpExporter(endpoint=f"https://127.0.0.1:{r.http_port}/v1/traces",
                                certificate_file=str(certs / "ca.crt"),
                                client_certificate_file=str(certs / "client.crt"),
                                client_key_file=str(certs / "client.key"))
        assert http_exp.export(spans()) is SpanExportResult.SUCCESS
        http_exp.shutdown()
        assert r.registry.get_sample_value("otel_llm_receiver_spans_total",
                                           {"result": "accepted", "reason": ""}) == 2
    finally:
        r.stop(grace=1)
