-- Every message with a peer is in exactly one connection and one hour: the
-- per-peer and the hourly marts count the same messages and bytes, apart
-- from messages of preprocessed logs, which name no peer.
with

without_peer as (
    select
        coalesce(sum(msgs), 0) as msgs,
        coalesce(sum(payload_bytes), 0) as payload_bytes
    from {{ ref('int_connection_messages_aggregated') }}
    where connection_id is null
),

by_connection as (
    select
        sum(total_msgs) as msgs,
        sum(total_payload_bytes) as payload_bytes
    from {{ ref('fct_peer_connections') }}
),

by_hour as (
    select
        sum(hourly.msgs) - any_value(without_peer.msgs) as msgs,
        sum(hourly.payload_bytes) - any_value(without_peer.payload_bytes)
            as payload_bytes
    from {{ ref('fct_traffic_estimated_hourly') }} as hourly
    cross join without_peer
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
