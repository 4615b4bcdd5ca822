"""Benchmark the ONNX Runtime GenAI server against the raw onnxruntime-genai generate loop.

    .venv/bin/python benchmarks/onnx_server/bench.py [--max-tokens 128] [--out benchmarks/onnx_server/results.json]

1. Serving overhead: tokens/s of one streamed request through HTTP vs the raw Generator loop, same model,
   same prompt, same number of tokens (ignore_eos), greedy.
2. The raw static batch: onnxruntime-genai's own loop decoding N copies of the prompt as one batch (the
   ceiling continuous batching is measured against).
3. Concurrency: aggregate tokens/s at 1, 4 and 16 concurrent streams, TTFT and TPOT percentiles.
The model is the "bench" model of tests/fixtures/tiny_model.py (random Llama, hidden 512, 8 layers,
fp32): milliseconds per token, so the overhead is measured against real compute; `--model-dir` takes another
(e.g. benchmarks/onnx_server/real_shape.py's Phi-4-mini-shaped int4 model). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "docker" / "onnx-server")]

from tests.fixtures.onnx_fixtures import start_onnx_server  # noqa: E402
from tests.fixtures.tiny_model import build_tiny_model  # noqa: E402

PROMPT = "the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing models"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class RawLoop:
    """The baseline: the plain onnxruntime-genai Generator loop, detokenizing as a server must."""

    def __init__(self, model_dir: Path) -> None:
        import onnxruntime_genai as og

        self.og = og
        self.model = og.Model(str(model_dir))
        self.tokenizer = og.Tokenizer(self.model)
        self.prompt = self.tokenizer.encode(PROMPT)

    def tokens_per_s(self, max_tokens: int) -> float:
        og = self.og
        params = og.GeneratorParams(self.model)
        length = len(self.prompt) + max_tokens
        params.set_search_options(max_length=length, min_length=length, do_sample=False)
        started = time.perf_counter()
        generator = og.Generator(self.model, params)
        generator.append_tokens(self.prompt)
        stream = self.tokenizer.create_stream()
        produced = 0
        while not generator.is_done():
            generator.generate_next_token()
            stream.decode(int(generator.get_next_tokens()[0]))
            produced += 1
        return produced / (time.perf_counter() - started)

    def static_batch_tokens_per_s(self, batch: int, max_tokens: int) -> float:
        """onnxruntime-genai's static batch: `batch` copies of the prompt decoded together, detokenized."""
        import numpy as np

        og = self.og
        params = og.GeneratorParams(self.model)
        length = len(self.prompt) + max_tokens
        params.set_search_options(max_length=length, min_length=length, do_sample=False, batch_size=batch)
        started = time.perf_counter()
        generator = og.Generator(self.model, params)
        generator.append_tokens(np.array([list(self.prompt)] * batch, dtype=np.int32))
        streams = [self.tokenizer.create_stream() for _ in range(batch)]
        produced = 0
        while not generator.is_done():
            generator.generate_next_token()
            for stream, token in zip(streams, generator.get_next_tokens()):
                stream.decode(int(token))
            produced += batch
        return produced / (time.perf_counter() - started)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (the server's HTTP and engine processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def overhead_pairs(raw: RawLoop, server, max_tokens: int, pairs: int) -> dict:
    """Alternate raw and HTTP runs so that load from other processes hits both sides alike.

    Wall-clock tokens/s is what a client sees but moves with background load on a shared machine;
    CPU-seconds per token (raw: this process; HTTP: the server's process tree) is the load-independent
    measure of what the serving layer adds.
    """
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers, timeout=600) as client:
        await one_stream(client, server.model, 8)
        raw.tokens_per_s(8)
        raw_rates, http_rates, raw_cpu, http_cpu, tokens = [], [], 0.0, 0.0, 0
        for _ in range(pairs):
            cpu = time.process_time()
            raw_rates.append(raw.tokens_per_s(max_tokens))
            raw_cpu += time.process_time() - cpu
            cpu = tree_cpu_seconds(server.process.pid)
            r = await one_stream(client, server.model, max_tokens)
            http_cpu += tree_cpu_seconds(server.process.pid) - cpu
            http_rates.append(r["tokens"] / r["e2e"])
            tokens += r["tokens"]
    ratios = [h / r for h, r in zip(http_rates, raw_rates)]
    return {"pairs": pairs, "raw_tokens_per_s_median": statistics.median(raw_rates),
            "http_tokens_per_s_median": statistics.median(http_rates),
            "http_over_raw_wall_median": round(statistics.median(ratios), 3),
            "raw_cpu_ms_per_token": round(raw_cpu / tokens * 1000, 3),
            "http_cpu_ms_per_token": round(http_cpu / tokens * 1000, 3),
            "cpu_overhead_percent": round((http_cpu / raw_cpu - 1) * 100, 1),
            "wall_overhead_percent": round((1 - statistics.median(ratios)) * 100, 1)}


