-- The on-wire estimate can never be smaller than what it estimates.
select *
from {{ ref('fct_traffic_estimated_hourly') }}
where
    message_bytes < payload_bytes
    or tcpip_bytes < message_bytes
    or segments < msgs
