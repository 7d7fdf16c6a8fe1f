-- Every message is in exactly one connection and one hour: the per-peer
-- and the hourly marts count the same messages and bytes.
with

by_connection as (
    select
        sum(total_msgs) as msgs,
        sum(total_payload_bytes) as payload_bytes
    from {{ ref('fct_peer_connections') }}
),

by_hour as (
    select
        sum(msgs) as msgs,
        sum(payload_bytes) as payload_bytes
    from {{ ref('fct_traffic_estimated_hourly') }}
)

select
    by_connection.msgs as connection_msgs,
    by_hour.msgs as hourly_msgs,
    by_connection.payload_bytes as connection_payload_bytes,
    by_hour.payload_bytes as hourly_payload_bytes
from by_connection
cross join by_hour
where
    by_connection.msgs != by_hour.msgs
    or by_connection.payload_bytes != by_hour.payload_bytes
