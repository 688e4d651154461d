"""The clients' metadata updater (sim.clients.metadata, Kafka's Metadata.timeToNextUpdate):
when it asks again after a failure (retry.backoff.ms doubling up to retry.backoff.max.ms) and
after a success (metadata.max.age.ms), for the producer's and the consumer's settings alike."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from sim.clients.metadata import Metadata
from sim.kafka_config import effective
from sim.net import Disconnected
from sim.protocol import MetadataResponse

RTT_S = 0.001


class _Net:
    """Answers each request one round trip later: always a failure, or always an empty
    answer; records when each request was sent."""

    def __init__(self, env: simpy.Environment, fail: bool) -> None:
        self.env, self.fail = env, fail
        self.sent_s: list[float] = []

    def request(self, _src, dst, _request, _timeout_s):
        self.sent_s.append(self.env.now)
        answer = Disconnected(dst) if self.fail else MetadataResponse([0], {})
        return self.env.timeout(RTT_S, answer)


def _requests_s(scope: str, config: dict, fail: bool, until_s: float) -> list[float]:
    env = simpy.Environment()
    net = _Net(env, fail)
    metadata = Metadata(env, net, "client", ["broker-0"], effective(scope, config), lambda: None)
    env.process(metadata.run())
    env.run(until=until_s)
    return net.sent_s


@pytest.mark.parametrize("scope", ["producer", "consumer"])
@pytest.mark.parametrize(("base_ms", "max_ms"), [(100, 1000), (20, 50)])
def test_failed_updates_back_off_from_retry_backoff_ms_doubling_to_its_max(
    scope: str, base_ms: int, max_ms: int
) -> None:
    """Metadata.timeToAllowUpdate after failed attempts: the k-th retry waits retry.backoff.ms
    x 2^(k-1), at most retry.backoff.max.ms, after the last attempt's answer (no jitter)."""
    config = {"retry.backoff.ms": base_ms, "retry.backoff.max.ms": max_ms}
    sent = _requests_s(scope, config, fail=True, until_s=3.0)
    gaps = np.diff(sent) - RTT_S
    expected = [min(base_ms * 2**k, max_ms) / 1000 for k in range(len(gaps))]
    assert len(gaps) >= 5
    assert gaps == pytest.approx(expected)


@pytest.mark.parametrize("scope", ["producer", "consumer"])
@pytest.mark.parametrize("max_age_ms", [300, 700])
def test_metadata_is_refreshed_every_metadata_max_age_ms(scope: str, max_age_ms: int) -> None:
    """Metadata.timeToNextUpdate with nothing requested: the next update is due
    metadata.max.age.ms after the last successful one."""
    sent = _requests_s(scope, {"metadata.max.age.ms": max_age_ms}, fail=False, until_s=3.0)
    gaps = np.diff(sent) - RTT_S
    assert len(gaps) >= 3
    assert gaps == pytest.approx([max_age_ms / 1000] * len(gaps))
