-- peer_host is dropped (the pseudonym of peer_addr stands for it) and the
-- connection id is rebuilt from the pseudonym: the original embeds the address.
with

peers as (
    select * from {{ ref('dim_peers') }}
),

pseudonymised as (
    select
        *,
        {{ pseudonymise('peer_addr') }} as peer_pseudonym
    from peers
),

final as (
    select
        concat_ws('-', node_run_id, peer_id, peer_pseudonym)::string
            as connection_id,
        node_run_id::integer as node_run_id,
        peer_id::bigint as peer_id,
        peer_pseudonym::string as peer_addr,
        address_family::string as address_family,
        is_loopback::boolean as is_loopback,
        peer_conn_type::string as peer_conn_type,
        is_inbound_connection::boolean as is_inbound_connection,
        first_message_at::timestamp as first_message_at,
        last_message_at::timestamp as last_message_at,
        connection_seconds::bigint as connection_seconds,
        is_long_connection::boolean as is_long_connection,
        in_inv_msgs::bigint as in_inv_msgs,
        in_bloom_filter_msgs::bigint as in_bloom_filter_msgs,
        is_spv_client::boolean as is_spv_client,
        is_zero_inv_peer::boolean as is_zero_inv_peer
    from pseudonymised
)

select * from final
