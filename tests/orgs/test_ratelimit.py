"""orgs/ratelimit.py: the fixed-window counters behind the token exchange's limits and
the failed-token throttle, against the test's own namespace on the shared Redis."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from governance.env import env_rate
from orgs import ratelimit
from orgs.ratelimit import Rate, parse_rate


@pytest.mark.parametrize("text, rate", [
    ("60/m", Rate(60, 60)), ("600/5m", Rate(600, 300)), ("20/300s", Rate(20, 300)),
    ("1/d", Rate(1, 86400)), ("", None), ("  ", None)])
def test_rates_are_read_like_allauths(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["lots", "60", "60/x", "0/m", "-1/m", "a/m", "5/0s"])
def test_a_bad_rate_stops_start_up_with_the_reason(text):
    with pytest.raises(ImproperlyConfigured, match="Bad rate"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["lots", "60", "0/m", "60/x", "/m", "5/0s", "05/m"])
def test_a_bad_rate_variable_names_itself(monkeypatch, text):
    monkeypatch.setenv("TOKEN_EXCHANGE_RATE_PER_ADDRESS", text)
    with pytest.raises(ImproperlyConfigured,
                       match="TOKEN_EXCHANGE_RATE_PER_ADDRESS must look like 60/m"):
        env_rate("TOKEN_EXCHANGE_RATE_PER_ADDRESS", "60/m")


@pytest.mark.parametrize("text", ["60/m", "600/5m", "20/300s", ""])
def test_good_rate_variables_are_kept(monkeypatch, text):
    monkeypatch.setenv("FAILED_TOKEN_AUTH_RATE", text)
    assert env_rate("FAILED_TOKEN_AUTH_RATE", "20/m") == text


def test_hits_over_the_amount_wait_until_the_window_ends(frozen_rate_clock):
    rate = Rate(3, 60)
    assert [ratelimit.hit("t", "198.51.100.1", rate) for _ in range(3)] == [None] * 3
    wait = ratelimit.hit("t", "198.51.100.1", rate)
    assert wait == 30  # the clock stands 30 s into its minute
    assert ratelimit.exceeded("t", "198.51.100.1", rate) == wait
    assert ratelimit.hit("t", "198.51.100.2", rate) is None  # another identifier
    assert ratelimit.hit("other", "198.51.100.1", rate) is None  # another scope


def test_no_rate_means_no_limit():
    assert all(ratelimit.hit("t", "x", None) is None for _ in range(50))


def test_a_cache_outage_lets_requests_through(monkeypatch):
    class Down:
        def add(self, *args, **kwargs):
            raise ConnectionError("redis down")

        get = incr = add

    monkeypatch.setattr(ratelimit, "cache", Down())
    assert ratelimit.hit("t", "x", Rate(1, 60)) is None
    assert ratelimit.exceeded("t", "x", Rate(1, 60)) is None
