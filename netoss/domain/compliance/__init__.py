"""Configuration compliance in the portal: the runs the compliance job posts, their history,
their alarms, and the views the API, the pages and ``netoss compliance report`` share.

    record_run(payload, user)   validate and store a run; the alarm events it calls for
    latest(device=None)         each device's results in the latest run that included it
    latest_page(filters, …)     the same, filtered and a page at a time (Filters)
    history(device, feature)    a device's results run after run, newest first (history_page: paged)
    over_time(days)             the percentage of each run, for the chart
    heatmap()                   devices x features of the latest results, a page at a time
    run_report(run_id)          a run with every device, feature and rule detail
    overview(days, device)      the fleet now, its percentage, and the series over time
    fleet()                     the counts of the latest results, and their percentage
"""

from __future__ import annotations

from netoss.domain.compliance.alarms import alarm_events, queue, specific_problem
from netoss.domain.compliance.runs import (
    Filters,
    InvalidFilter,
    InvalidRun,
    Recorded,
    count_runs,
    fleet,
    heatmap,
    history,
    history_page,
    latest,
    latest_page,
    list_runs,
    natural,
    over_time,
    overview,
    record_run,
    run_report,
    summarize,
    validate,
)
from netoss.domain.compliance.schema import STATUSES

__all__ = [
    "STATUSES",
    "Filters",
    "InvalidFilter",
    "InvalidRun",
    "Recorded",
    "alarm_events",
    "count_runs",
    "fleet",
    "heatmap",
    "history",
    "history_page",
    "latest",
    "latest_page",
    "list_runs",
    "natural",
    "over_time",
    "overview",
    "queue",
    "record_run",
    "run_report",
    "specific_problem",
    "summarize",
    "validate",
]
