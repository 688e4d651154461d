"""A group member's three timers (≈ Kafka 3.9 ``Heartbeat``): when the next heartbeat is due
(``heartbeat.interval.ms``, or the retry backoff after a failed one), when the session is
presumed lost without a successful heartbeat answer (``session.timeout.ms``), and when the
application has not called poll() for too long (``max.poll.interval.ms``). Times are seconds."""

from __future__ import annotations

from sim.clients.consumer.consumer_network_client import exponential_backoff_s


class Heartbeat:
    """Deadlines as absolute simulated times, seconds, counted from ``now`` (Kafka's timers start
    when the ``Heartbeat`` is made; the heartbeat thread's ``enable()`` starts them again)."""

    def __init__(
        self,
        now: float,
        heartbeat_s: float,
        session_s: float,
        max_poll_s: float,
        retry_backoff_s: float,
        retry_backoff_max_s: float,
    ) -> None:
        if heartbeat_s >= session_s:
            raise ValueError("heartbeat.interval.ms must be lower than session.timeout.ms")
        self.heartbeat_s = heartbeat_s
        self.session_s = session_s
        self.max_poll_s = max_poll_s
        self.retry_backoff_s = retry_backoff_s
        self.retry_backoff_max_s = retry_backoff_max_s
        self.next_heartbeat_s = now + heartbeat_s
        self.session_deadline_s = now + session_s
        self.poll_deadline_s = now + max_poll_s
        self._attempts = 0

    def poll(self, now: float) -> None:
        """The application called poll()."""
        self.poll_deadline_s = now + self.max_poll_s

    def sent_heartbeat(self, now: float) -> None:
        """A heartbeat left: the next one is due an interval later."""
        self.next_heartbeat_s = now + self.heartbeat_s

    def fail_heartbeat(self, now: float) -> None:
        """A heartbeat failed: retry after the exponential retry backoff."""
        self.next_heartbeat_s = now + exponential_backoff_s(
            self._attempts, self.retry_backoff_s, self.retry_backoff_max_s
        )
        self._attempts += 1

    def receive_heartbeat(self, now: float) -> None:
        """A heartbeat answer (or a sign the coordinator is there): the session starts again."""
        self._attempts = 0
        self.session_deadline_s = now + self.session_s

    def reset_timeouts(self, now: float) -> None:
        """All three timers start again (``Heartbeat.resetTimeouts``, called by
        ``HeartbeatThread.enable()`` once a JoinGroup succeeds)."""
        self.session_deadline_s = now + self.session_s
        self.poll_deadline_s = now + self.max_poll_s
        self.next_heartbeat_s = now + self.heartbeat_s

    def reset_session_timeout(self, now: float) -> None:
        """The session timer starts again (a coordinator was found)."""
        self.session_deadline_s = now + self.session_s
