-- Bitcoin P2P messages seen on the wire with the pure ACKs sent back for them:
-- an ACK-only packet is attributed to the latest message of the opposite
-- direction of its connection that had begun before it.
with

messages as (
    select * from {{ ref('stg_pcap__bitcoin_messages') }}
),

packets as (
    select * from {{ ref('stg_pcap__packets') }}
),

endpoints as (
    select
        capture_id,
        orig_addr,
        orig_port,
        resp_addr,
        resp_port,
        min(first_ts_ns) as first_ts_ns
    from messages
    group by all
),

pure_acks as (
    select
        capture_id,
        ts_ns,
        src_addr,
        src_port,
        dst_addr,
        dst_port,
        ip_bytes
    from packets
    where
        ip_proto = 6
        and payload_bytes = 0
        and is_ack
        and not (is_syn or is_fin or is_rst)
),

-- an ACK from resp acknowledges what orig sent, and the other way round
acks as (
    select
        pure_acks.capture_id,
        pure_acks.ts_ns,
        pure_acks.ip_bytes,
        endpoints.orig_addr,
        endpoints.orig_port,
        endpoints.resp_addr,
        endpoints.resp_port,
        true as acks_orig
    from pure_acks
    inner join endpoints
        on
            pure_acks.capture_id = endpoints.capture_id
            and pure_acks.src_addr = endpoints.resp_addr
            and pure_acks.src_port = endpoints.resp_port
            and pure_acks.dst_addr = endpoints.orig_addr
            and pure_acks.dst_port = endpoints.orig_port
    where pure_acks.ts_ns >= endpoints.first_ts_ns
    union all
    select
        pure_acks.capture_id,
        pure_acks.ts_ns,
        pure_acks.ip_bytes,
        endpoints.orig_addr,
        endpoints.orig_port,
        endpoints.resp_addr,
        endpoints.resp_port,
        false as acks_orig
    from pure_acks
    inner join endpoints
        on
            pure_acks.capture_id = endpoints.capture_id
            and pure_acks.src_addr = endpoints.orig_addr
            and pure_acks.src_port = endpoints.orig_port
            and pure_acks.dst_addr = endpoints.resp_addr
            and pure_acks.dst_port = endpoints.resp_port
    where pure_acks.ts_ns >= endpoints.first_ts_ns
),

attributed as (
    select
        messages.capture_id,
        messages.stream_id,
        messages.is_from_orig,
        messages.message_index,
        acks.ip_bytes
    from acks
    asof inner join messages
        on
            acks.capture_id = messages.capture_id
            and acks.orig_addr = messages.orig_addr
            and acks.orig_port = messages.orig_port
            and acks.resp_addr = messages.resp_addr
            and acks.resp_port = messages.resp_port
            and acks.acks_orig = messages.is_from_orig
            and acks.ts_ns >= messages.first_ts_ns
),

per_message as (
    select
        capture_id,
        stream_id,
        is_from_orig,
        message_index,
        count(*) as ack_packets,
        sum(ip_bytes) as ack_ip_bytes
    from attributed
    group by all
),

final as (
    select
        messages.*,
        coalesce(per_message.ack_packets, 0) as ack_packets,
        coalesce(per_message.ack_ip_bytes, 0) as ack_ip_bytes,
        messages.ip_bytes + coalesce(per_message.ack_ip_bytes, 0) as tcpip_bytes
    from messages
    left join per_message
        on
            messages.capture_id = per_message.capture_id
            and messages.stream_id = per_message.stream_id
            and messages.is_from_orig = per_message.is_from_orig
            and messages.message_index = per_message.message_index
)

select * from final
