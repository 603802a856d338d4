# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Statistics and machine-learning loops: Welford, normal equations, the statistics module,
fsum, logsumexp/softmax by hand, k-means assignment, moving averages, sorted(key=)."""

from registry import case, on_list, vector


@case(vector(8, -2.0, 2.0), on_list)
def welford_variance(xs):
    """Running mean and variance (Welford); returns the sample variance."""
    n, mean, m2 = 0, 0.0, 0.0
    for x in xs:
        n += 1
        delta = x - mean
        mean += delta / n
        m2 += delta * (x - mean)
    return m2 / (n - 1)


@case(vector(6, -1.0, 3.0), on_list)
def normal_equations_line(ys):
    """Least-squares line through (i, y_i) from the 2 x 2 normal equations."""
    xs = [float(i) for i in range(len(ys))]
    n = len(xs)
    sx, sy = sum(xs), sum(ys)
    sxx = sum(x * x for x in xs)
    sxy = sum(x * y for x, y in zip(xs, ys))
    det = n * sxx - sx * sx
    slope = (n * sxy - sx * sy) / det
    intercept = (sy * sxx - sx * sxy) / det
    return slope + 0.5 * intercept


@case(vector(6, 0.5, 3.0), on_list)
def statistics_fmean(xs):
    """statistics.fmean (float arithmetic, math.fsum inside)."""
    import statistics

    return statistics.fmean(xs) ** 2


@case(vector(6, 0.5, 3.0), on_list)
def statistics_mean(xs):
    """statistics.mean: exact arithmetic through fractions (as_integer_ratio) inside."""
    import statistics

    return statistics.mean(xs) * 3.0


@case(vector(6, 0.5, 3.0), on_list)
def statistics_stdev(xs):
    """statistics.stdev (exact sums of squares inside, then a float sqrt)."""
    import statistics

    return statistics.stdev(xs)


@case(vector(7, -1.0, 1.0), on_list)
def fsum_energy(xs):
    """A spring-chain energy accumulated with math.fsum."""
    import math

    return math.fsum(0.5 * (b - a - 0.3) ** 2 for a, b in zip(xs, xs[1:]))


@case(vector(5, -3.0, 3.0), on_list)
def logsumexp_by_hand(z):
    """log(sum(exp(z))) with the max subtracted first."""
    import math

    m = max(z)
    return m + math.log(sum(math.exp(v - m) for v in z))


@case(vector(4, -2.0, 2.0), on_list)
def softmax_cross_entropy(logits):
    """Softmax then the cross-entropy of class 2, written out with lists."""
    import math

    m = max(logits)
    exps = [math.exp(v - m) for v in logits]
    total = sum(exps)
    probs = [e / total for e in exps]
    return -math.log(probs[2])


@case(vector(12, -2.0, 2.0), on_list)
def kmeans_assignment(coords):
    """One k-means assignment step: each of 6 points goes to its nearest fixed centroid
    (min with a key); returns the within-cluster sum of squared distances."""
    centroids = [(-1.0, -1.0), (1.0, 0.5), (0.0, 1.5)]
    points = [(coords[2 * i], coords[2 * i + 1]) for i in range(6)]

    def d2(p, c):
        return (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2

    total = 0.0
    for p in points:
        j = min(range(len(centroids)), key=lambda k: d2(p, centroids[k]))
        total += d2(p, centroids[j])
    return total


@case(vector(10, -1.0, 1.0), on_list)
def exponential_moving_average(xs):
    """EMA with alpha = 0.3 over a series; returns the last smoothed value squared."""
    ema = xs[0]
    for x in xs[1:]:
        ema = 0.3 * x + 0.7 * ema
    return ema * ema


@case(vector(6, -2.0, 2.0), on_list)
def pearson_correlation(ys):
    """Pearson correlation of ys against 0, 1, 2, ... with math.sqrt."""
    import math

    xs = list(range(len(ys)))
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)


@case(vector(6, -3.0, 3.0), on_list)
def rank_weighted_sum(xs):
    """Values sorted by magnitude (sorted with key=abs), weighted by rank."""
    ordered = sorted(xs, key=abs)
    return sum((i + 1) * v for i, v in enumerate(ordered))


@case(vector(7, 0.0, 5.0), on_list)
def median_and_trimmed_mean(xs):
    """Median plus the mean of the middle five values (sorted, sliced)."""
    s = sorted(xs)
    n = len(s)
    median = s[n // 2]
    trimmed = s[1:-1]
    return median + sum(trimmed) / len(trimmed)
