with

packets as (
    select * from {{ ref('int_packets_sessionized') }}
),

tcp_packets as (
    select * from {{ ref('int_tcp_packets_analyzed') }}
),

flagged as (
    select
        packets.*,
        coalesce(tcp_packets.is_retransmission, false) as is_retransmission,
        coalesce(tcp_packets.is_zero_window, false) as is_zero_window
    from packets
    left join tcp_packets
        on
            packets.source_file = tcp_packets.source_file
            and packets.frame_number = tcp_packets.frame_number
),

-- Zeek history letters of each packet (upper case = originator), one row
-- per letter the packet has
lettered as (
    select
        connection_id,
        frame_number,
        is_orig,
        {{ unnest_list([
            "case when is_pure_syn then 'S' end",
            "case when ip_proto = 6 and is_syn and is_ack then 'H' end",
            "case when ip_proto = 6 and is_ack and payload_bytes = 0"
            ~ " and not (is_syn or is_fin or is_rst) then 'A' end",
            "case when payload_bytes > 0 then 'D' end",
            "case when ip_proto = 6 and is_fin then 'F' end",
            "case when ip_proto = 6 and is_rst then 'R' end",
            "case when is_retransmission then 'T' end",
            "case when is_zero_window then 'W' end",
        ]) }} as letter
    from flagged
),

letter_firsts as (
    select
        connection_id,
        case when is_orig then upper(letter) else lower(letter) end
            as history_letter,
        min(frame_number) as first_frame_number
    from lettered
    where letter is not null
    group by all
),

histories as (
    select
        connection_id,
        {{ string_agg_ordered(
            'history_letter', "''", 'first_frame_number, history_letter'
        ) }} as history
    from letter_firsts
    group by all
),

connections as (
    select
        connection_id,
        any_value(capture_id) as capture_id,
        any_value(source_file) as source_file,
        any_value(ip_proto) as ip_proto,
        any_value(orig_addr) as orig_addr,
        any_value(orig_port) as orig_port,
        any_value(case when is_orig then dst_addr else src_addr end)
            as resp_addr,
        any_value(case when is_orig then dst_port else src_port end)
            as resp_port,
        any_value(originator_rule) as originator_rule,
        any_value(ip_version) as ip_version,
        min(frame_number) as first_frame_number,
        max(frame_number) as last_frame_number,
        min(ts_ns) as first_ts_ns,
        max(ts_ns) as last_ts_ns,
        count(*) filter (where is_orig) as orig_packets,
        count(*) filter (where not is_orig) as resp_packets,
        coalesce(sum(payload_bytes) filter (where is_orig), 0) as orig_bytes,
        coalesce(sum(payload_bytes) filter (where not is_orig), 0)
            as resp_bytes,
        coalesce(sum(ip_bytes) filter (where is_orig), 0) as orig_ip_bytes,
        coalesce(sum(ip_bytes) filter (where not is_orig), 0)
            as resp_ip_bytes,
        bool_or(is_pure_syn and is_orig) as has_orig_syn,
        bool_or(ip_proto = 6 and is_syn and is_ack and not is_orig)
            as has_resp_syn_ack,
        bool_or(ip_proto = 6 and is_fin and is_orig) as has_orig_fin,
        bool_or(ip_proto = 6 and is_fin and not is_orig) as has_resp_fin,
        bool_or(ip_proto = 6 and is_rst and is_orig) as has_orig_rst,
        bool_or(ip_proto = 6 and is_rst and not is_orig) as has_resp_rst,
        min(ts_ns) filter (where ip_proto = 6 and is_fin and is_orig)
            as orig_fin_ts_ns,
        min(ts_ns) filter (where ip_proto = 6 and is_fin and not is_orig)
            as resp_fin_ts_ns
    from flagged
    group by all
),

