"""Who is calling, API keys, the rate limit, the served log's day budget and the CSV header check."""

from __future__ import annotations

import pytest

from sentiment_lib.errors import ConfigError, DataValidationError
from sentiment_lib.serving import access, api_keys, csv_upload
from sentiment_lib.serving.served_log import DayBudget
from sentiment_lib.settings.serving import parse_trusted_proxies

PROXY = frozenset({"127.0.0.1"})


@pytest.mark.parametrize(
    "peer, headers, trusted, local",
    [
        ("127.0.0.1", {}, frozenset(), True),  # a client on this host
        ("::1", {}, frozenset(), True),
        ("192.0.2.8", {}, frozenset(), False),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, frozenset(), False),  # an untrusted local proxy
        ("127.0.0.1", {"Forwarded": "for=127.0.0.1"}, frozenset(), False),
        ("127.0.0.1", {"X-Real-IP": "127.0.0.1"}, frozenset(), False),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, PROXY, False),  # the trusted proxy's visitor
        ("127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}, PROXY, True),  # a visitor on this host, proxied
        ("127.0.0.1", {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}, PROXY, False),  # a made-up first hop
        ("192.0.2.8", {"X-Forwarded-For": "127.0.0.1"}, PROXY, False),  # forwarding from a stranger
    ],
)
def test_client_is_local(peer, headers, trusted, local):
    assert access.client_is_local(peer, headers, trusted) is local


def test_client_address_is_the_nearest_untrusted_hop():
    trusted = frozenset({"127.0.0.1", "10.0.0.2"})
    assert access.client_address("127.0.0.1", {"X-Forwarded-For": "1.1.1.1, 198.51.100.4, 10.0.0.2"}, trusted) == (
        "198.51.100.4"
    )
    assert access.client_address("198.51.100.9", {"X-Forwarded-For": "1.1.1.1"}, trusted) == "198.51.100.9"


def test_trusted_proxies_must_be_addresses():
    assert parse_trusted_proxies(" 127.0.0.1, ::1 ") == {"127.0.0.1", "::1"}
    with pytest.raises(ValueError):
        parse_trusted_proxies("proxy.example")


def test_rate_limiter_allows_a_burst_then_waits_for_the_rate():
    now = [0.0]
    limiter = access.RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    assert [limiter.wait_seconds("a") for _ in range(3)] == [0, 0, 10]
    assert limiter.wait_seconds("b") == 0  # another client has its own bucket
    now[0] = 10.0
    assert limiter.wait_seconds("a") == 0


def test_rate_limiter_keeps_a_bounded_number_of_clients():
    limiter = access.RateLimiter(per_minute=1, burst=1, max_clients=3)
    for client in range(10):
        limiter.wait_seconds(str(client))
    assert len(limiter._buckets) == 3


def test_api_keys_file_round_trip(tmp_path):
    path = tmp_path / "keys"
    first, second = api_keys.add_key(path, "app-one"), api_keys.add_key(path, "app-two")
    keys = api_keys.ApiKeys(path)
    assert keys.identify(first) == "app-one" and keys.identify(second) == "app-two"
    assert keys.identify(first + "x") is None and keys.identify("") is None
    assert first not in path.read_text() and path.stat().st_mode & 0o777 == 0o600
    path.write_text("app-two sha256:" + api_keys.digest(second) + "\n")  # app-one revoked
    assert keys.identify(first) is None and keys.identify(second) == "app-two"


@pytest.mark.parametrize("text", ["app-one 1234\n", "a sha256:" + "0" * 64 + "\na sha256:" + "1" * 64 + "\n"])
def test_a_damaged_keys_file_is_refused_at_start(tmp_path, text):
    (tmp_path / "keys").write_text(text)
    with pytest.raises(ConfigError, match="line"):
        api_keys.ApiKeys(tmp_path / "keys")


def test_day_budget_fills_sampled_then_counts():
    budget = DayBudget(max_bytes=1000)
    budget.start_day("20261205", already_written=0)
    admitted = [budget.admit(10) for _ in range(200)]
    assert budget.used <= 1000 and sum(admitted) * 10 == budget.used
    assert admitted[:90] == [True] * 90 and sum(admitted[90:]) == 10  # the last tenth: one in ten
    assert budget.skipped == 200 - sum(admitted)
    budget.start_day("20261206", already_written=0)
    assert budget.skipped == 0 and budget.admit(10)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"Review" + b"," * 50 + b"\nfine\n", "51 columns in its header; at most 20"),
        (b"Review" + b"," * 20_000, "at least"),
        (b"text,id\nfine,1\n", "no 'Review' column"),
        (b"", "empty"),
    ],
)
def test_csv_header_refusals(body, message):
    with pytest.raises(DataValidationError, match=message):
        csv_upload.read_upload(body, max_columns=20)


def test_csv_rows_come_back_with_their_columns():
    frame = csv_upload.read_upload(b'id,Review\n7,fine\n8,"bad, really"\n', max_columns=20)
    assert frame.to_dict("list") == {"id": ["7", "8"], "Review": ["fine", "bad, really"]}
