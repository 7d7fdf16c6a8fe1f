{#- incremental (partition_by node_id): as fct_peer_connections -#}
{%- set changes = nodes_changed('messages') -%}

with

connection_messages as (
    select * from {{ ref('int_connection_messages_aggregated') }}
    where {{ rebuilt_rows(changes) }}
),

connections as (
    select * from {{ ref('fct_peer_connections') }}
    where {{ rebuilt_rows(changes) }}
),

received as (
    -- messages the peer sent us, over connections long enough to judge
    select
        connection_messages.connection_id,
        connection_messages.msg_type,
        sum(connection_messages.msgs) as msgs,
        {{ exact_sum('connection_messages.tcpip_bytes') }} as tcpip_bytes,
        max(connection_messages.loaded_at) as loaded_at
    from connection_messages
    inner join connections
        on connection_messages.connection_id = connections.connection_id
    where
        connection_messages.flow = 'in'
        and connections.is_long_connection
    group by all
),

shared as (
    select
        *,
        msgs / sum(msgs) over (partition by connection_id) as msg_share,
        tcpip_bytes / nullif(
            sum(
                tcpip_bytes::decimal(38, 9)
            ) over (partition by connection_id)::double,
            0
        ) as tcpip_bytes_share
    from received
),

final as (
    select
        shared.connection_id::string as connection_id,
        connections.node_id::string as node_id,
        connections.node_run_id::integer as node_run_id,
        connections.peer_id::bigint as peer_id,
        connections.peer_addr::string as peer_addr,
        connections.peer_conn_type::string as peer_conn_type,
        shared.msg_type::string as msg_type,
        shared.msgs::bigint as msgs,
        shared.msg_share::double as msg_share,
        shared.tcpip_bytes::double as tcpip_bytes,
        shared.tcpip_bytes_share::double as tcpip_bytes_share,
        shared.loaded_at::timestamp as loaded_at
    from shared
    inner join connections
        on shared.connection_id = connections.connection_id
)

select * from final
