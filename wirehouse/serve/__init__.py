"""What users read: the published read-only copy, ad-hoc queries and the chart report."""