def extract_server(ref: str, into: Path) -> Path:
    """This repository's docker/onnx-server at git ref `ref`, extracted under `into` (the baseline server)."""
    import subprocess
    import tarfile

    archive = into / "baseline.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), ref, "docker/onnx-server"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "docker" / "onnx-server"


async def baseline_pairs(baseline, server, max_tokens: int, pairs: int) -> dict:
    """One stream at a time, alternating the baseline server (an older commit) and this one."""
    clients = [httpx.AsyncClient(base_url=s.base_url, headers=s.headers, timeout=600) for s in (baseline, server)]
    try:
        for client, s in zip(clients, (baseline, server)):
            await one_stream(client, s.model, 8)
        rates: tuple[list, list] = ([], [])
        for _ in range(pairs):
            for rate, client, s in zip(rates, clients, (baseline, server)):
                r = await one_stream(client, s.model, max_tokens)
                rate.append(r["tokens"] / r["e2e"])
    finally:
        for client in clients:
            await client.aclose()
    ratios = [new / old for old, new in zip(*rates)]
    return {"pairs": pairs, "baseline_tokens_per_s_median": statistics.median(rates[0]),
            "tokens_per_s_median": statistics.median(rates[1]), "over_baseline_median": round(statistics.median(ratios), 3)}


