"""Sign-in throttling: guessing runs out, the owner is never locked out.

Failed sign-ins are counted in the rate limiter's storage (Redis when there is one, so every
worker counts together) three ways:

- per address, whatever account it tries (a guesser spraying many accounts);
- per account and address together: an address that has failed too often for an account is
  refused for it, even with the right password, so it cannot go on guessing;
- per account, from anywhere: past that allowance every *wrong* guess is refused, and so is
  any attempt from an address that has already failed for this account lately, but the right
  password from an address with no recent failures still signs in.

The trade-off: a refusal the owner cannot lift would let anyone lock anyone out (ten wrong
passwords and the account is shut). So, once an account's allowance is spent, each fresh
address still gets one answer before it is refused; a guesser needs a new address per guess,
and each address is limited across all accounts too. That is far slower than guessing freely,
and the owner signs in from their own phone or computer as usual.

A reset link raises the account's session version, which is part of the account's keys here,
so both account counters start afresh; it also clears the address's own count, since only the
owner of the mailbox can open the link (and asking for links is limited per address).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many

from bpt311.extensions import limiter

log = logging.getLogger(__name__)

PER_ADDRESS = parse_many("10/minute;50/hour")
PER_ACCOUNT_AND_ADDRESS = parse_many("10/minute;20/hour")
PER_ACCOUNT = parse_many("10/minute;30/hour")


class TooManyGuesses(Exception):
    """Refused before the password is looked at; ``seconds`` is the window that ran out."""

    def __init__(self, limit: RateLimitItem, retry_after: int):
        super().__init__(str(limit))
        self.seconds = limit.GRANULARITY.seconds
        self.retry_after = max(1, retry_after)


@dataclass
class SignInAttempt:
    """One sign-in: ``account`` is the email typed (accounts or not: both are counted the same,
    so the answers tell no one which addresses have accounts) and ``epoch`` its session version."""

    account: str
    epoch: int
    address: str

    @property
    def _address_key(self) -> tuple[str, ...]:
        return ("sign-in-address", self.address)

    @property
    def _pair_key(self) -> tuple[str, ...]:
        return ("sign-in-pair", self.account, str(self.epoch), self.address)

    @property
    def _account_key(self) -> tuple[str, ...]:
        return ("sign-in-account", self.account, str(self.epoch))

    def check(self) -> None:
        """Raise :class:`TooManyGuesses` if this attempt must not even be tried."""
        self._refuse_if_spent(PER_ADDRESS, self._address_key)
        self._refuse_if_spent(PER_ACCOUNT_AND_ADDRESS, self._pair_key)
        if self._has_failed_here() and self._account_spent():
            self._refuse_if_spent(PER_ACCOUNT, self._account_key)

    def failed(self) -> None:
        """Count a wrong password; refuse it as a guess if the account's allowance is spent."""
        spent = self._account_spent()
        for limits, key in (
            (PER_ADDRESS, self._address_key),
            (PER_ACCOUNT_AND_ADDRESS, self._pair_key),
            (PER_ACCOUNT, self._account_key),
        ):
            self._hit(limits, key)
        if spent:
            self._refuse_if_spent(PER_ACCOUNT, self._account_key)

    # ---- the counters; a storage that fails lets people in rather than out ---------------

    def _has_failed_here(self) -> bool:
        hourly = PER_ACCOUNT_AND_ADDRESS[-1]
        try:
            stats = limiter.limiter.get_window_stats(hourly, *self._pair_key)
        except Exception:
            log.warning("Sign-in throttle storage unavailable", exc_info=True)
            return False
        return stats.remaining < hourly.amount

    def _account_spent(self) -> bool:
        return any(not self._test(limit, self._account_key) for limit in PER_ACCOUNT)

    def _refuse_if_spent(self, limits: list[RateLimitItem], key: tuple[str, ...]) -> None:
        for limit in limits:
            if not self._test(limit, key):
                try:
                    reset_at = limiter.limiter.get_window_stats(limit, *key).reset_time
                except Exception:
                    reset_at = 0
                raise TooManyGuesses(limit, int(reset_at - time.time()))

    @staticmethod
    def _test(limit: RateLimitItem, key: tuple[str, ...]) -> bool:
        if not limiter.enabled:
            return True
        try:
            return limiter.limiter.test(limit, *key)
        except Exception:
            log.warning("Sign-in throttle storage unavailable", exc_info=True)
            return True

    @staticmethod
    def _hit(limits: list[RateLimitItem], key: tuple[str, ...]) -> None:
        if not limiter.enabled:
            return
        for limit in limits:
            try:
                limiter.limiter.hit(limit, *key)
            except Exception:
                log.warning("Sign-in throttle storage unavailable", exc_info=True)

    @staticmethod
    def _clear(limits: list[RateLimitItem], key: tuple[str, ...]) -> None:
        for limit in limits:
            try:
                limiter.limiter.clear(limit, *key)
            except Exception:
                log.warning("Sign-in throttle storage unavailable", exc_info=True)


def forgive_address(address: str) -> None:
    """The owner proved they hold the mailbox (a reset link): their address starts afresh."""
    SignInAttempt._clear(PER_ADDRESS, ("sign-in-address", address))
