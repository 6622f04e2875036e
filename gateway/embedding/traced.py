"""The transformer's forward pass as one TorchScript call, checked against the eager model before it is used.

In eager mode every one of a pass's ~150 operators returns to Python and takes the GIL back; with two embedding
workers, the PII thread and the event loop sharing one GIL, the workers wait for it and the cores idle (on 2 cores
the gateway used 170% CPU under full load). A traced transformer releases the GIL once for the whole pass and skips
the per-module Python: on 2 Intel Xeon cores, alternating runs, 256 one-text clients went from 292-295 to 331-333
texts/s and 64 clients from 244-249 to 296-298 (``docs/performance.md``).

Only the transformer is traced; the model's own pooling and normalization modules still run as they are, so the
extraction is the model's. Tracing records one path through the code: the example batch has padding so that the
attention mask is applied, and the traced module must give the eager model's vectors on probe batches of mixed
lengths (padded texts, one truncated at the maximum length, a lone text) or it is not used.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Forward = Callable[[dict[str, Any]], Any]  # preprocessed features -> sentence embeddings (a tensor)

# Tolerance of the check: the largest absolute difference allowed in a component of a unit vector.
_TOLERANCE = {"float32": 1e-4, "float16": 5e-3, "bfloat16": 2e-2}

_PROBE = (
    "A lone short text.",
    "A longer one, so that the batch is padded and the attention mask matters: the gateway embeds only what its "
    "policy allows, and records why.",
    "x",
)


def eager_forward(model: Any) -> Forward:
    return lambda features: model(features)["sentence_embedding"]


def traced_forward(model: Any, max_seq_length: int) -> Forward | None:
    """The model's forward with its transformer traced, or None when the model is not of the traceable shape
    (a sentence-transformers text ``Transformer`` producing token embeddings first) or the trace disagrees."""
    import torch

    first = model[0]
    config = getattr(first, "modality_config", {}).get("text", {})
    if (
        getattr(first, "module_output_name", None) != "token_embeddings"
        or config.get("method") != "forward"
        or config.get("method_output_name") != "last_hidden_state"
    ):
        log.info("the model is not a text transformer of the usual form; its forward pass is not traced")
        return None
    probe = [*_PROBE, " ".join(["word"] * (max_seq_length + 8))]
    example = model.preprocess(probe[:2])
    names = tuple(k for k, v in example.items() if isinstance(v, torch.Tensor))
    device = model.device
    rest = list(model)[1:]

    class Transformer(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: Any) -> Any:
            return self.inner(**dict(zip(names, tensors, strict=True)), return_dict=False)[0]

    def run(traced: Any) -> Forward:
        def forward(features: dict[str, Any]) -> Any:
            features["token_embeddings"] = traced(*(features[n] for n in names))
            for module in rest:
                features = module(features)
            return features["sentence_embedding"]

        return forward

    def features(texts: list[str]) -> dict[str, Any]:
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in model.preprocess(texts).items()}

    eager = eager_forward(model)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarning on value-dependent branches; the check below decides
            args = tuple(example[n].to(device) for n in names)
            module = torch.jit.trace(  # type: ignore[no-untyped-call]
                Transformer(first.auto_model).eval(), args, check_trace=False
            )
            forward = run(module)
            # each probe batch through both paths (a quantized model's vectors depend on the batch they are in)
            pairs = [(forward(features(b)).float(), eager(features(b)).float()) for b in (probe, probe[:1])]
    except Exception:  # an untraceable model keeps the eager path, which is always correct
        log.warning("tracing the model's forward pass failed; it runs eagerly", exc_info=True)
        return None
    params = list(first.auto_model.parameters())
    tolerance = _TOLERANCE.get(str(params[0].dtype).removeprefix("torch.") if params else "float32", 1e-4)
    if any(got.shape != want.shape for got, want in pairs):
        log.warning("the traced forward pass gives vectors of another shape; it runs eagerly")
        return None
    worst = max(float((got - want).abs().max()) for got, want in pairs)
    if not worst <= tolerance:
        log.warning("the traced forward pass differs from the eager one (%.2g > %.2g); it runs eagerly",
                    worst, tolerance)
        return None
    return forward
