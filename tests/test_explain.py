"""``mlops-console explain`` on the ingested sample: attributions add up to the model's output
(tree path: credit-risk v3's gradient boosting; exact path: ticket-router's logistic regression,
checked against the closed-form Shapley values of a linear model), percentiles agree with scipy,
untrusted artifacts are refused, and bad input is one line with exit 2."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

from console.analytics import explain as E
from console.errors import UsageError

shap = pytest.importorskip("shap", reason="shap is not installed: pip install 'mlops-console[explain]'")


def _open(root: Path):
    from console.governance.state import fleet_state
    from console.store.db import open_store
    from console.store.registry import load_registry
    from console.workspace import load_dir

    ws = load_dir(root)
    state = fleet_state(ws, load_registry(ws.registry, ws.root))
    return open_store(ws, stages=state.stages, production=state.production)


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    from console.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--workspace", str(root)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(name="db")
def db_fixture(ingested_sample: Path):
    db = _open(ingested_sample)
    yield db
    db.close()


def test_tree_attributions_add_up_to_the_gbm_log_odds(db, ingested_sample: Path):
    info = db.registry.get("credit-risk", "3")
    model = E.load_model(ingested_sample, info)
    rows, _ = E._logged_rows(db, "credit-risk", "3", model.features, 300)
    res = E.explain_rows(db, ingested_sample, "credit-risk", "3", rows)
    assert res["method"].startswith("tree")
    X = model.matrix(rows)
    expected = model.pipeline.decision_function(X)  # scikit-learn's own log-odds
    assert np.allclose(res["output"], expected, rtol=0, atol=1e-9)
    total = res["attributions"].sum(axis=1) + res["base_value"]
    assert np.isclose(total, expected, rtol=0, atol=1e-8).all()
    # and the log-odds are the logged score's probability
    p = model.pipeline.predict_proba(X)[:, 1]
    assert np.allclose(1 / (1 + np.exp(-expected)), p)


def test_exact_attributions_of_a_linear_model_match_the_closed_form(db, ingested_sample: Path):
    rep = E.explain_prediction(db, ingested_sample, "T-2610250000", "ticket-router")
    at = rep["attributions"]
    assert at["method"].startswith("exact")
    assert at["additivity"]["holds"]
    assert np.isclose(sum(a["attribution"] for a in at["features"]) + at["base_value"], at["output"])
    # a linear model's Shapley values with independent features: w · (z(x) − mean z(background)),
    # summed over the columns each feature makes (its one-hot block)
    info = db.registry.get("ticket-router", "1")
    model = E.load_model(ingested_sample, info)
    ex = E._explainer(model, info, E.load_reference(info), E.BACKGROUND, E.SEED)
    pre, clf = model.pipeline.steps[0][1], model.pipeline.steps[-1][1]
    k = list(clf.classes_).index(rep["prediction"])
    x = model.matrix({f: [a["value"] for a in at["features"] if a["feature"] == f] for f in model.features})
    zx = np.asarray(pre.transform(x).todense() if hasattr(pre.transform(x), "todense") else pre.transform(x))[0]
    zb = pre.transform(ex.background)
    zb = np.asarray(zb.todense() if hasattr(zb, "todense") else zb).mean(axis=0)
    contrib = clf.coef_[k] * (zx - zb)
    got = {a["feature"]: a["attribution"] for a in at["features"]}
    for name, _trans, cols in pre.transformers_:
        sl = pre.output_indices_[name]
        if len(cols) == sl.stop - sl.start:  # one column per feature
            for j, c in enumerate(cols):
                assert np.isclose(got[model.features[c]], contrib[sl.start + j], atol=1e-9)
        else:  # one-hot: one feature per transformer column, its categories in order
            start = sl.start
            for c, cats in zip(cols, _trans.categories_, strict=True):
                assert np.isclose(got[model.features[c]], contrib[start:start + len(cats)].sum(), atol=1e-9)
                start += len(cats)


def test_percentiles_and_shares_match_scipy_on_the_reference(db, ingested_sample: Path):
    import pyarrow.parquet as pq

    rep = E.explain_prediction(db, ingested_sample, "cr-20261104-00001", "credit-risk", "3")
    ref = pq.read_table(ingested_sample / "reference/credit-risk/3.parquet")
    for f in rep["features"]:
        col = ref.column(f["feature"]).to_pylist()
        if f["kind"] == "numeric":
            vals = np.array([v for v in col if v is not None], dtype=float)
            assert f["percentile"] == pytest.approx(st.percentileofscore(vals, f["value"], kind="mean"), abs=1e-9)
            assert f["flag"] == ("outside" if f["value"] < vals.min() or f["value"] > vals.max() else "ok")
        else:
            seen = [v for v in col if v is not None]
            assert f["share"] == pytest.approx(seen.count(f["value"]) / len(seen))
    assert rep["label"] == "1" and rep["version"] == "3" and rep["latency_ms"] == 62.0


def test_flags_outside_and_unseen():
    ref = E.Reference(4, {"x": np.array([1.0, 2.0, 3.0, 4.0])}, {"c": {"a": 3, "b": 1}}, {})
    assert E.compare_feature(ref, "x", "numeric", 5.0)["flag"] == "outside"
    assert E.compare_feature(ref, "x", "numeric", 0.5)["percentile"] == 0.0
    assert E.compare_feature(ref, "x", "numeric", 2.0)["percentile"] == st.percentileofscore([1, 2, 3, 4], 2, kind="mean")
    assert E.compare_feature(ref, "c", "categorical", "z")["flag"] == "unseen"
    assert E.compare_feature(ref, "c", "categorical", "a")["share"] == 0.75
    assert E.compare_feature(ref, "x", "numeric", None)["flag"] == "missing"


def test_cli_json_and_the_story(ingested_sample: Path):
    code, out, err = cli(ingested_sample, "explain", "cr-20261104-00001", "--model", "credit-risk",
                         "--version", "3", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["attributions"]["output_space"] == "log-odds of the positive class"
    assert doc["attributions"]["additivity"]["holds"] is True
    assert {f["feature"] for f in doc["features"]} == {a["feature"] for a in doc["attributions"]["features"]}
    code, out, err = cli(ingested_sample, "explain", "cr-20261104-00001", "--model", "credit-risk")
    assert code == 2 and "pass --version" in err and len(err.strip().splitlines()) == 1


def test_unknown_request_id_is_one_line_exit_2(ingested_sample: Path):
    code, out, err = cli(ingested_sample, "explain", "no-such-request")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["mlops-console: no prediction with request id 'no-such-request'"]


def _copy_with_registry_artifact(src: Path, dst: Path, artifact: str) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    reg = dst / "registry/credit-risk/3.json"
    doc = json.loads(reg.read_text())
    doc["artifact"] = artifact  # a top-level artifact wins over lineage.artifact
    reg.write_text(json.dumps(doc))
    return dst


def test_artifact_outside_the_workspace_is_refused(ingested_sample: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere.skops"
    shutil.copy(ingested_sample / "models/credit-risk/3.skops", outside)
    ws = _copy_with_registry_artifact(ingested_sample, tmp_path / "ws", "models/credit-risk/link.skops")
    os.symlink(outside, ws / "models/credit-risk/link.skops")
    code, out, err = cli(ws, "explain", "cr-20261104-00001", "--model", "credit-risk", "--version", "3")
    assert code == 2 and out == ""
    assert "artifact refused" in err and "outside the workspace" in err and len(err.strip().splitlines()) == 1


def _as_joblib(ws: Path) -> Path:
    """The sample's v3 bundle saved as a joblib (pickle) file, named by the registry entry."""
    import joblib
    import skops.io as sio

    data = (ws / "models/credit-risk/3.skops").read_bytes()
    art = ws / "models/credit-risk/3.joblib"
    joblib.dump(sio.loads(data, trusted=sio.get_untrusted_types(data=data)), art)
    os.chmod(art, 0o644)
    return art


