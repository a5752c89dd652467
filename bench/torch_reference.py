#!/usr/bin/env python3
"""PyTorch CPU reference for `zoo bench` (regime-zoo issue 3).

The same model, optimizer, configs and timing protocol as packages/core/src/bench.ts, in eager PyTorch:

* model: token + learned position embeddings; pre-LayerNorm blocks (eps 1e-5) with causal multi-head
  attention (one fused QKV Linear with bias [d, 3d], scores scaled by 1/sqrt(d_head), output projection
  with bias); GELU (tanh approximation) MLP with ratio 4 and biases; final LayerNorm; untied unembedding
  with bias. GPT-2 initialisation as in model.ts.
* loss: mean next-token NLL over the batch (cross-entropy of logits[:, :-1] against tokens[:, 1:]).
* optimizer: AdamW, betas 0.9/0.999, eps 1e-8, decoupled weight decay 0.01 on the matmul weights only
  (not embeddings, biases or LayerNorm), global-norm clipping at 1.0, linear warm-up + cosine schedule;
  the loss and gradient norm are read back every step (the tfjs Trainer's NaN guard does the same).
* timing: `--warmup` untimed steps, then `--steps` steps each timed alone; median/mean/min/max ms per
  step; tokens/s = batch * context / median step time.
* rollouts: 32 episodes decoded as one batch, an 8-token prompt, then 48 tokens sampled from the full
  softmax, with a KV cache (prefill, then one token at a time) and without (the whole prefix each step).

Prints one JSON object to stdout (the `TorchReferenceResult` of bench.ts); progress goes to stderr.
Needs only `torch`; uses as many threads as this process may run on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "S": {"dModel": 64, "nLayers": 2, "nHeads": 4},
    "M": {"dModel": 128, "nLayers": 4, "nHeads": 4},
    "L": {"dModel": 256, "nLayers": 6, "nHeads": 8},
}
VOCAB, CONTEXT, BATCH, MLP_RATIO = 64, 64, 32, 4
INIT_STD = 0.02


def log(msg: str) -> None:
    print(f"[torch] {msg}", file=sys.stderr, flush=True)


def training_flops(d: int, n_layers: int, vocab: int, batch: int, seq: int, r: int = MLP_RATIO) -> dict:
    """Same formula as trainingFlops in bench.ts: 6·N·B·T + 12·L·B·T²·d."""
    matmul_params = n_layers * (3 * d * d + d * d + 2 * r * d * d) + d * vocab
    dense = 6 * matmul_params * batch * seq
    attention = 12 * n_layers * batch * seq * seq * d
    return {"matmulParams": matmul_params, "dense": dense, "attention": attention, "total": dense + attention}


class Block(nn.Module):
    def __init__(self, d: int, n_heads: int, n_layers: int, attention: str):
        super().__init__()
        self.h, self.dh, self.attention = n_heads, d // n_heads, attention
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc_in = nn.Linear(d, MLP_RATIO * d)
        self.fc_out = nn.Linear(MLP_RATIO * d, d)
        for lin in (self.qkv, self.fc_in):
            nn.init.normal_(lin.weight, 0.0, INIT_STD)
        for lin in (self.proj, self.fc_out):
            nn.init.normal_(lin.weight, 0.0, INIT_STD / math.sqrt(2 * n_layers))
        for lin in (self.qkv, self.proj, self.fc_in, self.fc_out):
            nn.init.zeros_(lin.bias)

    def forward(self, x, mask, past=None):
        B, T, D = x.shape
        qkv = self.qkv(self.ln1(x)).view(B, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, T, dh]
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        Tk = k.shape[2]
        if self.attention == "sdpa":
            if Tk == T:
                z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # new tokens after a cache: each sees the cache and the new tokens up to itself
                z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[Tk - T : Tk, :Tk] if T > 1 else None)
        else:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.dh))
            if T > 1:
                scores = scores + mask[Tk - T : Tk, :Tk]
            z = scores.softmax(-1) @ v
        x = x + self.proj(z.transpose(1, 2).reshape(B, T, D))
        x = x + self.fc_out(F.gelu(self.fc_in(self.ln2(x)), approximate="tanh"))
        return x, (k, v)


class Transformer(nn.Module):
    def __init__(self, d: int, n_layers: int, n_heads: int, attention: str):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.pos_embed = nn.Embedding(CONTEXT, d)
        nn.init.normal_(self.embed.weight, 0.0, INIT_STD)
        nn.init.normal_(self.pos_embed.weight, 0.0, INIT_STD)
        self.blocks = nn.ModuleList(Block(d, n_heads, n_layers, attention) for _ in range(n_layers))
        self.ln_final = nn.LayerNorm(d, eps=1e-5)
        self.unembed = nn.Linear(d, VOCAB)
        nn.init.normal_(self.unembed.weight, 0.0, INIT_STD)
        nn.init.zeros_(self.unembed.bias)
        # Additive causal mask (0 on and below the diagonal, -1e9 above), as in model.ts.
        self.register_buffer("mask", torch.triu(torch.full((CONTEXT, CONTEXT), -1e9), diagonal=1), persistent=False)

    def forward(self, idx, past=None, start: int = 0):
        B, T = idx.shape
        x = self.embed(idx) + self.pos_embed.weight[start : start + T]
        new_past = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, self.mask, None if past is None else past[i])
            new_past.append(kv)
        return self.unembed(self.ln_final(x)), new_past


def decays(name: str, p: torch.Tensor) -> bool:
    # Matrices except embeddings: qkv / proj / fc_in / fc_out / unembed weights.
    return p.dim() >= 2 and not name.startswith(("embed.", "pos_embed."))


def learning_rate(step: int, total: int, lr: float = 3e-4, warmup: int = 0, min_ratio: float = 0.1) -> float:
    """learningRate of train.ts: linear warm-up, then cosine decay to lr·min_ratio at `total`."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    lo = lr * min_ratio
    return lo + 0.5 * (lr - lo) * (1 + math.cos(math.pi * progress))


