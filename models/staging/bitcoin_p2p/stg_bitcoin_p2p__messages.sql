with

source as (
    {{ raw_rows('bitcoin_p2p', 'bitcoin_p2p_messages') }}
),

addressed as (
    select
        *,
        case
            -- preprocessed logs keep only whether the message went over IPv6
            when peer_addr is null and ipv6 then 'ipv6'
            when peer_addr is null and not ipv6 then 'ipv4'
            when peer_addr like '[fc%' then 'cjdns'
            when peer_addr like '[%' then 'ipv6'
            when peer_addr like '%.onion:%' then 'onion'
            when peer_addr like '%.i2p:%' then 'i2p'
            when
                {{ full_match('peer_addr', '\d{1,3}(\.\d{1,3}){3}:\d+') }}
                then 'ipv4'
            else 'unknown'
        end as address_family,
        -- host: everything before the last ':', IPv6 brackets dropped; an
        -- address without a port is its own host (regexp_extract is ~50x
        -- cheaper here than slicing with strpos/reverse)
        coalesce(
            nullif(regexp_extract(peer_addr, '^\[?(.*?)\]?:\d+$', 1), ''),
            peer_addr
        ) as peer_host,
        try_cast(
            regexp_extract(peer_addr, ':(\d+)$', 1) as integer
        ) as peer_port
    from source
),

checked as (
    select
        *,
        -- well-formed but impossible: kept out of every mart, listed in
        -- fct_implausible_values
        case
            when not {{ plausible_time('timestamp') }}
                then 'time outside the plausible range'
            when size < 0 then 'negative size'
            when size > {{ var('max_message_bytes') }}
                then 'size above max_message_bytes'
        end as implausible_reason
    from addressed
),

final as (
    select
        -- every row belongs to a node (rows loaded before nodes: default)
        coalesce(_node, 'default') as node_id,
        timestamp as logged_at,
        peer_id,
        peer_conn_type,
        peer_addr,
        peer_id is not null or peer_addr is not null as has_peer,
        peer_host,
        peer_port,
        address_family,
        peer_host = '127.0.0.1' or peer_host = '::1' as is_loopback,
        flow,
        flow = 'in' as is_inbound,
        msg_type,
        size as payload_bytes,
        implausible_reason is null as is_plausible,
        implausible_reason,
        _source_file as source_file,
        _loaded_at as loaded_at
    from checked
)

select * from final
