with

messages as (
    select * from {{ ref('int_wire_messages_measured') }}
),

grouped as (
    select
        capture_id,
        node_id,
        source_file,
        stream_id,
        connection_seq,
        orig_addr,
        orig_port,
        resp_addr,
        resp_port,
        is_from_orig,
        network,
        msg_type,
        count(*) as messages,
        count(*) filter (where not is_complete) as incomplete_messages,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        sum(ip_bytes) as data_ip_bytes,
        sum(ack_packets) as ack_packets,
        sum(ack_ip_bytes) as ack_ip_bytes,
        sum(tcpip_bytes) as tcpip_bytes,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from messages
    group by all
),

final as (
    select
        capture_id::string as capture_id,
        node_id::string as node_id,
        source_file::string as source_file,
        stream_id::string as stream_id,
        connection_seq::integer as connection_seq,
        orig_addr::string as orig_addr,
        orig_port::integer as orig_port,
        resp_addr::string as resp_addr,
        resp_port::integer as resp_port,
        is_from_orig::boolean as is_from_orig,
        network::string as network,
        msg_type::string as msg_type,
        messages::bigint as messages,
        incomplete_messages::bigint as incomplete_messages,
        payload_bytes::bigint as payload_bytes,
        message_bytes::bigint as message_bytes,
        data_ip_bytes::bigint as data_ip_bytes,
        ack_packets::bigint as ack_packets,
        ack_ip_bytes::bigint as ack_ip_bytes,
        tcpip_bytes::bigint as tcpip_bytes,
        (tcpip_bytes / nullif(payload_bytes, 0))::double
            as tcpip_per_payload_byte,
        first_seen_at::timestamp as first_seen_at,
        last_seen_at::timestamp as last_seen_at
    from grouped
)

select * from final
