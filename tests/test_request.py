"""A load request is built complete by ``make_request`` and never changes: its key is computed once."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from pytest_loadbudget.model import request as request_module
from pytest_loadbudget.model.placement import PYTHON, Placement
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.session.resolve import make_request


class Model:
    pass


def loader(size: int = 1) -> Model:
    return Model()


def build(placement: Placement) -> LoadRequest:
    return make_request(loader, format=None, name="tokenizer", warmup=None, files=None, options={"size": 3},
                        base_dir=Path.cwd(), placement=placement)


def test_a_request_cannot_be_changed_after_it_is_made() -> None:
    request = build(Placement())
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.device_label = "gpu"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.runtime = "node"  # type: ignore[misc]


def test_the_key_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    original = request_module._warmup_identity

    def counting(warmup: object) -> str:
        calls.append(warmup)
        return original(warmup)

    monkeypatch.setattr(request_module, "_warmup_identity", counting)
    request = build(Placement())
    keys = {request.key for _ in range(3)}
    assert len(keys) == 1
    assert len(calls) == 1


def test_python_placement_is_in_the_key_from_the_start() -> None:
    request = build(Placement(device="cpu"))
    assert (request.runtime, request.device, request.device_label) == (PYTHON, "cpu", "cpu")
    assert request.placement.label == "python"
    assert request.key.endswith("@cpu")
    assert request.key.startswith(f"callable:{__name__}.loader:tokenizer:size=3;warmup=none")


@pytest.mark.parametrize(
    ("placement", "label", "where"),
    [
        (Placement(runtime="node", backend="wasm"), "node wasm", "@node:wasm:"),
        (Placement(runtime="browser", backend="webgl", cache_policy="no-store"), "browser webgl no-store",
         "@browser:webgl:no-store"),
    ],
)
def test_a_tfjs_runtime_labels_the_request_and_its_key(placement: Placement, label: str, where: str) -> None:
    request = build(placement)
    assert request.runtime == placement.runtime and request.backend == placement.backend
    assert request.device_label == label == request.placement.label
    assert request.key.endswith(where)


def test_runtimes_and_devices_make_different_keys() -> None:
    keys = {build(placement).key for placement in (
        Placement(device="cpu"), Placement(runtime="node", backend="cpu"), Placement(runtime="node", backend="wasm"),
    )}
    assert len(keys) == 3


def test_a_request_travels_to_a_fresh_process_with_its_key() -> None:
    request = build(Placement(device="cpu"))
    again = pickle.loads(pickle.dumps(request))
    assert again.key == request.key
    assert again.load().__class__.__name__ == "Model"


def test_a_path_request_keys_relative_to_the_root(tmp_path: Path) -> None:
    model = tmp_path / "models" / "m.tflite"
    model.parent.mkdir()
    model.write_bytes(b"TFL3")
    request = make_request(model, format="tflite", name=None, warmup=None, files=None, options={},
                           base_dir=tmp_path, root=tmp_path, placement=Placement(device="cpu"))
    assert request.name == "m.tflite"
    assert request.key.startswith("tflite:models/m.tflite:m.tflite:")


def test_the_fixture_builds_the_request_for_the_budgets_runtime(pytester: pytest.Pytester) -> None:
    """A TF.js runtime budget and a plain one on the same loader are two models, labelled from the start."""
    pytester.makeconftest(
        """
        import importlib
        import pytest

        # sys.modules' module, the one the plugin's lazy imports find: after an
        # earlier in-process run, ``from pytest_loadbudget.session import
        # tfjs_sessions`` can return a stale package attribute instead.
        tfjs_sessions = importlib.import_module("pytest_loadbudget.session.tfjs_sessions")

        @pytest.fixture(autouse=True)
        def no_node(monkeypatch):
            seen = []
            def measure(self, request, rounds, **options):
                seen.append((request.runtime, request.backend, request.device_label, request.key))
                raise RuntimeError("no runtime in this test")
            monkeypatch.setattr(tfjs_sessions.RuntimeSessions, "measure", measure)
            yield
            print("SEEN", seen)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def loader():
            return object()

        @pytest.mark.load_budget(runtime="node", backend="wasm")
        def test_node(load_model):
            with pytest.raises(RuntimeError):
                load_model(loader, warmup=None)
        """
    )
    result = pytester.runpytest("-s", "-p", "no:randomly", "--loadbudget-rounds=1")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SEEN [[]('node', 'wasm', 'node wasm', 'callable:*@node:wasm:')[]]*"])


def test_why_a_request_could_not_replay_its_cold_start_is_reported(pytester: pytest.Pytester) -> None:
    """A loader local to its test cannot travel to a fresh process: the miss line and the report say why."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load_budget(cold_ms=60000)
        def test_it(load_model):
            def inline():
                return object()
            load_model(inline, warmup=None)
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "--loadbudget-rounds=1", "--loadbudget-report")
    result.assert_outcomes(failed=1)
    reason = "the loader cannot be replayed in a fresh process (*test_it.<locals>.inline*)"
    result.stdout.fnmatch_lines([
        f"*load_budget: inline cold start not measured: {reason}",
        f"inline cold start not measured: {reason}",
    ])
