{{ traffic_estimated('hour') }}
