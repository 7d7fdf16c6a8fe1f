{#- incremental (config in the YAML): the nodes and days with new rows -#}
{%- set changes = nodes_changed(
    [ref('stg_bitcoin_p2p__messages')], 'logged_at'
) -%}

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
        node_runs.node_run_id
    from messages
    inner join node_runs
        on
            messages.node_id = node_runs.node_id
            and messages.logged_at >= node_runs.started_at
            and messages.logged_at < coalesce(
                node_runs.ended_before, 'infinity'::timestamp
            )
),

aggregated as (
    select
        node_id,
        node_run_id,
        peer_id,
        peer_addr,
        -- functions of peer_addr: carried along, not grouped by (as group
        -- keys they tripled the cost of this step)
        any_value(peer_host) as peer_host,
        any_value(address_family) as address_family,
        bool_or(is_loopback) as is_loopback,
        peer_conn_type,
        flow,
        msg_type,
        date_trunc('hour', logged_at) as hour_at,
        count(*) as msgs,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        sum(segments) as segments,
        sum(tcpip_bytes) as tcpip_bytes,
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
        *
    from aggregated
)

select * from final
