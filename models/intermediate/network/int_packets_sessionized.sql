{%- set udp_idle_ns = var('udp_idle_timeout_seconds') * 1000000000 -%}
-- TCP/UDP packets with their connection: bidirectional 5-tuple per capture
-- file, split where a port pair is reused (see the model YAML for the rule).
with

packets as (
    select * from {{ ref('int_packets_windowed') }}
    where
        ip_proto in (6, 17)
        and src_port is not null
        and dst_port is not null
),

keyed as (
    select
        *,
        ip_proto = 6 and is_syn and not is_ack as is_pure_syn,
        ip_proto = 6 and (is_fin or is_rst) as is_close,
        case
            when
                src_addr < dst_addr
                or (src_addr = dst_addr and src_port <= dst_port)
                then src_addr
            else dst_addr
        end as a_addr,
        case
            when
                src_addr < dst_addr
                or (src_addr = dst_addr and src_port <= dst_port)
                then src_port
            else dst_port
        end as a_port,
        case
            when
                src_addr < dst_addr
                or (src_addr = dst_addr and src_port <= dst_port)
                then dst_addr
            else src_addr
        end as b_addr,
        case
            when
                src_addr < dst_addr
                or (src_addr = dst_addr and src_port <= dst_port)
                then dst_port
            else src_port
        end as b_port
    from packets
),

ordered as (
    select
        *,
        row_number() over flow as flow_packet_number,
        lag(ts_ns) over flow as prev_ts_ns,
        coalesce(sum(is_close::integer) over flow_before, 0) as closes_before
    from keyed
    -- both spelled out: Spark cannot add a frame to a named window
    window
        flow as (
            partition by capture_id, ip_proto, a_addr, a_port, b_addr, b_port
            order by frame_number
        ),
        flow_before as (
            partition by capture_id, ip_proto, a_addr, a_port, b_addr, b_port
            order by frame_number
            rows between unbounded preceding and 1 preceding
        )
),

syn_history as (
    select
        *,
        {{ ignore_nulls(
            'last_value', 'case when is_pure_syn then tcp_seq end'
        ) }} over flow as prev_syn_seq,
        {{ ignore_nulls(
            'last_value', 'case when is_pure_syn then closes_before end'
        ) }} over flow as prev_syn_closes_before,
        {{ ignore_nulls(
            'last_value',
            'case when ip_proto = 6 and is_syn and is_ack then tcp_ack end'
        ) }} over flow as prev_syn_ack_ack
    from ordered
    window flow as (
        partition by capture_id, ip_proto, a_addr, a_port, b_addr, b_port
        order by frame_number
        rows between unbounded preceding and 1 preceding
    )
),

split as (
    select
        *,
        flow_packet_number = 1
        or (ip_proto = 17 and ts_ns - prev_ts_ns > {{ udp_idle_ns }})
        or (
            is_pure_syn
            and case
                -- mid-stream packets before: new unless they answer this SYN
                when prev_syn_seq is null
                    then
                        closes_before > 0
                        or prev_syn_ack_ack is distinct from
                        (tcp_seq + 1) % 4294967296
                else
                    prev_syn_seq != tcp_seq
                    or closes_before > prev_syn_closes_before
            end
        ) as is_connection_start
    from syn_history
),

numbered as (
    select
        *,
        sum(is_connection_start::integer) over (
            partition by capture_id, ip_proto, a_addr, a_port, b_addr, b_port
            order by frame_number
            rows between unbounded preceding and current row
        ) as connection_number
    from split
),

identified as (
    select
        {{ star_except([
            'prev_ts_ns', 'closes_before', 'prev_syn_seq',
            'prev_syn_closes_before', 'prev_syn_ack_ack',
        ]) }},
        md5(
            concat_ws(
                '|', capture_id, ip_proto, a_addr, a_port, b_addr, b_port,
                connection_number
            )
        ) as connection_id
    from numbered
),

-- the originator: the sender of the connection's first pure SYN, else the
-- receiver of its first SYN-ACK, else the sender of its first packet
originators as (
    select
        connection_id,
        bool_or(is_pure_syn) as has_syn,
        bool_or(ip_proto = 6 and is_syn and is_ack) as has_syn_ack,
        min_by(src_addr, frame_number) filter (where is_pure_syn) as syn_addr,
        min_by(src_port, frame_number) filter (where is_pure_syn) as syn_port,
        min_by(dst_addr, frame_number) filter (
            where ip_proto = 6 and is_syn and is_ack
        ) as syn_ack_addr,
        min_by(dst_port, frame_number) filter (
            where ip_proto = 6 and is_syn and is_ack
        ) as syn_ack_port,
        min_by(src_addr, frame_number) as first_addr,
        min_by(src_port, frame_number) as first_port
    from identified
    group by all
),

originator_columns as (
    select
        connection_id,
        case
            when has_syn then syn_addr
            when has_syn_ack then syn_ack_addr
            else first_addr
        end as orig_addr,
        case
            when has_syn then syn_port
            when has_syn_ack then syn_ack_port
            else first_port
        end as orig_port,
        case
            when has_syn then 'syn'
            when has_syn_ack then 'syn_ack'
            else 'first_packet'
        end as originator_rule
    from originators
),

final as (
    select
        identified.*,
        originator_columns.orig_addr,
        originator_columns.orig_port,
        originator_columns.originator_rule,
        identified.src_addr = originator_columns.orig_addr
        and identified.src_port = originator_columns.orig_port as is_orig
    from identified
    inner join originator_columns
        on identified.connection_id = originator_columns.connection_id
)

select * from final
