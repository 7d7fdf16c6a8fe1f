with

messages as (
    select * from {{ ref('stg_bitcoin_p2p__messages') }}
    where is_plausible  -- the others are listed in fct_implausible_values
),

message_types as (
    select * from {{ ref('bitcoin_message_types') }}
),

short_id_types as (
    select msg_type
    from message_types
    where bip324_short_id is not null
),

transported as (
    select
        messages.*,
        -- one transport for every peer for now; a per-peer column later
        '{{ var("p2p_transport") }}' as p2p_transport,
        short_id_types.msg_type is not null as has_short_id
    from messages
    left join short_id_types
        on messages.msg_type = short_id_types.msg_type
),

final as (
    select
        node_id,
        logged_at,
        peer_id,
        peer_conn_type,
        peer_addr,
        peer_host,
        address_family,
        is_loopback,
        flow,
        is_inbound,
        msg_type,
        p2p_transport,
        has_short_id,
        {{ estimate_wire_bytes(
            'payload_bytes',
            'address_family',
            transport='p2p_transport',
            has_short_id='has_short_id',
        ) | indent(8) }},
        loaded_at
    from transported
)

select * from final
