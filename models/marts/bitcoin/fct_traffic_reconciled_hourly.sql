{{ traffic_reconciled('hour') }}