historied as (
    select
        connections.*,
        (
            case
                when connections.originator_rule = 'syn_ack' then '^' else ''
            end
            || coalesce(histories.history, '')
        ) as history
    from connections
    left join histories
        on connections.connection_id = histories.connection_id
),

-- Zeek's conn_state (function conn_state in base/protocols/conn/main.zeek),
-- in its order, from each endpoint's last state as its TCP analyzer leaves
-- it: reset (sent a RST), closed (sent a FIN), inactive or partial (sent
-- nothing, or only mid-stream packets: the originator no SYN, the responder
-- no SYN-ACK)
states as (
    select
        *,
        case
            when ip_proto = 17
                then case when resp_packets > 0 then 'SF' else 'S0' end
            when has_resp_rst
                then case
                    when
                        (
                            has_orig_syn and not has_resp_syn_ack
                            and not has_orig_rst and not has_orig_fin
                        )
                        or (has_orig_rst and orig_bytes = 0 and resp_bytes = 0)
                        then 'REJ'
                    when not (has_orig_syn or has_orig_rst or has_orig_fin)
                        then 'RSTRH'
                    else 'RSTR'
                end
            when has_orig_rst
                then case
                    when not (has_resp_syn_ack or has_resp_fin)
                        then case
                            -- Zeek: /^?S[^HAFGIQ]*R.*/ on the history
                            when
                                {{ full_match('history', '\^?S[^HAFGIQ]*R.*') }}
                                then 'RSTOS0'
                            else 'OTH'
                        end
                    else 'RSTO'
                end
            when has_orig_fin and has_resp_fin then 'SF'
            when has_orig_fin
                then case when has_resp_syn_ack then 'S2' else 'SH' end
            when has_resp_fin
                then case when has_orig_syn then 'S3' else 'SHR' end
            when has_orig_syn and resp_packets = 0 then 'S0'
            when has_orig_syn and has_resp_syn_ack then 'S1'
            else 'OTH'
        end as conn_state,
        -- Zeek stops a connection's clock once both sides have sent a FIN
        -- (packets after it, such as the last ACK, do not lengthen it)
        case
            when orig_fin_ts_ns is not null and resp_fin_ts_ns is not null
                then greatest(orig_fin_ts_ns, resp_fin_ts_ns)
            else last_ts_ns
        end as zeek_last_ts_ns
    from historied
),

final as (
    select
        states.connection_id::string as connection_id,
        states.capture_id::string as capture_id,
        states.source_file::string as source_file,
        states.first_frame_number::bigint as first_frame_number,
        states.last_frame_number::bigint as last_frame_number,
        case states.ip_proto when 6 then 'tcp' else 'udp' end::string
            as proto,
        states.ip_proto::integer as ip_proto,
        states.ip_version::integer as ip_version,
        states.orig_addr::string as orig_addr,
        states.orig_port::integer as orig_port,
        states.resp_addr::string as resp_addr,
        states.resp_port::integer as resp_port,
        states.originator_rule::string as originator_rule,
        {{ community_id(
            'states.orig_addr', 'states.resp_addr', 'states.ip_proto',
            'states.orig_port', 'states.resp_port'
        ) }}::string as community_id,
        {{ timestamp_from_us(int_div('states.first_ts_ns', 1000)) }}::timestamp
            as started_at,
        {{ timestamp_from_us(int_div('states.last_ts_ns', 1000)) }}::timestamp
            as ended_at,
        ((states.zeek_last_ts_ns - states.first_ts_ns) / 1e9)::double
            as duration_seconds,
        states.orig_packets::bigint as orig_packets,
        states.resp_packets::bigint as resp_packets,
        states.orig_bytes::bigint as orig_bytes,
        states.resp_bytes::bigint as resp_bytes,
        states.orig_ip_bytes::bigint as orig_ip_bytes,
        states.resp_ip_bytes::bigint as resp_ip_bytes,
        states.conn_state::string as conn_state,
        states.history::string as history
    from states
)

select * from final
