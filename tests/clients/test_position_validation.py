"""Position validation after a leader change (KIP-320): SubscriptionState's validation states,
cases ported from Kafka 3.9's SubscriptionStateTest (inputs and expected outputs)."""

from __future__ import annotations

from sim.clients.consumer.subscription_state import FetchState, SubscriptionState

TP = ("t", 0)


def _awaiting(offset: int = 10, offset_epoch: int = 5, leader_epoch: int = 10) -> SubscriptionState:
    """``tp`` at ``offset`` after a record of ``offset_epoch``, then a leader at ``leader_epoch``:
    as SubscriptionStateTest's seekUnvalidated with a FetchPosition of both epochs."""
    state = SubscriptionState()
    state.assign_from_user([TP])
    state.seek(TP, offset, leader_epoch - 1, offset_epoch)
    state.maybe_validate_position(TP, leader_epoch)
    assert state.states[TP].fetch_state is FetchState.AWAITING_VALIDATION
    return state


def test_maybe_complete_validation():
    # SubscriptionStateTest.testMaybeCompleteValidation: end offset 15 of epoch 5 >= 10
    state = _awaiting()
    assert state.maybe_complete_validation(TP, (10, 5, 10), 5, 15, True) is None
    tps = state.states[TP]
    assert tps.fetch_state is FetchState.FETCHING
    assert (tps.position, tps.offset_epoch, tps.leader_epoch) == (10, 5, 10)


def test_maybe_complete_validation_after_position_change():
    # SubscriptionStateTest.testMaybeCompleteValidationAfterPositionChange: an answer for an
    # older position is ignored; the new one still awaits validation
    state = _awaiting()
    state.seek(TP, 20, 9, 8)
    state.maybe_validate_position(TP, 10)
    assert state.maybe_complete_validation(TP, (10, 5, 10), 5, 15, True) is None
    tps = state.states[TP]
    assert tps.fetch_state is FetchState.AWAITING_VALIDATION
    assert (tps.position, tps.offset_epoch) == (20, 8)


def test_truncation_detection_with_reset_policy():
    # SubscriptionStateTest.testTruncationDetectionWithResetPolicy: end offset 5 of epoch 7
    # below position 10: the position moves to (5, epoch 7) at the current leader epoch 10
    state = _awaiting()
    truncation = state.maybe_complete_validation(TP, (10, 5, 10), 7, 5, True)
    assert truncation is not None and truncation.reset
    tps = state.states[TP]
    assert tps.fetch_state is FetchState.FETCHING
    assert (tps.position, tps.offset_epoch, tps.leader_epoch) == (5, 7, 10)


def test_truncation_detection_without_reset_policy():
    # SubscriptionStateTest.testTruncationDetectionWithoutResetPolicy: the truncation is
    # returned (LogTruncation, divergent offset 5 of epoch 7) and the position is unchanged
    state = _awaiting()
    truncation = state.maybe_complete_validation(TP, (10, 5, 10), 7, 5, False)
    assert (truncation.position, truncation.end_offset, truncation.end_epoch) == (10, 5, 7)
    assert not truncation.reset
    assert state.states[TP].position == 10


def test_truncation_detection_unknown_divergent_offset_with_reset_policy():
    # SubscriptionStateTest.testTruncationDetectionUnknownDivergentOffsetWithResetPolicy: the
    # leader knows no such epoch (UNDEFINED): the offset is reset by the policy
    state = _awaiting()
    truncation = state.maybe_complete_validation(TP, (10, 5, 10), -1, -1, True)
    assert truncation is not None and truncation.reset
    assert state.states[TP].fetch_state is FetchState.AWAITING_RESET


def test_a_position_without_a_record_epoch_is_not_validated():
    # SubscriptionState.validatePosition: no offset epoch (a reset position), no validation
    state = SubscriptionState()
    state.assign_from_user([TP])
    state.seek(TP, 10, 3)
    state.maybe_validate_position(TP, 4)
    assert state.states[TP].fetch_state is FetchState.FETCHING
    assert state.states[TP].leader_epoch == 4
    state.maybe_validate_position(TP, None)  # no leader: nothing changes
    assert state.states[TP].leader_epoch == 4
