with

hourly as (
    select * from {{ ref('fct_traffic_estimated_hourly') }}
),

rolled_up as (
    -- sums of the hourly sums: the same numbers as summing the messages
    select
        hour_at::date as traffic_date,
        flow,
        msg_type,
        sum(msgs) as msgs,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        sum(segments) as segments,
        sum(tcpip_bytes) as tcpip_bytes
    from hourly
    group by all
),

final as (
    select
        traffic_date::date as traffic_date,
        flow::varchar as flow,
        msg_type::varchar as msg_type,
        msgs::bigint as msgs,
        payload_bytes::bigint as payload_bytes,
        message_bytes::bigint as message_bytes,
        segments::bigint as segments,
        tcpip_bytes::double as tcpip_bytes
    from rolled_up
)

select * from final
