"""The public API: ``sgxra.verify`` is the one call, the ``sgxra.verify`` package stays importable,
and every exported class says what it is."""

from __future__ import annotations

import inspect

import sgxra


def test_one_call_is_the_attribute_and_the_package_stays_importable() -> None:
    import sgxra.verify.dcap
    from sgxra.verify import verify_report

    assert inspect.isfunction(sgxra.verify) and inspect.iscoroutinefunction(sgxra.averify)
    assert callable(verify_report) and sgxra.verify.__module__ == "sgxra.api"
    doc = inspect.getdoc(sgxra.verify) or ""
    for parameter in ("evidence", "collateral", "fetcher", "policy", "at", "root"):
        assert f"``{parameter}``" in doc, parameter


def test_every_exported_class_has_a_docstring() -> None:
    undocumented = [name for name in sgxra.__all__
                    if inspect.isclass(obj := getattr(sgxra, name)) and not obj.__dict__.get("__doc__")]
    assert undocumented == []
