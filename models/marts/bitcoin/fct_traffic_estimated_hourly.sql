with

connection_messages as (
    select * from {{ ref('int_connection_messages_aggregated') }}
),

rolled_up as (
    select
        hour_at,
        flow,
        msg_type,
        sum(msgs) as msgs,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        sum(segments) as segments,
        sum(tcpip_bytes) as tcpip_bytes
    from connection_messages
    group by all
),

final as (
    select
        hour_at::timestamp as hour_at,
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
