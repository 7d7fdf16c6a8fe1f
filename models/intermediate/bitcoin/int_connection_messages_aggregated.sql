{#- incremental (config in the YAML): the nodes and days with new rows -#}
{%- set changes = nodes_changed('messages') -%}

with

messages as (
    select * from {{ ref('int_messages_estimated') }}
    where {{ rebuilt_rows(changes, 'logged_at') }}
),

node_runs as (
    select * from {{ ref('int_node_runs_detected') }}
),

assigned as (
    -- every message belongs to the node run whose time range holds it;
    -- node_runs is a small table, so the join builds on it (an equality
    -- join on the hour built its hash table on the messages: 19 GB at 100 M)
    select
        messages.*,
        node_runs.node_run_id,
        date_trunc('hour', messages.logged_at) as hour_at,
        -- a message without an address (preprocessed logs) keys by family
        coalesce(messages.peer_addr, messages.address_family) as peer_key
    from messages
    inner join node_runs
        on
            messages.node_id = node_runs.node_id
            and messages.logged_at >= node_runs.started_at
            and messages.logged_at < coalesce(
                node_runs.ended_before, {{ timestamp_infinity() }}
            )
),

aggregated as (
    -- peer_addr and what derives from it are carried along, grouped by
    -- peer_key: as group keys they tripled the cost of this step
    select
        node_id,
        node_run_id,
        peer_id,
        peer_key,
        any_value(peer_addr) as peer_addr,
        any_value(peer_host) as peer_host,
        any_value(address_family) as address_family,
        bool_or(is_loopback) as is_loopback,
        peer_conn_type,
        flow,
        msg_type,
        hour_at,
        count(*) as msgs,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        sum(segments) as segments,
        {{ exact_sum('tcpip_bytes') }} as tcpip_bytes,
        min(logged_at) as first_logged_at,
        max(logged_at) as last_logged_at,
        max(loaded_at) as loaded_at
    from assigned
    group by all
),

final as (
    select
        -- one bitcoind run never reuses a peer id; runs tell restarts apart;
        -- preprocessed logs carry no peer: their messages have no connection
        case
            when peer_id is not null
                then concat_ws('-', node_id, node_run_id, peer_id, peer_addr)
        end as connection_id,
        node_id,
        node_run_id,
        peer_id,
        peer_addr,
        peer_host,
        address_family,
        is_loopback,
        peer_conn_type,
        flow,
        msg_type,
        hour_at,
        msgs,
        payload_bytes,
        message_bytes,
        segments,
        tcpip_bytes,
        first_logged_at,
        last_logged_at,
        loaded_at
    from aggregated
)

select * from final
