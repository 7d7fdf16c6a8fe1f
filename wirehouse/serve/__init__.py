"""What users read: the published read-only copy, ad-hoc queries and the chart report."""

# here, not in report/, so that checking for the page does not import the charting stack
REPORT_NAME = "report.html"
