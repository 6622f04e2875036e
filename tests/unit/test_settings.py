import dataclasses
import re
from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.settings import Settings, load_settings, unknown_environment

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_when_nothing_is_set_then_the_documented_defaults_apply() -> None:
    s = load_settings({})
    assert s.data_dir == Path("var") and s.keys_dir == Path("keys") and s.policy_dir == Path("policy")
    assert s.database_url.reveal() == "" and not s.uses_postgres
    assert s.sqlite_path == Path("var/gateway.db")


def test_when_env_and_file_are_set_then_env_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text('port = 9000\ndata_dir = "/srv/data"\n')
    s = load_settings({"GATEWAY_CONFIG_FILE": str(cfg), "GATEWAY_PORT": "9100", "GATEWAY_FP16": "yes"})
    assert s.port == 9100 and s.data_dir == Path("/srv/data") and s.fp16 is True


@pytest.mark.parametrize("env", [{"GATEWAY_PORT": "eighty"}, {"GATEWAY_FP16": "maybe"}, {"GATEWAY_DEVICE": "tpu"}])
def test_when_a_value_is_wrong_then_configuration_error_names_it(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(env)


def test_when_the_file_has_an_unknown_key_then_it_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(ConfigurationError, match="prot"):
        load_settings({"GATEWAY_CONFIG_FILE": str(cfg)})


def test_when_settings_exist_then_every_one_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_0-9]+)` \|", DOC.read_text(), flags=re.M))
    assert {f.name for f in dataclasses.fields(Settings)} == documented


def test_when_loaded_then_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}).port = 1  # type: ignore[misc]


def test_when_model_batching_is_left_at_zero_then_it_is_chosen_by_device() -> None:
    cpu, gpu = load_settings({}), load_settings({"GATEWAY_DEVICE": "cuda"})
    assert (cpu.model_batch_size, cpu.model_workers(2), cpu.model_workers(64)) == (16, 2, 8)
    assert (gpu.model_batch_size, gpu.model_workers(16)) == (256, 1)
    set_ = load_settings({"GATEWAY_ENCODE_BATCH_SIZE": "48", "GATEWAY_EMBED_WORKERS": "3"})
    assert (set_.model_batch_size, set_.model_workers(2)) == (48, 3)


@pytest.mark.parametrize("name", ["GATEWAY_ENCODE_BATCH_SIZE", "GATEWAY_EMBED_WORKERS",
                                  "GATEWAY_BATCH_BACKGROUND_MAX_TOKENS", "GATEWAY_EXPRESS_BATCH_SIZE"])
def test_when_a_model_batching_setting_is_negative_then_it_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match=name.removeprefix("GATEWAY_").lower()):
        load_settings({name: "-1"})


def test_when_pii_workers_is_auto_then_each_gateway_process_gets_its_share_of_the_cores_plus_the_express_one() -> None:
    auto = load_settings({})  # the default
    assert auto.pii_workers == "auto"
    assert (auto.pii_pool_size(2), auto.pii_pool_size(1), auto.pii_pool_size(16)) == (3, 2, 9)
    shared = load_settings({"GATEWAY_WORKERS": "4", "GATEWAY_DATABASE_URL": "postgresql://h/db"})
    assert (shared.pii_pool_size(16), shared.pii_pool_size(2)) == (5, 2)
    no_express = load_settings({"GATEWAY_EXPRESS_BATCH_SIZE": "0"})
    assert (no_express.pii_pool_size(2), no_express.pii_pool_size(1), no_express.pii_pool_size(4)) == (2, 2, 4)
    assert load_settings({"GATEWAY_PII_WORKERS": "0"}).pii_pool_size(8) == 0  # in the gateway's own process
    assert load_settings({"GATEWAY_PII_WORKERS": "3"}).pii_pool_size(2) == 3


@pytest.mark.parametrize("value", ["-1", "two", "65", "1.5", ""])
def test_when_pii_workers_is_not_auto_or_a_count_then_it_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="pii_workers"):
        load_settings({"GATEWAY_PII_WORKERS": value})


def test_when_several_workers_are_asked_for_then_either_backend_takes_them_and_zero_is_refused() -> None:
    assert load_settings({"GATEWAY_WORKERS": "2"}).workers == 2  # the embedded store: they share its files
    assert load_settings({"GATEWAY_WORKERS": "2", "GATEWAY_DATABASE_URL": "postgresql://h/db"}).workers == 2
    with pytest.raises(ConfigurationError, match="workers"):
        load_settings({"GATEWAY_WORKERS": "0"})


@pytest.mark.parametrize(("env", "named"), [
    ({"GATEWAY_KEK_PROVIDER": "kms"}, "kek_provider"),
    ({"GATEWAY_KEK_PROVIDER": "pkcs11", "GATEWAY_PKCS11_MODULE": "/m.so"}, "pkcs11_token_label, pkcs11_pin_file"),
    ({"GATEWAY_RETENTION_SWEEP_INTERVAL_S": "-1"}, "retention_sweep_interval_s"),
])
def test_when_the_kek_or_retention_settings_are_incomplete_then_the_start_is_refused(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings(env)


def test_when_the_kek_provider_is_pkcs11_then_its_options_are_carried() -> None:
    s = load_settings({"GATEWAY_KEK_PROVIDER": "pkcs11", "GATEWAY_PKCS11_MODULE": "/m.so",
                       "GATEWAY_PKCS11_TOKEN_LABEL": "t", "GATEWAY_PKCS11_PIN_FILE": "/p"})
    assert (s.kek_options.provider, s.kek_options.pkcs11_module, s.kek_options.in_file) == ("pkcs11", "/m.so", False)
    assert load_settings({}).kek_options.in_file and load_settings({}).retention_sweep_interval_s == 3600.0


def test_when_the_database_url_holds_a_password_then_no_printed_form_of_the_settings_shows_it() -> None:
    url = "postgresql://gateway:s3cr3t-pw@db.internal:5432/gw"
    s = load_settings({"GATEWAY_DATABASE_URL": url})
    assert s.uses_postgres and s.database_url.reveal() == url
    for shown in (repr(s), str(s), f"{s.database_url}", repr(s.database_url), str(dataclasses.asdict(s))):
        assert "s3cr3t-pw" not in shown


@pytest.mark.parametrize("name", ["GATEWAY_FILES_MAX_TENANT_BYTES", "GATEWAY_FILES_MAX_CONCURRENT_UPLOADS",
                                  "GATEWAY_FILES_MAX_TENANT_UPLOADS"])
def test_when_an_upload_cap_is_not_positive_then_it_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match=name.removeprefix("GATEWAY_").lower()):
        load_settings({name: "0"})


@pytest.mark.parametrize(("env", "says"), [
    ({"GATEWAY_MODEL_RUNTIME": "tensorrt"}, "must be 'torch' or 'onnx'"),
    ({"GATEWAY_MODEL_RUNTIME": "onnx", "GATEWAY_DEVICE": "cuda"}, "cpu only"),
    ({"GATEWAY_MODEL_RUNTIME": "onnx", "GATEWAY_ONNX_THREADS": "-1"}, "onnx_threads"),
])
def test_when_model_runtime_is_unknown_or_onnx_off_the_cpu_then_the_start_is_refused(
        env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        load_settings(env)


def test_when_model_runtime_is_onnx_on_the_cpu_then_it_is_accepted() -> None:
    assert load_settings({"GATEWAY_MODEL_RUNTIME": "onnx"}).model_runtime == "onnx"
    assert load_settings({}).model_runtime == "torch"


def test_when_onnx_cache_dir_is_empty_then_graphs_live_in_the_data_dir_else_in_the_named_directory() -> None:
    assert load_settings({"GATEWAY_DATA_DIR": "/srv/gw"}).onnx_cache_root == Path("/srv/gw/onnx")
    shared = load_settings({"GATEWAY_DATA_DIR": "/srv/gw", "GATEWAY_ONNX_CACHE_DIR": "/srv/onnx-cache"})
    assert shared.onnx_cache_root == Path("/srv/onnx-cache")


def test_when_a_gateway_variable_names_no_setting_then_a_warning_names_it_and_the_nearest_setting() -> None:
    # A new operator's typo: GATEWAY_PROT=9000 was ignored in silence and the gateway served on 8080.
    env = {"GATEWAY_PROT": "9000", "GATEWAY_PORT": "9001", "GATEWAY_CONFIG_FILE": "g.toml",
           "GATEWAY_TEST_DATABASE_URL": "x", "HOME": "/root"}
    assert unknown_environment(env) == [
        "GATEWAY_PROT is not a setting and is ignored (did you mean GATEWAY_PORT?); settings: docs/configuration.md"]
    assert load_settings({k: v for k, v in env.items() if k != "GATEWAY_CONFIG_FILE"}).port == 9001
    assert unknown_environment({"GATEWAY_PORT": "9000", "GATEWAY_OIDC_AUDIENCE": "a"}) == []
    # What the gateway sets for its PII pool's fork server stays in its process: a later serve (a test's) saw it.
    assert unknown_environment({"GATEWAY_PII_PRELOAD_PIPELINE": "/opt/pipeline"}) == []
