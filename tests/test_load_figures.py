"""The load benchmark's arithmetic (bench/load_figures.py): percentiles, the polls'
Server-Timing header, the jobs' stage records and worker_vs_limit."""

import math

from bench.load_figures import (
    job_stage_means,
    parse_server_timing,
    per_minute,
    percentile,
    stage_percentiles,
    worker_vs_limit,
)


def test_percentile_is_the_nearest_rank_of_the_sorted_values():
    values = [5, 1, 4, 2, 3]
    assert percentile(values, 0) == 1
    assert percentile(values, 50) == 3
    assert percentile(values, 100) == 5
    assert percentile(list(range(1, 101)), 95) == 95
    assert math.isnan(percentile([], 50))


def test_server_timing_gives_each_stage_in_milliseconds():
    header = "auth;dur=0.412, db;dur=1.250, ser;dur=0.301, total;dur=2.100"
    assert parse_server_timing(header) == {"auth": 0.412, "db": 1.25, "ser": 0.301, "total": 2.1}


def test_server_timing_skips_what_it_cannot_read():
    assert parse_server_timing('cache;desc="hit", db;dur=abc, total;DUR="3.5"') == {"total": 3.5}
    assert parse_server_timing(None) == {}
    assert parse_server_timing("") == {}


def test_stage_percentiles_leave_out_stages_no_poll_reported():
    timings = [{"auth": float(i), "total": 10.0 + i} for i in range(1, 21)]
    figures = stage_percentiles(timings, ("auth", "db", "total"))
    assert figures == {"auth": {50: 11.0, 95: 19.0}, "total": {50: 21.0, 95: 29.0}}


def test_worker_vs_limit_is_the_workers_rate_over_the_limits():
    assert worker_vs_limit(300.0, 400.0) == 0.75
    assert worker_vs_limit(per_minute(10, 2.0), per_minute(20, 2.0)) == 0.5
    assert per_minute(30, 15.0) == 120.0


def test_worker_vs_limit_is_none_without_a_limit_to_compare():
    assert worker_vs_limit(300.0, None) is None
    assert worker_vs_limit(300.0, 0) is None
    assert worker_vs_limit(0, 400.0) is None
    assert worker_vs_limit(300.0, per_minute(5, 0)) is None


def test_job_stage_means_count_each_done_photo_once():
    records = [
        {"photo": 1, "outcome": "done", "batch": 2, "ms": {"fetch": 2.0, "network": 100.0}},
        {"photo": 2, "outcome": "done", "batch": 2, "ms": {"fetch": 4.0, "network": 100.0, "extra": 1.0}},
        {"photo": 1, "outcome": "done", "batch": 2, "ms": {"fetch": 90.0, "network": 90.0}},  # same photo again
        {"photo": 3, "outcome": "discarded", "batch": 1, "ms": {"fetch": 50.0}},
    ]
    means = job_stage_means(records, ("network", "fetch", "render"), batched=())
    assert means == {"network": 100.0, "fetch": 3.0, "extra": 1.0}
    assert list(means) == ["network", "fetch", "extra"]
    assert job_stage_means([], ("fetch",)) == {}


def test_a_batched_stage_is_also_shared_among_its_batchs_photos():
    records = [
        {"photo": 1, "outcome": "done", "batch": 4, "ms": {"network": 200.0}},
        {"photo": 2, "outcome": "done", "batch": 1, "ms": {"network": 60.0}},
        {"photo": 3, "outcome": "done", "ms": {"network": 40.0}},  # no batch size: no share
    ]
    means = job_stage_means(records, ("network",))
    assert means == {"network": 100.0, "network_per_photo": 55.0}
