"""Whatever arrives at the hooks, the payload checks answer with a list of alerts, a CI
record, or one line of InvalidInput: never another exception (a 500), never a half-read."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.errors import InvalidInput
from mlops_tui.server import payloads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
names = st.sampled_from(["churn", "Churn", "", "a" * 70, "x y", "churn\x1b[2J", "ok-1"])
alert = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved", "pending", 1, None]),
        "labels": st.one_of(
            st.fixed_dictionaries({"model": names, "alertname": st.text(max_size=300)}),
            json_values,
        ),
        "fingerprint": st.one_of(st.text(max_size=30), st.integers(), st.none()),
    },
    optional={
        "annotations": st.one_of(
            st.fixed_dictionaries(
                {
                    "summary": st.text(max_size=50),
                    "value": st.one_of(st.text(max_size=8), st.floats()),
                }
            ),
            json_values,
        ),
    },
)
notification = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"version": st.sampled_from(["4", 4, "3"]), "alerts": st.lists(alert, max_size=5)}
    ),
)


@settings(max_examples=400, deadline=None)
@given(notification)
def test_an_alertmanager_payload_is_read_or_refused_in_one_line(doc: Any) -> None:
    try:
        found = payloads.alertmanager(doc)
    except InvalidInput as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    assert found, "a notification that is read has alerts"
    for n in found:
        assert n.fingerprint and n.name and n.model == n.model.strip()
        assert n.value is None or math.isfinite(n.value)


ci_report = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"record": st.sampled_from(["build", "test", "deploy", "bake"]), "model": names},
        optional={
            "commit": st.text(max_size=45),
            "image": st.text(max_size=20),
            "version": st.one_of(st.integers(), st.booleans(), st.text(max_size=3)),
            "passed": st.one_of(st.booleans(), st.integers()),
            "failed": st.one_of(st.booleans(), st.none()),
            "junit": st.text(max_size=40),
            "url": st.one_of(st.text(max_size=30), st.integers()),
        },
    ),
)


@settings(max_examples=400, deadline=None)
@given(ci_report)
def test_a_ci_report_is_read_or_refused_in_one_line(doc: Any) -> None:
    try:
        kind, model, args = payloads.ci(doc)
    except InvalidInput as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    assert kind in ("build", "test", "deploy") and model
    for key, value in args.items():
        if key in ("version",):
            assert type(value) is int
        if key in ("passed", "failed"):
            assert type(value) is bool