async def one_stream(client: httpx.AsyncClient, model: str, max_tokens: int) -> dict:
    body = {"model": model, "prompt": PROMPT, "max_tokens": max_tokens, "ignore_eos": True, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    sent = time.perf_counter()
    first = None
    usage = None
    async with client.stream("POST", "/v1/completions", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {await response.aread()}")
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0]["text"] and first is None:
                first = time.perf_counter()
            if chunk.get("usage"):
                usage = chunk["usage"]
    done = time.perf_counter()
    tokens = usage["completion_tokens"]
    ttft = (first or done) - sent
    return {"ttft": ttft, "e2e": done - sent, "tokens": tokens,
            "tpot": (done - sent - ttft) / (tokens - 1) if tokens > 1 else 0.0}


async def run_level(base_url: str, headers: dict, model: str, concurrency: int, requests_per_user: int,
                    max_tokens: int) -> dict:
    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600, limits=limits) as client:
        await one_stream(client, model, 8)  # warm-up

        async def user() -> list[dict]:
            return [await one_stream(client, model, max_tokens) for _ in range(requests_per_user)]

        started = time.perf_counter()
        results = [r for rs in await asyncio.gather(*(user() for _ in range(concurrency))) for r in rs]
        wall = time.perf_counter() - started
    ttfts = [r["ttft"] for r in results]
    per_request = [r["tokens"] / r["e2e"] for r in results]
    return {
        "concurrency": concurrency, "requests": len(results), "wall_s": round(wall, 2),
        "aggregate_tokens_per_s": sum(r["tokens"] for r in results) / wall,
        "per_request_tokens_per_s_median": statistics.median(per_request),
        "ttft_ms": {f"p{q}": round(percentile(ttfts, q) * 1000, 1) for q in (50, 90, 99)},
        "tpot_ms": {f"p{q}": round(percentile([r["tpot"] for r in results], q) * 1000, 2) for q in (50, 90, 99)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--levels", default="1,4,16", help="concurrency levels (default 1,4,16)")
    parser.add_argument("--requests-per-user", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=8, help="raw/HTTP pairs for the overhead figure")
    parser.add_argument("--model-dir", type=Path, help="model folder (default: the bench model, built if needed)")
    parser.add_argument("--model-name", default="tests/fixtures/tiny_model.py --size bench (Llama, hidden 512, "
                                                "8 layers, fp32, random weights)")
    parser.add_argument("--baseline-ref", help="also run the server of this git ref (e.g. the commit before a change) "
                                               "and compare one stream, alternating")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]

    print("[1/4] building or reusing the bench model", flush=True)
    model_dir = args.model_dir or build_tiny_model(size="bench")
    raw = RawLoop(model_dir)
    batch = max(levels)
    print(f"[2/4] raw static batch of {batch} (onnxruntime-genai), {args.max_tokens} tokens each", flush=True)
    raw.static_batch_tokens_per_s(batch, 8)
    static = statistics.median(raw.static_batch_tokens_per_s(batch, args.max_tokens) for _ in range(3))
    print(f"      {static:.1f} tokens/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_onnx_server(model_dir, Path(tmp), api_key="bench-key",
                                   extra_args=["--max-concurrency", str(max(levels)), "--max-queue", "256",
                                               "--log-level", "warning"], timeout=300)
        try:
            print(f"[3/4] serving overhead: {args.pairs} alternating raw-loop / HTTP runs of {args.max_tokens} "
                  "tokens", flush=True)
            overhead = asyncio.run(overhead_pairs(raw, server, args.max_tokens, args.pairs))
            print(f"      raw {overhead['raw_tokens_per_s_median']:.1f} tokens/s, HTTP "
                  f"{overhead['http_tokens_per_s_median']:.1f} tokens/s", flush=True)
            print(f"[4/4] HTTP server at concurrency {', '.join(map(str, levels))}", flush=True)
            http = []
            for level in levels:
                requests_per_user = args.requests_per_user if level > 1 else 2 * args.requests_per_user
                result = asyncio.run(run_level(server.base_url, server.headers, server.model, level,
                                               requests_per_user, args.max_tokens))
                http.append(result)
                print(f"      c={level:<3} {result['aggregate_tokens_per_s']:7.1f} tokens/s aggregate, "
                      f"TTFT p50 {result['ttft_ms']['p50']} ms p99 {result['ttft_ms']['p99']} ms, TPOT p50 "
                      f"{result['tpot_ms']['p50']} ms", flush=True)
            baseline_result = None
            if args.baseline_ref:
                print(f"[+] one stream vs the server at {args.baseline_ref}, {args.pairs} alternating pairs", flush=True)
                baseline = start_onnx_server(model_dir, Path(tmp), api_key="bench-key", timeout=300,
                                             server_src=extract_server(args.baseline_ref, Path(tmp)),
                                             extra_args=["--max-concurrency", str(max(levels)), "--log-level",
                                                         "warning"])
                try:
                    baseline_result = asyncio.run(baseline_pairs(baseline, server, args.max_tokens, args.pairs))
                    baseline_result["ref"] = args.baseline_ref
                finally:
                    baseline.stop()
                print(f"      {baseline_result}", flush=True)
        finally:
            server.stop()

    base, top = http[0], http[-1]
    prefill_ms = base["ttft_ms"]["p50"]  # one request alone: its TTFT is one prefill plus the first step
    targets = {
        f"aggregate_c{top['concurrency']}_over_static_batch": round(top["aggregate_tokens_per_s"] / static, 3),
        "http_c1_over_raw_loop": overhead["http_over_raw_wall_median"],
        "http_c1_over_baseline": baseline_result and baseline_result["over_baseline_median"],
        f"ttft_p50_c{top['concurrency']}_ms": top["ttft_ms"]["p50"],
        f"ttft_p50_c{top['concurrency']}_limit_ms": round(2 * prefill_ms + (top["concurrency"] - 1) * prefill_ms, 1),
        f"tpot_p50_c{top['concurrency']}_over_c1": round(top["tpot_ms"]["p50"] / base["tpot_ms"]["p50"], 2),
    }
    summary = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_end": os.getloadavg()},
        "model": args.model_name,
        "max_tokens": args.max_tokens, "overhead_c1": overhead, "static_batch": {"batch": batch,
                                                                               "tokens_per_s": static},
        "http": http, "baseline_c1": baseline_result, "targets": targets,
        "scaling_vs_c1": {str(r["concurrency"]): round(r["aggregate_tokens_per_s"] / base["aggregate_tokens_per_s"], 2)
                          for r in http},
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nserving overhead at c=1 ({args.pairs} alternating raw/HTTP pairs): wall clock "
          f"{overhead['wall_overhead_percent']}% (HTTP {overhead['http_tokens_per_s_median']:.1f} vs raw "
          f"{overhead['raw_tokens_per_s_median']:.1f} tokens/s); CPU {overhead['cpu_overhead_percent']}% "
          f"({overhead['http_cpu_ms_per_token']} vs {overhead['raw_cpu_ms_per_token']} CPU-ms per token)")
    for r in http:
        print(f"c={r['concurrency']:<3} aggregate {r['aggregate_tokens_per_s']:7.1f} tokens/s "
              f"(x{summary['scaling_vs_c1'][str(r['concurrency'])]} vs c=1)  TTFT ms {r['ttft_ms']}")
    print(f"static batch of {batch}: {static:.1f} tokens/s; targets: {json.dumps(targets)}")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
