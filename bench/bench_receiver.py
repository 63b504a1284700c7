"""Receiver ingest rate vs. decode-only, and memory under a flood of distinct user ids.

    python bench/bench_receiver.py            # full run (~1-2 min on 2 cores)
    python bench/bench_receiver.py --quick    # smaller, for a smoke check

Three figures, each against a baseline measured in the same run:

1. In-process: spans/s of ``TraceIngest`` (read + derive metrics) vs. merely
   parsing the same ``ExportTraceServiceRequest`` bytes with the full
   opentelemetry-proto classes and counting spans; ``TraceIngest`` twice: with
   the native scanner (the default where it is built) and with upb alone.
2. Over gRPC on loopback, batches of 512 realistic GenAI spans: spans per
   server CPU-second ("per core") of ``otel-llm collector``'s gRPC front end vs.
   a gRPC server in the same kind of process that only decodes and counts.
   Servers run in subprocesses; CPU time is read from /proc, so the client's
   own work does not count. The collector is measured twice: metrics only
   (``--drift.enabled=false``, the issue's figure) and with drift detection,
   the default, whose worker thread runs in the same process.
3. Peak RSS of a receiver (default configuration) fed 1M spans carrying 1M distinct user ids, sampled
   every 100k spans: it must stay flat after warm-up (label guard and top-N
   sketch bound memory).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``: nanoseconds from schedstat, else clock ticks (10 ms)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                pass  # a thread that just exited
        if total:
            return total / 1e9
    except OSError:
        pass
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_requests(n_batches: int, batch: int = 512) -> list[bytes]:
    from otel_llm.processor.synthetic import export_requests, realistic_spans

    spans = realistic_spans(n_batches * batch, users=5000)
    return [r.SerializeToString() for r in export_requests(spans, batch)]


# -- servers (run in subprocesses) ----------------------------------------------
def serve(kind: str) -> None:
    import grpc

    if kind == "decode":
        from concurrent import futures

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        counted = [0]

        def export(body: bytes, _ctx: object) -> bytes:
            req = ExportTraceServiceRequest.FromString(body)
            counted[0] += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
            return ExportTraceServiceResponse().SerializeToString()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=10),
                             options=[("grpc.max_receive_message_length", 64 << 20)])
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(export)}),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
    else:
        from otel_llm.processor.config import load_config
        from otel_llm.processor.receiver import Receiver

        receiver = Receiver(load_config(overrides={
            "--grpc.listen-address": "127.0.0.1:0", "--http.listen-address": "", "--web.listen-address": "",
            "--limits.max-request-bytes": 64 << 20,
            "--drift.enabled": "true" if kind == "collector" else "false"}, environ={}))
        receiver.start()
        port = receiver.grpc_port
    print(port, flush=True)
    sys.stdin.read()  # run until the parent closes our stdin


def start_server(kind: str) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ)
    if kind == "receiver-upb":
        env["OTEL_LLM_NATIVE_SCAN"] = "0"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind.removesuffix("-upb")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    port = int(proc.stdout.readline())
    return proc, port


def drive(port: int, requests: list[bytes], rounds: int, concurrency: int = 2) -> None:
    import grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)])
    call = channel.unary_unary(TRACE_EXPORT)
    call(requests[0], timeout=30)  # warm up (pricing caches, label caches, connection)

    def worker(offset: int) -> None:
        for _ in range(rounds):
            for i in range(offset, len(requests), concurrency):
                call(requests[i], timeout=60)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    channel.close()


def grpc_rate(kind: str, requests: list[bytes], spans_per_round: int, rounds: int) -> tuple[float, float]:
    proc, port = start_server(kind)
    try:
        drive(port, requests[:1], 1)
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        drive(port, requests, rounds)
        cpu, wall = cpu_seconds(proc.pid) - cpu0, time.perf_counter() - t0
    finally:
        proc.stdin.close()
        proc.wait(10)
    n = spans_per_round * rounds
    return n / cpu, n / wall


# -- in-process ----------------------------------------------------------------
def in_process(requests: list[bytes], spans: int, rounds: int) -> dict[str, float]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from otel_llm.pricing import default_pricer
    from otel_llm.processor import MetricsEngine, native_scan
    from otel_llm.processor.ingest import TraceIngest

    def decode() -> None:
        for body in requests:
            req = ExportTraceServiceRequest.FromString(body)
            sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)

    def deriver(native: bool):
        ingest = TraceIngest(MetricsEngine(), default_pricer(), native=native)
        ingest.ingest(requests[0])
        return lambda: [ingest.ingest(body) for body in requests]

    modes = [("decode", decode)]
    if native_scan.available():
        modes.append(("native", deriver(True)))
    modes.append(("upb", deriver(False)))
    best = {}
    for name, fn in modes:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        best[name] = spans / min(times)
    return best


# -- memory ----------------------------------------------------------------------
def flood(total: int, batch: int = 512) -> list[tuple[int, float]]:
    """Feed ``total`` spans with all-distinct user ids; return [(spans sent, server RSS MB)]."""
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    template = ExportTraceServiceRequest.FromString(make_requests(1, batch)[0])
    spans = [s for rs in template.resource_spans for ss in rs.scope_spans for s in ss.spans]
    slots = []
    for s in spans:
        user = rid = None
        for kv in s.attributes:
            if kv.key == "user.id":
                user = kv.value
            elif kv.key == "gen_ai.response.id":
                rid = kv.value
        slots.append((user, rid))
    proc, port = start_server("collector")  # the default configuration, drift detection included
    samples = []
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        call = channel.unary_unary(TRACE_EXPORT)
        sent = 0
        next_sample = 0
        while sent < total:
            for i, (user, rid) in enumerate(slots):
                n = sent + i
                if user is not None:
                    user.string_value = f"user-{n}"
                if rid is not None:
                    rid.string_value = f"chatcmpl-{n:012d}"
            call(template.SerializeToString(), timeout=60)
            sent += len(slots)
            if sent >= next_sample:
                samples.append((sent, rss_mb(proc.pid)))
                next_sample += total // 10
        samples.append((sent, rss_mb(proc.pid)))
        channel.close()
    finally:
        proc.stdin.close()
        proc.wait(10)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=["decode", "receiver", "receiver-upb", "collector"], help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer spans, for a smoke run")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    batches = 10 if args.quick else 20
    rounds = 2 if args.quick else 5
    flood_spans = 100_000 if args.quick else 1_000_000
    requests = make_requests(batches)
    spans = batches * 512
    print(f"{spans} realistic GenAI spans in {batches} requests of 512 "
          f"({sum(map(len, requests)) / spans:.0f} bytes/span)")

    rates = in_process(requests, spans, rounds)
    decode = rates["decode"]
    print("\n[in-process, one thread]")
    print(f"  decode only (full opentelemetry-proto parse):      {decode:12,.0f} spans/s")
    if "native" in rates:
        print(f"  otel-llm ingest, native scanner (the default):    {rates['native']:12,.0f} spans/s"
              f"   {rates['native'] / decode:.1%} of decode-only")
    else:
        print("  otel-llm ingest, native scanner: not built here (no C compiler at install time)")
    print(f"  otel-llm ingest, upb alone (OTEL_LLM_NATIVE_SCAN=0): {rates['upb']:10,.0f} spans/s"
          f"   {rates['upb'] / decode:.1%} of decode-only")

    base_cpu, base_wall = grpc_rate("decode", requests, spans, rounds)
    ours_cpu, ours_wall = grpc_rate("receiver", requests, spans, rounds)
    upb_cpu, upb_wall = grpc_rate("receiver-upb", requests, spans, rounds)
    drift_cpu, drift_wall = grpc_rate("collector", requests, spans, rounds)
    print("\n[gRPC on loopback, batches of 512, server CPU measured from /proc]")
    print(f"  decode-and-count server:        {base_cpu:12,.0f} spans per CPU-second ({base_wall:,.0f} spans/s wall)")
    print(f"  otel-llm collector, metrics:    {ours_cpu:12,.0f} spans per CPU-second ({ours_wall:,.0f} spans/s wall)")
    print(f"  ratio: {ours_cpu / base_cpu:.1%} of decode-only per core (target >= 40%)")
    print(f"  ... with upb alone:             {upb_cpu:12,.0f} spans per CPU-second ({upb_wall:,.0f} spans/s wall)"
          f"   {upb_cpu / base_cpu:.1%}")
    print(f"  + drift detection (default):    {drift_cpu:12,.0f} spans per CPU-second ({drift_wall:,.0f} spans/s wall)")
    print(f"  ratio: {drift_cpu / base_cpu:.1%} of decode-only per core")

    samples = flood(flood_spans)
    print(f"\n[memory: {flood_spans:,} spans, every one with a new user id and response id]")
    for sent, mb in samples:
        print(f"  after {sent:>9,} spans: RSS {mb:7.1f} MB")
    warm = samples[1][1] if len(samples) > 1 else samples[0][1]
    peak = max(mb for _, mb in samples)
    print(f"  warm-up RSS {warm:.1f} MB, peak {peak:.1f} MB, growth after warm-up {peak - warm:+.1f} MB")


if __name__ == "__main__":
    main()
