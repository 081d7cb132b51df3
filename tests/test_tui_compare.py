"""Champion vs challenger on the sign-off view: drift is compared on the features both versions
tested; features only one side has are named, never counted on that side alone."""

from __future__ import annotations

from console.tui.compare import shared_drift


def report(drifted: dict[str, bool], share: float = 0.5, untested: tuple[str, ...] = ()) -> dict:
    features = [{"feature": n, "method": "psi", "score": 0.3 if d else 0.01, "threshold": 0.2, "drifted": d}
                for n, d in drifted.items()]
    features += [{"feature": n, "method": None, "score": None, "threshold": None, "drifted": False}
                 for n in untested]
    n = sum(drifted.values())
    return {"features": features,
            "dataset_drift": {"share": n / len(drifted), "threshold": share, "drifted": n / len(drifted) >= share,
                              "tested_features": len(drifted)}}


def test_both_sides_are_judged_on_the_shared_features() -> None:
    # the challenger added two features that drift; on its own report that is dataset drift
    # (3 of 4 drifted), but on the features the champion also has it drifts like the champion
    champion = report({"age": True, "income": False, "region": False}, untested=("note",))
    challenger = report({"age": True, "income": False, "clicks": True, "dwell": True})
    assert challenger["dataset_drift"]["drifted"] and not champion["dataset_drift"]["drifted"]
    got = shared_drift(champion, challenger)
    assert got["shared"] == ["age", "income"]
    assert got["only"] == [["region"], ["clicks", "dwell"]]
    for side in got["sides"]:
        assert side["tested"] == 2 and side["drifted"] == ["age"] and side["share"] == 0.5
        assert side["dataset_drift"]  # 0.5 ≥ 0.5 on both sides: the same verdict on the same features


def test_one_side_missing_keeps_the_other_whole() -> None:
    challenger = report({"age": True, "income": False, "clicks": False})
    got = shared_drift(None, challenger)
    assert got["sides"][0] is None and got["only"] == [[], []]
    assert got["sides"][1]["tested"] == 3 and got["sides"][1]["drifted"] == ["age"]