def test_group_writable_artifact_is_refused(ingested_sample: Path, tmp_path: Path):
    """A pickle runs code when loaded: group-writable, it is refused (skops files are not)."""
    ws = _copy_with_registry_artifact(ingested_sample, tmp_path / "ws", "models/credit-risk/3.joblib")
    art = _as_joblib(ws)
    os.chmod(art, 0o664)
    db = _open(ws)
    try:
        with pytest.raises(UsageError, match=r"artifact refused: .*3\.joblib is writable by group"):
            E.explain_prediction(db, ws, "cr-20261104-00001", "credit-risk", "3")
    finally:
        db.close()
    os.chmod(art, 0o644)
    os.chmod(art.parent, 0o777)
    code, _out, err = cli(ws, "explain", "cr-20261104-00001", "--model", "credit-risk", "--version", "3")
    assert code == 2 and "writable by group" in err


def test_without_shap_the_report_says_how_to_install(ingested_sample: Path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "shap", None)  # `import shap` fails as when it is absent
    db = _open(ingested_sample)
    try:
        rep = E.explain_prediction(db, ingested_sample, "cr-20261104-00001", "credit-risk", "3")
    finally:
        db.close()
    assert rep["attributions"] is None
    assert rep["attribution_note"] == "install the explain extra: pip install 'mlops-console[explain]'"
    assert rep["features"] and rep["prediction"] == "1"


