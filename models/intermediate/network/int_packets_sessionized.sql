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
        coalesce(
            sum(is_close::integer) over (
                flow rows between unbounded preceding and 1 preceding
            ),
            0
        ) as closes_before
    from keyed
    window flow as (
        partition by capture_id, ip_proto, a_addr, a_port, b_addr, b_port
        order by frame_number
    )
),

syn_history as (
    select
        *,
        last_value(
            case when is_pure_syn then tcp_seq end ignore nulls
        ) over flow as prev_syn_seq,
        last_value(
            case when is_pure_syn then closes_before end ignore nulls
        ) over flow as prev_syn_closes_before,
        last_value(
            case when ip_proto = 6 and is_syn and is_ack then tcp_ack end
            ignore nulls
        ) over flow as prev_syn_ack_ack
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
        * exclude (
            prev_ts_ns, closes_before, prev_syn_seq, prev_syn_closes_before,
            prev_syn_ack_ack
        ),
        md5(
            concat_ws(
                '|', capture_id, ip_proto, a_addr, a_port, b_addr, b_port,
                connection_number
            )
        ) as connection_id
    from numbered
),

originators as (
    select
        connection_id,
        coalesce(
            arg_min(
                struct_pack(addr := src_addr, port := src_port, rule := 'syn'),
                frame_number
            ) filter (where is_pure_syn),
            arg_min(
                struct_pack(
                    addr := dst_addr, port := dst_port, rule := 'syn_ack'
                ),
                frame_number
            ) filter (where ip_proto = 6 and is_syn and is_ack),
            arg_min(
                struct_pack(
                    addr := src_addr, port := src_port, rule := 'first_packet'
                ),
                frame_number
            )
        ) as orig
    from identified
    group by all
),

originator_columns as (
    select
        originators.connection_id,
        orig.addr as orig_addr,
        orig.port as orig_port,
        orig.rule as originator_rule
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
