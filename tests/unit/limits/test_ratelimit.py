import pytest

from gateway.errors import RateLimited
from gateway.limits.rate import RateLimiter


def test_when_the_bucket_is_empty_then_rate_limited_with_retry_after_and_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for _ in range(3):
        limiter.check("k", 3)
    with pytest.raises(RateLimited) as info:
        limiter.check("k", 3)
    assert info.value.retry_after is not None and info.value.retry_after > 0
    now[0] += 20.0  # 3 per minute -> one token every 20 s
    limiter.check("k", 3)
    limiter.check("other", 3)


def test_when_no_limit_is_set_then_everything_passes() -> None:
    limiter = RateLimiter()
    for _ in range(1000):
        limiter.check("k", None)
