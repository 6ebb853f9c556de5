"""The arithmetic of bench/load_bench.py, apart from its processes, so tests can hold it.

Pure functions: no Django, no network, no clock.
"""

import math

# The stages of a status poll's Server-Timing header (gallery/api/polls.py), in its order.
POLL_STAGES = ("auth", "db", "ser", "total")


def percentile(values, p):
    """The nearest-rank p-th percentile (0..100) of values; NaN for none."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def parse_server_timing(header):
    """{name: milliseconds} of a Server-Timing header ("auth;dur=0.4, db;dur=1.2, ...").
    Metrics without a readable dur are left out: a malformed header must not end a run."""
    stages = {}
    for metric in (header or "").split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur" and name:
                try:
                    stages[name] = float(value.strip().strip('"'))
                except ValueError:
                    pass
    return stages


def stage_percentiles(timings, stages=POLL_STAGES, ps=(50, 95)):
    """{stage: {p: ms}} over a list of parse_server_timing() results; a stage no poll
    reported is left out."""
    figures = {}
    for stage in stages:
        values = [t[stage] for t in timings if stage in t]
        if values:
            figures[stage] = {p: round(percentile(values, p), 2) for p in ps}
    return figures


def per_minute(count, seconds):
    """A rate per minute; NaN when no time passed."""
    return count / seconds * 60 if seconds > 0 else float("nan")


def worker_vs_limit(worker_per_min, limit_per_min):
    """How close a worker comes to its limit: its photos a minute over the limit's.
    None when either is unknown or the limit is zero (nothing to compare against)."""
    if not worker_per_min or not limit_per_min or math.isnan(worker_per_min) or math.isnan(limit_per_min):
        return None
    return round(worker_per_min / limit_per_min, 3)


def job_stage_means(records, stages, batched=("network",)):
    """{stage: mean ms} over the photos' stage records that jobs keep in their RQ meta
    (gallery/colorizing.py on the i26-worker branch: {"photo", "outcome", "batch", "ms":
    {stage: ms}}), counting each photo once and only photos that were done. Stages follow
    `stages`, then any others in the order first seen; a stage is averaged over the photos
    that have it. A `batched` stage is the whole pass of the photo's batch, so each also gets
    "<stage>_per_photo": its time over the batch's size (the share that photo cost)."""
    seen = {}
    for record in records:
        if record.get("outcome") == "done" and record.get("photo") not in seen:
            ms = dict(record.get("ms") or {})
            for name in batched:
                if name in ms and record.get("batch"):
                    ms[f"{name}_per_photo"] = ms[name] / record["batch"]
            seen[record.get("photo")] = ms
    names = list(stages) + [name for ms in seen.values() for name in ms if name not in stages]
    means = {}
    for name in dict.fromkeys(names):
        values = [ms[name] for ms in seen.values() if name in ms]
        if values:
            means[name] = round(sum(values) / len(values), 2)
    return means
