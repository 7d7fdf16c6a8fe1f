{#- incremental (partition_by node_id): as fct_peer_connections -#}
{%- set changes = nodes_changed('messages') -%}

with

connections as (
    select * from {{ ref('fct_peer_connections') }}
    where {{ rebuilt_rows(changes) }}
),

telling_messages as (
    -- the messages a peer sent us that classify it
    select * from {{ ref('int_connection_messages_aggregated') }}
    where
        flow = 'in'
        and msg_type in ('inv', 'filterload', 'filteradd')
        and {{ rebuilt_rows(changes) }}
),

received_counts as (
    select
        connection_id,
        coalesce(sum(msgs) filter (where msg_type = 'inv'), 0) as inv_msgs,
        coalesce(
            sum(msgs) filter (where msg_type in ('filterload', 'filteradd')),
            0
        ) as bloom_filter_msgs
    from telling_messages
    group by all
),

classified as (
    select
        connections.*,
        coalesce(received_counts.inv_msgs, 0) as in_inv_msgs,
        coalesce(received_counts.bloom_filter_msgs, 0)
            as in_bloom_filter_msgs,
        coalesce(received_counts.bloom_filter_msgs, 0) > 0 as is_spv_client,
        -- block-relay-only connections never announce transactions
        connections.is_long_connection
        and connections.peer_conn_type != 'block-relay-only'
        and coalesce(received_counts.inv_msgs, 0) = 0 as is_zero_inv_peer,
        -- the notebook's rule: no inv from a long connection, of any type
        connections.is_long_connection
        and coalesce(received_counts.inv_msgs, 0) = 0
            as is_zero_inv_peer_notebook
    from connections
    left join received_counts
        on connections.connection_id = received_counts.connection_id
),

final as (
    select
        {{ peer_connection_key_columns() }},
        (peer_conn_type = 'inbound')::boolean as is_inbound_connection,
        is_long_connection::boolean as is_long_connection,
        in_inv_msgs::bigint as in_inv_msgs,
        in_bloom_filter_msgs::bigint as in_bloom_filter_msgs,
        is_spv_client::boolean as is_spv_client,
        is_zero_inv_peer::boolean as is_zero_inv_peer,
        is_zero_inv_peer_notebook::boolean as is_zero_inv_peer_notebook,
        loaded_at::timestamp as loaded_at
    from classified
)

select * from final
