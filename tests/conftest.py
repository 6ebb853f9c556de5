import pytest


@pytest.fixture
def redis_conn():
    """The test Redis database (db 15), flushed before and after the test.

    Refuses to flush a database that holds anything but RQ's keys: that would
    be someone's data, not ours.
    """
    import django_rq

    conn = django_rq.get_connection("colorize")
    foreign = [k for k in conn.scan_iter(count=1000) if not k.startswith(b"rq:")]
    if foreign:
        pytest.exit(f"Refusing to use a Redis database holding other data: {foreign[:5]}", returncode=3)
    conn.flushdb()
    yield conn
    conn.flushdb()
