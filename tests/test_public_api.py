"""The public API: ``sgxra.verify`` is the one call and still answers for the ``sgxra.verify`` package;
every exported class says what it is."""

from __future__ import annotations

import inspect
import pydoc

import sgxra


def test_one_call_is_the_attribute_and_the_package_stays_importable() -> None:
    import sgxra.verify.dcap
    import sgxra.verify.dcap as dcap
    from sgxra.verify import verify_report
    from sgxra.verify.dcap import DcapVerifier

    assert callable(sgxra.verify) and inspect.iscoroutinefunction(sgxra.averify)
    assert sgxra.verify.dcap is dcap and dcap.DcapVerifier is DcapVerifier
    assert sgxra.verify.verify_report is verify_report
    assert list(inspect.signature(sgxra.verify).parameters) == ["evidence", "collateral", "fetcher", "policy", "at",
                                                                 "root"]
    text = pydoc.render_doc(sgxra.verify, renderer=pydoc.plaintext)
    for parameter in ("evidence", "collateral", "fetcher", "policy", "at", "root"):
        assert f"``{parameter}``" in text, parameter


def test_every_exported_class_has_a_docstring() -> None:
    undocumented = [name for name in sgxra.__all__
                    if inspect.isclass(obj := getattr(sgxra, name)) and not obj.__dict__.get("__doc__")]
    assert undocumented == []
