{{ traffic_reconciled('day') }}
