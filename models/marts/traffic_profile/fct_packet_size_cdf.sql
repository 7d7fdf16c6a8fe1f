-- The empirical CDF: one point per packet size that occurs.
with

packets as (
    select * from {{ ref('int_packets_unioned') }}
    where wire_bytes is not null
),

sizes as (
    select
        capture_id,
        wire_bytes,
        count(*) as packets
    from packets
    group by all
),

cumulated as (
    select
        *,
        sum(packets) over (partition by capture_id) as capture_packets,
        sum(packets) over (
            partition by capture_id
            order by wire_bytes
            rows between unbounded preceding and current row
        ) as cumulative_packets
    from sizes
),

final as (
    select
        capture_id::string as capture_id,
        wire_bytes::bigint as wire_bytes,
        packets::bigint as packets,
        (packets / capture_packets)::double as packet_share,
        cumulative_packets::bigint as cumulative_packets,
        (cumulative_packets / capture_packets)::double as cumulative_share
    from cumulated
)

select * from final
