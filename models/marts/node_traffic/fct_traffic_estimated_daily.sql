{{ traffic_estimated('day') }}