def stats(xs):
    return {"median": statistics.median(xs), "mean": statistics.fmean(xs), "min": min(xs), "max": max(xs)}


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return read_vmhwm() is not None
    except OSError:
        return False


def cpu_sample():
    """Busy and total jiffies of the machine and this process's user + system time (Linux), as bench.ts."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().split("\n")
        v = [int(x) for x in lines[0].split()[1:9]]
        total = sum(v)
        busy = total - v[3] - v[4]
        cpus = sum(1 for l in lines if l.startswith("cpu") and l[3:4].isdigit())
        with open("/proc/self/stat") as f:
            st = f.read()
        fields = st[st.rindex(")") + 2 :].split(" ")
        return {"busy": busy, "total": total, "own": int(fields[11]) + int(fields[12]), "cpus": cpus}
    except (OSError, ValueError, IndexError):
        return None


def other_load(a, b):
    """Cores' worth of CPU other processes used between two samples."""
    if not a or not b or b["total"] <= a["total"]:
        return None
    other = b["busy"] - a["busy"] - (b["own"] - a["own"])
    return max(0.0, other / (b["total"] - a["total"]) * b["cpus"])


def read_vmhwm():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def matmul_gflops(n: int, reps: int = 10) -> float:
    """Median square float32 matmul throughput, the protocol of measureMatmulGflops in backend.ts."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    torch.mm(a, b)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / (statistics.median(times) * 1e9)


@torch.inference_mode()
def time_rollout(model, episodes: int, prompt_len: int, generate: int, kv_cache: bool, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, VOCAB, (episodes, prompt_len), generator=g)
    prompt[:, 0] = 1
    t0 = time.perf_counter()
    seq = prompt
    if kv_cache:
        logits, past = model(prompt)
        for i in range(generate):
            probs = logits[:, -1].softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=g)
            seq = torch.cat([seq, nxt], dim=1)
            # Like rollout.ts, the last action is fed too (its logits are not needed).
            logits, past = model(nxt, past, start=seq.shape[1] - 1)
    else:
        for i in range(generate):
            logits, _ = model(seq)
            probs = logits[:, -1].softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=g)
            seq = torch.cat([seq, nxt], dim=1)
    elapsed = time.perf_counter() - t0
    assert seq.shape == (episodes, prompt_len + generate)
    return elapsed


def bench_config(name: str, args, peak: float) -> dict:
    c = CONFIGS[name]
    d, n_layers, n_heads = c["dModel"], c["nLayers"], c["nHeads"]
    torch.manual_seed(args.seed)
    model = Transformer(d, n_layers, n_heads, args.attention)
    params = sum(p.numel() for p in model.parameters())
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if decays(n, p)], "weight_decay": 0.01},
        {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0},
    ]
    impl = {} if args.optimizer == "default" else {args.optimizer: True}
    opt = torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, **impl)
    total_steps = args.warmup + args.steps + 1
    warmup_lr = min(args.warmup, 10)
    g = torch.Generator().manual_seed(args.seed)
    batches = [torch.randint(0, VOCAB, (BATCH, CONTEXT), generator=g) for _ in range(4)]
    step = 0

    def train_step():
        nonlocal step
        tokens = batches[step % len(batches)]
        lr = learning_rate(step, total_steps, warmup=warmup_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        logits, _ = model(tokens)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        loss_v, norm_v = loss.item(), norm.item()
        if not (math.isfinite(loss_v) and math.isfinite(norm_v)):
            raise RuntimeError(f"step {step}: loss {loss_v}, grad norm {norm_v}")
        opt.step()
        step += 1

    hwm = reset_peak_rss()
    log(f"{name}: {params} params; {args.warmup} warm-up + {args.steps} timed steps of {BATCH}x{CONTEXT} tokens")
    for _ in range(args.warmup):
        train_step()
    times = []
    cpu0 = cpu_sample()
    for i in range(args.steps):
        t0 = time.perf_counter()
        train_step()
        times.append((time.perf_counter() - t0) * 1000)
        if (i + 1) % 10 == 0 or i + 1 == args.steps:
            log(f"{name}: step {i + 1}/{args.steps}, {times[-1]:.1f} ms")
    load = other_load(cpu0, cpu_sample())
    ms = stats(times)
    flops = training_flops(d, n_layers, VOCAB, BATCH, CONTEXT)
    achieved = flops["total"] / (ms["median"] * 1e6)
    training = {
        "warmupSteps": args.warmup,
        "steps": args.steps,
        "msPerStep": ms,
        "tokensPerSecond": BATCH * CONTEXT / (ms["median"] / 1000),
        "achievedGflops": achieved,
        "fractionOfPeak": achieved / peak,
    }
    if load is not None:
        training["otherLoad"] = load
    log(f"{name}: {ms['median']:.1f} ms/step, {training['tokensPerSecond']:.0f} tokens/s, {achieved:.2f} GFLOP/s")
    out = {"name": name, "params": params, "flopsPerStep": flops, "training": training}

    if args.rollouts:
        model.eval()
        gen, plen, eps = args.generate_tokens, args.prompt_length, args.rollout_episodes
        modes = {}
        cpu1 = cpu_sample()
        for kv in (True, False):
            time_rollout(model, eps, plen, gen, kv, args.seed + 1)  # warm-up, full length as on the tfjs side
        # The modes take turns, as on the tfjs side, so that a change in the machine's speed hits both alike.
        ts = {True: [], False: []}
        for i in range(args.rollout_repeats):
            for kv in (True, False):
                ts[kv].append(time_rollout(model, eps, plen, gen, kv, args.seed + 2 + i))
        for kv in (True, False):
            sec = statistics.median(ts[kv])
            modes[kv] = {"ms": sec * 1000, "tokensPerSecond": eps * gen / sec}
        out["rollout"] = {
            "episodes": eps,
            "promptLength": plen,
            "generateTokens": gen,
            "withCache": modes[True],
            "withoutCache": modes[False],
            "speedup": modes[True]["tokensPerSecond"] / modes[False]["tokensPerSecond"],
        }
        rload = other_load(cpu1, cpu_sample())
        if rload is not None:
            out["rollout"]["otherLoad"] = rload
        log(f"{name}: rollout {modes[True]['tokensPerSecond']:.0f} tokens/s with the cache, {modes[False]['tokensPerSecond']:.0f} without")
    vmhwm = read_vmhwm() if hwm else None
    if vmhwm is not None:
        out["memory"] = {"peakRssBytes": vmhwm, "rssMethod": "VmHWM"}
    else:
        out["memory"] = {"peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "rssMethod": "ru_maxrss"}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="timed training steps per config (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before timing (default 3)")
    ap.add_argument("--configs", default="S,M,L", help="comma-separated configs (default S,M,L)")
    ap.add_argument("--no-rollouts", dest="rollouts", action="store_false", help="skip the rollout timings")
    ap.add_argument("--rollout-episodes", type=int, default=32)
    ap.add_argument("--prompt-length", type=int, default=8)
    ap.add_argument("--generate-tokens", type=int, default=48)
    ap.add_argument("--rollout-repeats", type=int, default=5, help="timed rollouts per mode (the modes take turns); the median is reported")
    ap.add_argument("--matmul-size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: the cores this process may use)")
    ap.add_argument(
        "--attention",
        choices=("sdpa", "explicit"),
        default="sdpa",
        help="sdpa: F.scaled_dot_product_attention (idiomatic, default); explicit: matmul + mask + softmax as in model.ts",
    )
    ap.add_argument(
        "--optimizer",
        choices=("default", "foreach", "fused"),
        default="default",
        help="torch.optim.AdamW implementation (default: PyTorch's own choice)",
    )
    args = ap.parse_args()
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    for n in names:
        if n not in CONFIGS:
            ap.error(f'unknown config "{n}"; use S, M, L')
    if args.steps < 1 or args.warmup < 0 or args.prompt_length + args.generate_tokens > CONTEXT:
        ap.error("need --steps >= 1, --warmup >= 0 and --prompt-length + --generate-tokens <= 64")

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = args.threads or cores
    torch.set_num_threads(threads)
    started = time.perf_counter()
    log(f"torch {torch.__version__}, {threads} threads; measuring the {args.matmul_size}x{args.matmul_size} matmul peak")
    peak = max(matmul_gflops(args.matmul_size) for _ in range(3))  # best of three medians, as bench.ts
    log(f"matmul peak {peak:.1f} GFLOP/s")
    configs = [bench_config(n, args, peak) for n in names]
    result = {
        "kind": "regime-zoo-bench-torch",
        "library": "torch",
        "torchVersion": torch.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "attention": args.attention,
        "optimizer": args.optimizer,
        "matmulPeak": {"size": args.matmul_size, "gflops": peak},
        "seconds": time.perf_counter() - started,
        "configs": configs,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
