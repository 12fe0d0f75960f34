"""Names of segments, from their centroids by fixed rules (first rule that holds wins).

Each rule compares a centroid with the whole population in standard deviations (z) or with an absolute
bound, so a name says the same thing whatever the scale of the data:

- at-risk: trouble above the average, risk = z(churn signals) + z(open tickets) + z(abandoned sessions)
  + z(handoffs) - z(CSAT) - z(CES) > 1
- high-value: monthly or lifetime revenue more than 0.5 standard deviation above the average
- new: known for fewer than 30 days
- silent: no activity for more than 30 days
- engaged: product activity more than 0.5 standard deviation above the average
- steady: none of these
"""

from __future__ import annotations

from collections.abc import Mapping

RISK_UP = ("churn_signals_90d", "tickets_open", "abandoned_30d", "handoffs_90d")
RISK_DOWN = ("csat_mean_90d", "ces_mean_90d")
NEW_DAYS = 30.0
SILENT_DAYS = 30.0

DESCRIPTIONS = {
    "at-risk": "More churn signals, open tickets, abandoned conversations or handoffs, and lower "
    "satisfaction than the average customer",
    "high-value": "Revenue well above the average customer's",
    "new": f"Customers known for fewer than {NEW_DAYS:.0f} days",
    "silent": f"No activity for more than {SILENT_DAYS:.0f} days",
    "engaged": "More product activity than the average customer",
    "steady": "Close to the average customer on every feature",
}


def segment_name(centroid: Mapping[str, float], z: Mapping[str, float]) -> str:
    risk = sum(z.get(name, 0.0) for name in RISK_UP) - sum(z.get(name, 0.0) for name in RISK_DOWN)
    if risk > 1.0:
        return "at-risk"
    if max(z.get("monthly_revenue", 0.0), z.get("lifetime_revenue", 0.0)) > 0.5:
        return "high-value"
    if centroid.get("tenure_days", NEW_DAYS) < NEW_DAYS:
        return "new"
    if centroid.get("days_since_last_activity", 0.0) > SILENT_DAYS:
        return "silent"
    if z.get("activities_30d", 0.0) > 0.5:
        return "engaged"
    return "steady"


def unique_names(names: list[str]) -> list[str]:
    """One name for two clusters: the second is "at-risk 2", and so on, in the order given (largest first)."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return result
