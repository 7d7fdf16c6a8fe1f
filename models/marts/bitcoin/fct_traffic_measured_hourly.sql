{{ traffic_measured('hour') }}
