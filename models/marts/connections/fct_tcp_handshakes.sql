with

tcp_packets as (
    select * from {{ ref('int_tcp_packets_analyzed') }}
),

connections as (
    select * from {{ ref('fct_connections') }}
),

marked as (
    select
        connection_id,
        frame_number,
        ts_ns,
        first_rtt_ns,
        is_pure_syn and is_orig as is_syn,
        is_syn and is_ack and not is_orig as is_syn_ack,
        is_ack and not is_syn and is_orig as is_orig_ack
    from tcp_packets
),

firsts as (
    select
        connection_id,
        any_value(first_rtt_ns) as initial_rtt_ns,
        count(*) filter (where is_syn) as syn_packets,
        count(*) filter (where is_syn_ack) as syn_ack_packets,
        min(frame_number) filter (where is_syn_ack) as syn_ack_frame_number
    from marked
    group by all
),

-- the SYN answered by the first SYN-ACK is the last one before it
syn_ack_leg as (
    select
        firsts.connection_id,
        max(marked.ts_ns) filter (
            where marked.is_syn
            and marked.frame_number < firsts.syn_ack_frame_number
        ) as answered_syn_ts_ns,
        min(marked.ts_ns) filter (
            where marked.frame_number = firsts.syn_ack_frame_number
        ) as syn_ack_ts_ns,
        min(marked.frame_number) filter (
            where marked.is_orig_ack
            and marked.frame_number > firsts.syn_ack_frame_number
        ) as ack_frame_number
    from firsts
    inner join marked
        on firsts.connection_id = marked.connection_id
    group by all
),

ack_leg as (
    select
        syn_ack_leg.connection_id,
        min(marked.ts_ns) filter (
            where marked.frame_number = syn_ack_leg.ack_frame_number
        ) as ack_ts_ns,
        max(marked.ts_ns) filter (
            where marked.is_syn_ack
            and marked.frame_number < syn_ack_leg.ack_frame_number
        ) as acked_syn_ack_ts_ns,
        max(marked.ts_ns) filter (
            where marked.is_syn
            and marked.frame_number < syn_ack_leg.ack_frame_number
        ) as last_syn_ts_ns
    from syn_ack_leg
    inner join marked
        on syn_ack_leg.connection_id = marked.connection_id
    group by all
),

final as (
    select
        {{ connection_key_columns('connections') }},
        firsts.syn_packets::bigint as syn_packets,
        firsts.syn_ack_packets::bigint as syn_ack_packets,
        ((syn_ack_leg.syn_ack_ts_ns - syn_ack_leg.answered_syn_ts_ns) / 1e6)
        ::double as syn_to_syn_ack_ms,
        ((ack_leg.ack_ts_ns - ack_leg.acked_syn_ack_ts_ns) / 1e6)::double
            as syn_ack_to_ack_ms,
        ((ack_leg.ack_ts_ns - ack_leg.last_syn_ts_ns) / 1e6)::double
            as syn_to_ack_ms,
        (nullif(firsts.initial_rtt_ns, 0) / 1e6)::double as initial_rtt_ms
    from connections
    inner join firsts
        on connections.connection_id = firsts.connection_id
    left join syn_ack_leg
        on connections.connection_id = syn_ack_leg.connection_id
    left join ack_leg
        on connections.connection_id = ack_leg.connection_id
    where firsts.syn_packets > 0 or firsts.syn_ack_packets > 0
)

select * from final
