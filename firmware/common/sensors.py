"""From raw probe samples to physical values: averaging and per-probe calibration."""


def trimmed_mean(samples):
    """Mean without the highest and lowest sample (ADC spikes), when there are enough."""
    n = len(samples)
    if n == 0:
        raise ValueError("no samples")
    if n >= 5:
        ordered = sorted(samples)
        samples = ordered[1:-1]
        n -= 2
    return sum(samples) / n


def vwc_percent(cal, mv):
    """Volumetric water content (%, clamped to 0..100) from a probe's mean millivolts."""
    if cal["type"] == "two_point":
        dry, wet = cal["dry_mv"], cal["wet_mv"]
        frac = (mv - dry) / (wet - dry)
        value = cal["vwc_dry"] + frac * (cal["vwc_wet"] - cal["vwc_dry"])
    else:
        # polynomial in volts: c0 + c1*V + c2*V^2 ... (Horner)
        v = mv / 1000.0
        value = 0.0
        for c in reversed(cal["coef"]):
            value = value * v + c
    if value < 0:
        return 0.0
    if value > 100:
        return 100.0
    return value
