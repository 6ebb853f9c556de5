"""How the pages write times: milliseconds under a second, never "0 minutes ago"."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.templatetags.site_tags import ago, duration


@pytest.mark.parametrize("seconds, shown", [(0.0004, "1 ms"), (0.084, "84 ms"), (0.9994, "999 ms"),
                                            (1.0, "1.0 s"), (12.34, "12.3 s"), (185, "3 min 5 s")])
def test_a_job_time_is_in_milliseconds_under_a_second(seconds, shown):
    assert duration(timedelta(seconds=seconds)) == shown


def test_a_moment_within_the_minute_is_just_now():
    assert ago(timezone.now() - timedelta(seconds=20)) == "just now"
    assert ago(timezone.now() - timedelta(hours=3, seconds=5)) == "3\xa0hours ago"