def test_global_importance_is_mean_abs_shap(db, ingested_sample: Path):
    rep = E.global_importance(db, ingested_sample, "credit-risk", "3", sample=200)
    assert rep["method"].startswith("mean |SHAP|")
    info = db.registry.get("credit-risk", "3")
    ref = E.load_reference(info)
    rng = np.random.default_rng([E.SEED, 1])
    idx = np.sort(rng.choice(ref.rows, size=200, replace=False))
    model = E.load_model(ingested_sample, info)
    res = E.explain_rows(db, ingested_sample, "credit-risk", "3",
                         {f: [ref.columns[f][i] for i in idx] for f in model.features})
    want = dict(zip(res["features"], np.abs(res["attributions"]).mean(axis=0), strict=True))
    for f in rep["features"]:
        assert f["reference"] == pytest.approx(want[f["feature"]], rel=1e-9)
        assert f["current"] is not None and f["change"] == pytest.approx(f["current"] - f["reference"])


def test_global_importance_without_shap_is_sklearn_permutation_importance(ingested_sample: Path, monkeypatch):
    import sys

    from sklearn.inspection import permutation_importance

    monkeypatch.setitem(sys.modules, "shap", None)
    db = _open(ingested_sample)
    try:
        rep = E.global_importance(db, ingested_sample, "credit-risk", "3", sample=150)
        info = db.registry.get("credit-risk", "3")
        model = E.load_model(ingested_sample, info)
        rows, labels = E._logged_rows(db, "credit-risk", "3", model.features, 150)
    finally:
        db.close()
    assert rep["method"].startswith("permutation importance") and "pip install" in rep["note"]
    # the latest logged rows have no labels yet (they arrive days later): no current importance
    assert all(v is None for v in labels) and all(f["current"] is None for f in rep["features"])
    import pyarrow.parquet as pq

    ref = pq.read_table(ingested_sample / "reference/credit-risk/3.parquet")
    idx = np.sort(np.random.default_rng([E.SEED, 1]).choice(ref.num_rows, size=150, replace=False))
    X = model.matrix({f: [ref.column(f).to_pylist()[i] for i in idx] for f in model.features})
    y = np.array([ref.column("label").to_pylist()[i] for i in idx])
    want = permutation_importance(model.pipeline, X, y, n_repeats=5, random_state=E.SEED).importances_mean
    got = {f["feature"]: f["reference"] for f in rep["features"]}
    assert np.allclose([got[f] for f in model.features], want)


def test_cli_global_importance(ingested_sample: Path):
    code, out, err = cli(ingested_sample, "explain", "--global", "--model", "credit-risk", "--version", "3",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["reference_rows"] == 500 and doc["current_rows"] == 500
    registered = json.loads((ingested_sample / "registry/credit-risk/3.json").read_text())["features"]
    assert {f["feature"] for f in doc["features"]} == set(registered)
    assert all(f["change"] == pytest.approx(f["current"] - f["reference"]) for f in doc["features"])
    code, out, err = cli(ingested_sample, "explain", "--global")
    assert code == 2 and err.strip().splitlines() == [
        "mlops-console: explain --global takes --model M [--version V] and no REQUEST_ID"]


def test_a_skops_artifact_loads_whoever_wrote_it_and_names_its_writers(ingested_sample: Path, tmp_path: Path):
    """The shared-workspace case: a member's hook wrote the artifact into a group-writable folder.
    skops builds only scikit-learn/NumPy/SciPy objects, so it loads, gives the same attributions
    as the same bundle saved with joblib, and the report says who else could have changed it."""
    ws = _copy_with_registry_artifact(ingested_sample, tmp_path / "ws", "models/credit-risk/3.skops")
    os.chmod(ws / "models/credit-risk/3.skops", 0o664)
    os.chmod(ws / "models/credit-risk", 0o775)
    db = _open(ws)
    try:
        rep = E.explain_prediction(db, ws, "cr-20261104-00001", "credit-risk", "3")
    finally:
        db.close()
    assert "3.skops is writable by group" in rep["artifact"]["writers"]
    pickled = _copy_with_registry_artifact(ingested_sample, tmp_path / "pickled", "models/credit-risk/3.joblib")
    _as_joblib(pickled)
    ref_db = _open(pickled)
    try:
        ref = E.explain_prediction(ref_db, pickled, "cr-20261104-00001", "credit-risk", "3")
    finally:
        ref_db.close()
    assert ref["artifact"]["writers"] is None
    assert rep["attributions"]["features"] == ref["attributions"]["features"]
    assert rep["attributions"]["additivity"]["holds"]


class Planted:
    """A type no artifact should ask for: skops would have to import and build it."""


def test_a_skops_artifact_asking_for_other_types_is_refused(ingested_sample: Path, tmp_path: Path):
    import skops.io as sio

    ws = _copy_with_registry_artifact(ingested_sample, tmp_path / "ws", "models/credit-risk/3.skops")
    (ws / "models/credit-risk/3.skops").write_bytes(sio.dumps({"pipeline": Planted()}))
    code, out, err = cli(ws, "explain", "cr-20261104-00001", "--model", "credit-risk", "--version", "3")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"mlops-console: artifact refused: {(ws / 'models/credit-risk/3.skops').resolve()} asks for types "
        "outside scikit-learn, NumPy and SciPy: ")
    assert lines[0].endswith("test_explain.Planted")
