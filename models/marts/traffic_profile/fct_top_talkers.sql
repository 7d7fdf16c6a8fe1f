-- Ties in bytes are broken by packets, then by address text, so the ranks
-- are the same on every run.
with

packets as (
    select * from {{ ref('int_packets_unioned') }}
),

capture_totals as (
    select
        capture_id,
        coalesce(sum(wire_bytes), 0) as capture_bytes
    from packets
    group by all
),

ip_packets as (
    select * from packets
    where src_addr is not null and dst_addr is not null
),

by_role as (
    select
        capture_id,
        'source' as talker_role,
        src_addr,
        null as dst_addr,
        count(*) as packets,
        coalesce(sum(wire_bytes), 0) as wire_bytes
    from ip_packets
    group by all

    union all

    select
        capture_id,
        'destination' as talker_role,
        null as src_addr,
        dst_addr,
        count(*) as packets,
        coalesce(sum(wire_bytes), 0) as wire_bytes
    from ip_packets
    group by all

    union all

    select
        capture_id,
        'pair' as talker_role,
        src_addr,
        dst_addr,
        count(*) as packets,
        coalesce(sum(wire_bytes), 0) as wire_bytes
    from ip_packets
    group by all
),

ranked as (
    select
        *,
        row_number() over (
            partition by capture_id, talker_role
            order by
                wire_bytes desc, packets desc,
                src_addr asc nulls first, dst_addr asc nulls first
        ) as talker_rank
    from by_role
    qualify talker_rank <= {{ var('top_talkers_n') }}
),

final as (
    select
        ranked.capture_id::string as capture_id,
        ranked.talker_role::string as talker_role,
        ranked.talker_rank::bigint as talker_rank,
        ranked.src_addr::string as src_addr,
        ranked.dst_addr::string as dst_addr,
        ranked.packets::bigint as packets,
        ranked.wire_bytes::bigint as wire_bytes,
        (ranked.wire_bytes / nullif(capture_totals.capture_bytes, 0))::double
            as share_of_bytes
    from ranked
    inner join capture_totals
        on ranked.capture_id = capture_totals.capture_id
)

select * from final
