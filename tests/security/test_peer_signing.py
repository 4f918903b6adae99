"""Finding 5 in process: `verify` and the replay journal, with a controlled clock."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.errors import ApiError
from agent.peer.identity import node_id_for
from agent.peer.replay import COMPACT_AFTER, NonceCache
from agent.peer.signing import (
    RECEIVER,
    TIMESTAMP,
    canonical,
    parse_timestamp,
    sign_headers,
    verify,
)

T0 = 1_800_000_000.0
KEY = Ed25519PrivateKey.generate()
CALLER = node_id_for(KEY.public_key())
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()
RECEIVING = node_id_for(Ed25519PrivateKey.generate().public_key())
DIGEST = hashlib.sha256(b"").hexdigest()


def key_of(node: str) -> tuple[str, str] | None:
    return (PUBLIC, "member") if node == CALLER else None


def headers_at(stamp: str, receiver: str = RECEIVING, nonce: str = "ab" * 16) -> dict[str, str]:
    message = canonical("POST", "/peer/x", stamp, nonce, DIGEST, CALLER, receiver)
    return {
        "x-fabric-node": CALLER,
        RECEIVER: receiver,
        TIMESTAMP: stamp,
        "x-fabric-nonce": nonce,
        "x-fabric-content-sha256": DIGEST,
        "x-fabric-signature": base64.b64encode(KEY.sign(message)).decode(),
    }


def cache(at: float = T0, journal: Path | None = None) -> NonceCache:
    return NonceCache(RECEIVING, journal=journal, clock=lambda: at)


def code_of(headers: dict[str, str], nonces: NonceCache, now: float) -> str:
    try:
        verify(headers, "POST", "/peer/x", key_of=key_of, nonces=nonces, now=now)
    except ApiError as exc:
        return exc.code
    return "ACCEPTED"


@pytest.mark.parametrize(
    "stamp",
    ["nan", "NaN", "inf", "-inf", "1e999", "1e3", " 12", "+1800000000", "0x10", "1_8", "١٢"],
)
def test_only_plain_decimal_seconds_are_timestamps(stamp: str) -> None:
    assert parse_timestamp(stamp) is None
    assert code_of(headers_at(stamp), cache(), T0 + 1) == "UNSIGNED_REQUEST"


def test_a_nan_timestamp_is_not_accepted_even_once() -> None:
    nonces = cache()
    for _ in range(2):
        assert code_of(headers_at("nan"), nonces, T0 + 1) == "UNSIGNED_REQUEST"


def test_plain_timestamps_are_accepted() -> None:
    assert parse_timestamp("1800000000.123456") == 1800000000.123456
    assert code_of(headers_at(f"{T0 + 1:.3f}"), cache(), T0 + 1) == "ACCEPTED"


def test_a_request_for_another_node_is_refused() -> None:
    other = node_id_for(Ed25519PrivateKey.generate().public_key())
    assert code_of(headers_at(f"{T0 + 1:.3f}", other), cache(), T0 + 1) == "WRONG_RECEIVER"


def test_the_signature_covers_the_receiver() -> None:
    headers = headers_at(f"{T0 + 1:.3f}", receiver=node_id_for(KEY.public_key()))
    headers[RECEIVER] = RECEIVING
    assert code_of(headers, cache(), T0 + 1) == "BAD_SIGNATURE"


def test_sign_headers_names_the_receiver() -> None:
    nonces = NonceCache(RECEIVING)
    headers = sign_headers(KEY.sign, CALLER, "POST", "/peer/x", DIGEST, receiver=RECEIVING)
    assert headers[RECEIVER] == RECEIVING
    verify(headers, "POST", "/peer/x", key_of=key_of, nonces=nonces)


def test_a_request_signed_before_this_process_started_is_stale() -> None:
    headers = headers_at(f"{T0 - 0.5:.3f}")
    assert code_of(headers, cache(at=T0), T0 + 1) == "STALE_REQUEST"


def test_a_future_dated_nonce_is_remembered_across_a_restart(tmp_path: Path) -> None:
    journal = tmp_path / "nonces"
    headers = headers_at(f"{T0 + 30:.3f}")
    assert code_of(headers, cache(T0, journal), T0) == "ACCEPTED"
    # The next process starts 5 s later: the timestamp is still after its start.
    assert code_of(headers, cache(T0 + 5, journal), T0 + 6) == "REPLAYED_REQUEST"


def test_the_journal_keeps_only_entries_still_in_the_future(tmp_path: Path) -> None:
    journal = tmp_path / "nonces"
    nonces = cache(T0, journal)
    for i in range(COMPACT_AFTER + 10):
        stamp = T0 + 1 if i < COMPACT_AFTER else T0 + 50
        assert nonces.check_and_add(f"n:{i}", T0 + (2 if i >= COMPACT_AFTER else 0), stamp)
    # Rewritten once it grew; what was signed for T0+1 is covered by the start-time rule.
    assert len(journal.read_text().splitlines()) == 10
    later = cache(T0 + 3, journal)
    assert not later.check_and_add(f"n:{COMPACT_AFTER}", T0 + 3, T0 + 50)


def test_a_journal_that_cannot_be_written_refuses_the_request(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    nonces = cache(T0, folder / "nonces")
    (folder / "nonces").unlink()
    folder.rmdir()
    folder.write_text("not a folder any more")
    assert code_of(headers_at(f"{T0 + 30:.3f}"), nonces, T0) == "REPLAY_JOURNAL_UNAVAILABLE"
    # A request that needs no journal entry is still served.
    assert code_of(headers_at(f"{T0:.3f}", nonce="cd" * 16), nonces, T0) == "ACCEPTED"
