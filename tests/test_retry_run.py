"""httpfetch.RetryRun, free of I/O: which key each request carries, and when a retry waits (both fetchers follow it)."""

from __future__ import annotations

from sgxra.httpfetch import HttpResponse, RetryPolicy, RetryRun

POLICY = RetryPolicy("IAS", retries=2, backoff=1.0, keys=("k1", "k2"), jitter=lambda: 0.5)


def answer(status: int) -> HttpResponse:
    return HttpResponse(status, {}, b"")


def drive(run: RetryRun, outcomes: list[int | OSError]) -> list[tuple[float, str]]:
    """Feed ``outcomes`` to ``run`` as the fetchers do; each request's (wait before it, key it carried)."""
    requests: list[tuple[float, str]] = []
    for outcome in outcomes:
        wait = run.next_wait()
        assert wait is not None
        requests.append((wait, run.headers["Ocp-Apim-Subscription-Key"]))
        if isinstance(outcome, OSError):
            run.failed(outcome)
        elif run.answered(answer(outcome)):
            break
    return requests


def test_401_tries_the_next_key_at_once_and_a_retry_starts_again_at_the_first() -> None:
    run = RetryRun(POLICY)
    assert drive(run, [401, 503, 401, 200]) == [(0.0, "k1"), (0.0, "k2"), (1.0, "k1"), (0.0, "k2")]
    assert run.last is not None and run.last.status == 200


def test_a_failure_on_the_second_key_is_retried_from_the_first() -> None:
    run = RetryRun(POLICY)
    assert drive(run, [401, OSError("cut"), 200]) == [(0.0, "k1"), (0.0, "k2"), (1.0, "k1")]


def test_401_on_every_key_is_final_and_keys_do_not_spend_retries() -> None:
    run = RetryRun(POLICY)
    assert drive(run, [401, 401]) == [(0.0, "k1"), (0.0, "k2")]
    assert run.outcome().status == 401
    run = RetryRun(POLICY)
    assert drive(run, [401, 503, 401, 503, 401, 503]) == [(0.0, "k1"), (0.0, "k2"), (1.0, "k1"), (0.0, "k2"),
                                                           (2.0, "k1"), (0.0, "k2")]
    assert run.next_wait() is None and run.outcome().status == 503


def test_without_keys_no_key_header_is_sent() -> None:
    run = RetryRun(RetryPolicy("PCS"))
    assert run.next_wait() == 0.0 and run.headers == {}
    assert run.answered(answer(401))
