"""Flow records and cursors: signed by their author, refused when anything was changed,
claimed for another node, out of bounds or dated too far ahead; which version wins."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import ValidationError

from agent.flows.records import (
    MAX_SOURCE_BYTES,
    CursorWire,
    FlowRecord,
    RecordRefused,
    RecordWire,
    check_cursor,
    check_record,
    sign_cursor,
    sign_record,
)
from agent.peer.identity import Identity, load_or_create_identity

NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return load_or_create_identity(tmp_path_factory.mktemp("alice"))


@pytest.fixture(scope="module")
def bob(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return load_or_create_identity(tmp_path_factory.mktemp("bob"))


def signed(identity: Identity, version: int = 1, at: float = NOW, **fields: object) -> FlowRecord:
    values: dict[str, object] = {
        "deleted": False,
        "enabled": True,
        "format": "yaml",
        "source": "name: Nightly\n",
        **fields,
    }
    return sign_record(
        identity,
        flow_id="nightly",
        version=version,
        updated_at=at,
        **values,  # type: ignore[arg-type]
    )


def refusal(record: FlowRecord, now: float = NOW) -> str:
    with pytest.raises(RecordRefused) as caught:
        check_record(record, now)
    return str(caught.value)


def test_a_signed_record_verifies_and_survives_the_wire(alice: Identity) -> None:
    record = signed(alice, source="name: Nightly — ünïcode\n")
    assert record.author == alice.node_id
    check_record(record, NOW)
    arrived = RecordWire.model_validate(json.loads(json.dumps(record.as_wire()))).record()
    assert arrived == record
    check_record(arrived, NOW)


def test_a_whole_number_time_on_the_wire_still_verifies(alice: Identity) -> None:
    record = signed(alice, at=NOW)
    wire = {**record.as_wire(), "updated_at": int(NOW)}
    check_record(RecordWire.model_validate(wire).record(), NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"source": "name: Evil\n"},
        {"version": 2},
        {"deleted": True},
        {"enabled": False},
        {"format": "json"},
        {"updated_at": NOW + 1},
        {"flow_id": "other"},
    ],
)
def test_any_change_after_signing_is_refused(alice: Identity, change: dict[str, object]) -> None:
    assert "signature" in refusal(replace(signed(alice), **change))  # type: ignore[arg-type]


def test_a_node_cannot_author_for_another(alice: Identity, bob: Identity) -> None:
    # Bob's record presented as Alice's: Bob's key is not Alice's.
    assert "signature" in refusal(replace(signed(bob), author=alice.node_id))
    # Alice's signature moved onto Bob's record: it signs other bytes.
    forged = replace(signed(bob, source="name: Evil\n"), signature=signed(alice).signature)
    assert "signature" in refusal(forged)
    with pytest.raises(ValueError, match="signs only"):
        signed(alice, author=bob.node_id)


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA", "A" * 128, "A" * 4000])
def test_a_malformed_signature_is_refused(alice: Identity, signature: str) -> None:
    assert "signature" in refusal(replace(signed(alice), signature=signature))


def test_times_ahead_of_the_clock(alice: Identity) -> None:
    check_record(signed(alice, at=NOW + 299), NOW)
    assert "updated_at" in refusal(signed(alice, at=NOW + 301))
    assert "updated_at" in refusal(signed(alice, at=float("inf")))
    assert "updated_at" in refusal(signed(alice, at=-1.0))


def test_bounds(alice: Identity) -> None:
    check_record(signed(alice, source="x" * MAX_SOURCE_BYTES), NOW)
    assert "larger" in refusal(signed(alice, source="x" * (MAX_SOURCE_BYTES + 1)))
    assert "larger" in refusal(signed(alice, source="é" * (MAX_SOURCE_BYTES // 2 + 1)))
    assert "version" in refusal(signed(alice, version=0))
    assert "version" in refusal(signed(alice, version=2**53))
    bad_id = sign_record(
        alice,
        flow_id="Not An Id",
        version=1,
        updated_at=NOW,
        deleted=False,
        enabled=True,
        format="yaml",
        source="",
    )
    assert "flow_id" in refusal(bad_id)


def test_the_wire_refuses_malformed_fields(alice: Identity) -> None:
    wire = signed(alice).as_wire()
    for bad in (
        {"version": "1"},
        {"version": True},
        {"flow_id": "../etc"},
        {"author": "UPPER"},
        {"extra": 1},
        {"format": "toml"},
        {"source": "x" * (MAX_SOURCE_BYTES + 1)},
    ):
        with pytest.raises(ValidationError):
            RecordWire.model_validate({**wire, **bad})


def test_which_version_wins(alice: Identity, bob: Identity) -> None:
    first, second = signed(alice, 1, NOW), signed(alice, 2, NOW - 100)
    assert second.newer_than(first)
    assert not first.newer_than(second)
    assert first.newer_than(None)
    assert not first.newer_than(first)  # a replay of the same version changes nothing
    later = signed(alice, 2, NOW)
    assert later.newer_than(second)
    # Same version and time on two nodes: the author's id decides, the same on every node.
    mine, theirs = signed(alice, 3, NOW), signed(bob, 3, NOW)
    assert mine.newer_than(theirs) == (alice.node_id > bob.node_id)
    assert theirs.newer_than(mine) == (bob.node_id > alice.node_id)


def test_cursors(alice: Identity, bob: Identity) -> None:
    cursor = sign_cursor(alice, flow_id="nightly", trigger_index=0, fired_at=NOW)
    check_cursor(cursor, NOW)
    arrived = CursorWire.model_validate(json.loads(json.dumps(cursor.as_wire()))).cursor()
    assert arrived == cursor
    check_cursor(sign_cursor(alice, flow_id="nightly", trigger_index=19, fired_at=NOW + 59), NOW)
    for bad in (
        sign_cursor(alice, flow_id="nightly", trigger_index=0, fired_at=NOW + 61),
        sign_cursor(alice, flow_id="nightly", trigger_index=20, fired_at=NOW),
        replace(cursor, fired_at=NOW - 1),
        replace(cursor, node_id=bob.node_id),
        replace(cursor, trigger_index=1),
    ):
        with pytest.raises(RecordRefused):
            check_cursor(bad, NOW)
    later = sign_cursor(bob, flow_id="nightly", trigger_index=0, fired_at=NOW + 1)
    assert later.newer_than(cursor)
    assert not cursor.newer_than(later)
