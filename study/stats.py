"""How far a fooling rate measured on n answers can be trusted."""

import math

# Two-sided 95% quantile of the standard normal distribution.
Z_95 = 1.959963984540054

# Zhang, Isola & Efros (ECCV 2016), abstract: the full model "fool[s] humans on 32% of the
# trials" of their real-vs-fake test on ImageNet (Table 2: 32.3 +/- 2.2 %). 50% would be a
# colorization nobody can tell from a real photo.
PAPER_FOOLING_RATE = 0.32


def wilson_interval(k, n, z=Z_95):
    """Wilson score interval (lo, hi) for k successes in n trials, or None when n is 0.

    Unlike the normal approximation p +/- z*sqrt(p(1-p)/n) it stays inside [0, 1] and is not
    of zero width at k = 0 or k = n, which matters while a study has few answers.
    """
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"k={k} successes out of n={n} trials")
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)
