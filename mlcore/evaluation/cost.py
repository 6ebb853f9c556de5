"""The cost columns of the paper's Table 1: a model's parameters, activation memory and runtime."""
import time

import numpy as np
import torch

from .data import EVAL_SIZE


def model_cost(model, size=EVAL_SIZE, device="cpu", repeats=10, max_seconds=10.0):
    """(params_mb, feats_mb, runtime_ms) of one forward pass of L (1, 1, size, size).

    - params_mb: parameters at float32, in MB of 10^6 bytes (as in the paper's 129 MB for 32M).
    - feats_mb: the sum of the sizes of the output tensors of every leaf module (forward hooks),
      float32, counting a tensor once when a module writes in place (ReLU(inplace=True)).
      Tensors made by functional calls inside a forward (concatenations, interpolations) belong
      to no module and are not counted, so this is a lower bound for such networks.
    - runtime_ms: median wall time of the forward pass after warm-up, on `device`.
    """
    device = torch.device(device)
    params = sum(p.numel() * 4 for p in model.parameters())
    x = torch.full((1, 1, size, size), 50.0, device=device)
    outputs = []  # kept alive so that no storage is freed and its address reused during the pass

    def hook(module, args, out):
        for t in (out if isinstance(out, (tuple, list)) else [out]):
            if torch.is_tensor(t):
                outputs.append(t)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    seen, feats = set(), 0
    for t in outputs:
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            feats += t.numel() * 4
    del outputs

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = []
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        sync()
        budget_end = time.perf_counter() + max_seconds
        while len(times) < repeats and (len(times) < 3 or time.perf_counter() < budget_end):
            start = time.perf_counter()
            model(x)
            sync()
            times.append(time.perf_counter() - start)
    return params / 1e6, feats / 1e6, 1000.0 * float(np.median(times))
