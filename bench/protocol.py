"""Benchmark of the knowledge protocol, every figure against a baseline from the same run.

    python -m bench.protocol [--quick]

- codec: encode+decode MB/s of a dense fp32 delta of 100 KB and 1 MB (sign, verify, parse,
  decompress), per delta codec; MB are dense fp32 MB.
- transport: end-to-end MB/s of signed messages over `Endpoint` vs raw pyzmq DEALER->ROUTER
  sending the same frames, sender and receiver in two threads (ratio; target >= 0.8 at 1 MB).
- wire: wire ratio (dense fp32 bytes / bytes on the wire, manifest included) of each codec on a
  realistic delta: heavy-tailed values, most FFN groups unchanged (selective activation).
- gossip: rounds to 1e-6 consensus for exact gossip vs the bound ln(1/eps)/ln(1/lambda), and
  CHOCO with top-k 10% on a ring of 16.
Writes bench/results/protocol.json.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from pathlib import Path

import numpy as np
import zmq

from protocols.codec import Receiver, Session, new_key
from protocols.compression import CODECS, get_codec
from protocols.gossip import ChocoNode, ExactGossipNode, disagreement, run_rounds
from protocols.messages import Kind
from protocols.topology import build, mixing_matrix, neighbours, rounds_bound
from protocols.transport import Endpoint

RESULTS = Path(__file__).parent / "results" / "protocol.json"
MB = 1e6


def realistic_delta(n_params: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """A Yan-like weight delta of about n_params: FFN matrices where ~20% of the neuron groups
    fired (changed) with heavy-tailed (Student t, df 2) updates, small dense mixer tensors."""
    rng = np.random.default_rng(seed)
    d = max(8, int(np.sqrt(n_params / 12)))
    shapes = {"mixer.w": (d, d), "ffn.w1": (d, 4 * d), "ffn.w2": (4 * d, d), "norm": (d,)}
    shapes |= {"ffn2.w1": (d, 4 * d), "ffn2.w2": (4 * d, d)}
    axes = {"ffn.w1": 1, "ffn.w2": 0, "ffn2.w1": 1, "ffn2.w2": 0}
    named = {}
    for name, shape in shapes.items():
        x = rng.standard_t(2, size=shape).astype(np.float32) * 1e-3
        if name in axes:
            groups = shape[axes[name]]
            quiet = rng.random(groups) > 0.2  # 80% of groups did not fire
            np.moveaxis(x, axes[name], 0)[quiet] = 0.0
        named[name] = x
    return named, axes


def _rate(fn, nbytes: int, reps: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return nbytes / MB / float(np.median(times))


def bench_codec(reps: int) -> dict:
    out = {}
    key = new_key()
    for size in (100_000, 1_000_000):
        named, axes = realistic_delta(size // 4)
        named = {
            k: np.random.default_rng(1).normal(size=v.shape).astype(np.float32)
            for k, v in named.items()
        }
        dense = 4 * sum(v.size for v in named.values())
        for name in CODECS:
            codec = get_codec(name, fraction=0.01, group_axes=axes)
            session, receiver = Session("b", 0, key), Receiver("b", key)

            def round_trip(codec=codec, session=session, receiver=receiver, named=named):
                frames = session.encode(Kind.DELTA, tensors=codec.encode(named).tensors)
                receiver.accept(frames)

            out[f"{size // 1000}KB/{name}"] = _rate(round_trip, dense, reps)
    return out


def _pump(send, recv, n: int) -> float:
    """Seconds to move n messages: a sender thread, this thread receiving."""
    t = time.perf_counter()
    th = threading.Thread(target=lambda: [send() for _ in range(n)])
    th.start()
    for _ in range(n):
        recv()
    th.join()
    return time.perf_counter() - t


def _raw(frames: list, n: int) -> float:
    ctx = zmq.Context(io_threads=1)
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    router.bind("tcp://127.0.0.1:*")
    dealer.connect(router.getsockopt_string(zmq.LAST_ENDPOINT))
    try:
        _pump(
            lambda: dealer.send_multipart(frames, copy=False),
            lambda: router.recv_multipart(copy=False),
            3,
        )
        return _pump(
            lambda: dealer.send_multipart(frames, copy=False),
            lambda: router.recv_multipart(copy=False),
            n,
        )
    finally:
        dealer.close(linger=0)
        router.close(linger=0)
        ctx.term()


def _ours(named: dict, n: int) -> float:
    key = new_key()
    session, receiver = Session("b", 0, key), Receiver("b", key, me=1)
    tensors = get_codec("none").encode(named).tensors
    with Endpoint(0) as a, Endpoint(1) as b:
        a.connect(1, b.address)

        def send():
            a.send(1, session.encode(Kind.DELTA, recipient=1, tensors=tensors))

        def recv():
            got = None
            while got is None:
                got = b.recv(timeout_ms=1000)
            receiver.accept(got[1])

        _pump(send, recv, 3)
        return _pump(send, recv, n)


def _hmac_rate(nbytes: int, reps: int) -> float:
    """HMAC-SHA256 MB/s on this machine now: each message is signed once and verified once."""
    data, key = np.random.default_rng(4).bytes(nbytes), new_key()
    return _rate(lambda: hmac.new(key, data, hashlib.sha256).digest(), nbytes, 10 * reps)


def bench_transport(reps: int) -> dict:
    out = {"hmac_sha256_MBps": _hmac_rate(1_000_000, reps)}
    for size in (100_000, 1_000_000):
        named = {"w": np.random.default_rng(2).normal(size=size // 4).astype(np.float32)}
        frames = Session("b", 0, new_key()).encode(
            Kind.DELTA, tensors=get_codec("none").encode(named).tensors
        )
        nbytes = sum(memoryview(f).nbytes for f in frames)
        n = max(30, reps * 10_000_000 // size)  # enough messages to pipeline
        raw = [nbytes * n / MB / _raw(frames, n) for _ in range(3)]
        ours = [nbytes * n / MB / _ours(named, n) for _ in range(3)]
        r, o = float(np.median(raw)), float(np.median(ours))
        out[f"{size // 1000}KB"] = {"raw_MBps": r, "ours_MBps": o, "ratio": o / r}
    return out


def bench_wire() -> dict:
    named, axes = realistic_delta(250_000)
    out = {"params": int(sum(v.size for v in named.values()))}
    for name in ("none", "fp16", "int8"):
        out[name] = get_codec(name).encode(named).wire_ratio
    out["group"] = get_codec("group", group_axes=axes).encode(named).wire_ratio
    for frac in (0.1, 0.03, 0.01, 0.005, 0.003, 0.001):
        for name in ("topk", "topk_int8"):
            out[f"{name}@{frac}"] = get_codec(name, fraction=frac).encode(named).wire_ratio
        out[f"group@{frac}"] = (
            get_codec("group", group_axes=axes, fraction=frac).encode(named).wire_ratio
        )
    hits = [f for f in (0.1, 0.03, 0.01, 0.005, 0.003, 0.001) if out[f"topk_int8@{f}"] >= 100]
    out["topk_int8_100x_at_fraction"] = max(hits) if hits else None
    return out


def _rounds(nodes, target: float, cap: int) -> int:
    d0, rounds = disagreement(nodes), 0
    while disagreement(nodes) > target * d0 and rounds < cap:
        run_rounds(nodes, 1)
        rounds += 1
    return rounds


def bench_gossip(quick: bool) -> dict:
    out = {}
    x = np.random.default_rng(3).normal(size=(16, 32))
    for kind in ("ring", "grid", "random_regular", "small_world", "complete"):
        W = mixing_matrix(build(kind, 16, seed=1))
        nodes = [ExactGossipNode(i, {"x": x[i]}, neighbours(W, i)) for i in range(16)]
        out[f"exact/{kind}"] = {
            "rounds": _rounds(nodes, 1e-6, 2000),
            "bound": rounds_bound(W, 1e-6),
        }
    W = mixing_matrix(build("ring", 16))
    eps = 1e-3 if quick else 1e-6
    codec = lambda: get_codec("topk", fraction=0.1, error_feedback=False)  # noqa: E731
    nodes = [ChocoNode(i, {"x": x[i]}, neighbours(W, i), codec(), 0.3) for i in range(16)]
    rounds = _rounds(nodes, eps, 3000)
    drift = float(np.abs(np.mean([n.x["x"] for n in nodes], 0) - x.mean(0)).max())
    out[f"choco_topk0.1/ring/eps{eps:g}"] = {
        "rounds": rounds,
        "exact_bound": rounds_bound(W, eps),
        "mean_drift": drift,
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (< 60 s)")
    args = ap.parse_args()
    reps = 3 if args.quick else 10
    res = {
        "quick": args.quick,
        "codec_MBps": bench_codec(reps),
        "transport": bench_transport(1 if args.quick else 3),
    }
    res |= {"wire_ratio": bench_wire(), "gossip": bench_gossip(args.quick)}
    print("encode+decode MB/s (dense fp32 MB):")
    for k, v in res["codec_MBps"].items():
        print(f"  {k:<16} {v:9.1f}")
    print("end-to-end over the transport vs raw pyzmq (same frames, same run):")
    print(f"  (HMAC-SHA256 alone: {res['transport']['hmac_sha256_MBps']:.0f} MB/s per side)")
    for k, v in res["transport"].items():
        if not isinstance(v, dict):
            continue
        print(
            f"  {k:<6} raw {v['raw_MBps']:8.1f} MB/s  ours {v['ours_MBps']:8.1f} MB/s"
            f"  ratio {v['ratio']:.2f}"
        )
    print(f"wire ratio vs dense fp32 ({res['wire_ratio']['params']} params, realistic delta):")
    for k, v in res["wire_ratio"].items():
        if k.startswith("topk_int8_100x"):
            print(f"  topk_int8 reaches 100x at fraction <= {v}")
        elif k != "params":
            print(f"  {k:<28} {v:8.1f}x")
    print("gossip rounds vs bound:")
    for k, v in res["gossip"].items():
        print(f"  {k:<30} {v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
