# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Interest, annuities, Black-Scholes with math.erf, bonds from a dict of cash flows, IRR by
Newton, amortisation schedules."""

from registry import case, on_list, scalar, vector


@case(scalar(0.01, 0.15))
def annuity_payment(rate):
    """Monthly payment of a 30-year 250 000 loan at an annual rate."""
    r = rate / 12.0
    n = 360
    return 250000.0 * r / (1.0 - (1.0 + r) ** (-n))


@case(vector(5, 0.2, 1.0), on_list)
def black_scholes_call(p):
    """European call price (S, K scaled to ~100), Black-Scholes with math.erf."""
    import math

    S, K = 80.0 + 40.0 * p[0], 80.0 + 40.0 * p[1]
    T, r, sigma = p[2] * 2.0, p[3] * 0.1, p[4] * 0.5

    def N(x):
        return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * N(d1) - K * math.exp(-r * T) * N(d2)


@case(scalar(0.01, 0.12))
def bond_price_dict(y):
    """Price of a bond whose cash flows are a dict {year: amount}, yield compounded yearly."""
    flows = {1: 5.0, 2: 5.0, 3: 5.0, 4: 5.0, 5: 105.0}
    price = 0.0
    for t, cf in flows.items():
        price += cf / (1.0 + y) ** t
    return price


@case(vector(4, 20.0, 60.0), on_list)
def irr_newton(inflows):
    """Internal rate of return of -100 now and the given yearly inflows, Newton's method."""
    flows = [-100.0] + inflows
    r = 0.1
    for _ in range(40):
        npv = sum(cf / (1 + r) ** t for t, cf in enumerate(flows))
        dnpv = sum(-t * cf / (1 + r) ** (t + 1) for t, cf in enumerate(flows))
        r -= npv / dnpv
    return r


@case(scalar(0.02, 0.12))
def amortisation_balance(rate):
    """Balance after 24 monthly payments of 900 on a 40 000 loan."""
    balance = 40000.0
    monthly = rate / 12
    for _month in range(24):
        interest = balance * monthly
        balance = balance + interest - 900.0
    return balance


@case(vector(2, 0.5, 1.5), on_list)
def continuous_compounding(p):
    """Continuously compounded growth, and the rate that doubles in a given time."""
    import math

    rate, years = 0.05 * p[0], 10.0 * p[1]
    grown = 1000.0 * math.exp(rate * years)
    doubling = math.log(2.0) / rate
    return grown + doubling
