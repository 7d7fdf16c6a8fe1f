{{ traffic_measured('day') }}
