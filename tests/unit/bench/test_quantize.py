import pytest
import torch

from bench._quantize import QUANTIZED_VERSION, quantize_int8, quantized_spec, state_fingerprint
from gateway.embedding.specs import DEFAULT_MODEL
from gateway.errors import ConfigurationError


def tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


def test_when_quantized_then_every_linear_layer_holds_int8_weights() -> None:
    q = quantize_int8(tiny())
    linears = [m for m in q.modules() if type(m).__name__ == "Linear"]
    assert len(linears) == 2
    assert all(m.weight().dtype == torch.qint8 for m in linears)


def test_when_the_same_weights_are_quantized_twice_then_the_fingerprint_is_the_same() -> None:
    assert state_fingerprint(quantize_int8(tiny(1))) == state_fingerprint(quantize_int8(tiny(1)))


def test_when_one_weight_changes_then_the_fingerprint_changes() -> None:
    model = tiny(1)
    before = state_fingerprint(quantize_int8(model))
    with torch.no_grad():
        model[0].weight[0, 0] += 1.0
    assert state_fingerprint(quantize_int8(model)) != before


def test_when_quantized_then_the_fingerprint_differs_from_the_float_state() -> None:
    model = tiny(2)
    assert state_fingerprint(quantize_int8(model)) != state_fingerprint(model)


def test_when_quantized_then_outputs_stay_close_to_float() -> None:
    model = tiny(3)
    x = torch.randn(32, 8)
    with torch.no_grad():
        cos = torch.nn.functional.cosine_similarity(model(x), quantize_int8(model)(x), dim=1)
    assert float(cos.min()) > 0.95


def test_when_the_spec_is_derived_then_it_is_a_new_minor_version_with_its_own_fingerprint() -> None:
    spec = quantized_spec(DEFAULT_MODEL, "ab" * 32)
    assert spec.version == QUANTIZED_VERSION == "1.2.0"
    assert spec.space == "1.2" != DEFAULT_MODEL.space
    assert spec.fingerprint == "ab" * 32 and spec.dimension == DEFAULT_MODEL.dimension


def test_when_the_base_has_another_major_then_no_quantized_version_is_invented() -> None:
    from dataclasses import replace

    with pytest.raises(ConfigurationError):
        quantized_spec(replace(DEFAULT_MODEL, version="2.0.0"), "ab" * 32)


@pytest.mark.slow
def test_when_the_quantized_state_is_not_the_registered_one_then_loading_refuses() -> None:
    from bench._quantize import QuantizedEmbedder

    with pytest.raises(ConfigurationError, match="fingerprint mismatch"):
        QuantizedEmbedder(expected="0" * 64)
