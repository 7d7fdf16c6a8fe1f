{{ config(materialized='table') }}

with

messages as (
    select * from {{ ref('int_messages_estimated') }}
),

node_runs as (
    select * from {{ ref('int_node_runs_detected') }}
),

assigned as (
    -- every message belongs to the node run whose time range holds it; a
    -- range join against a handful of runs (cheaper than an asof join,
    -- which sorts every message; an equality join on the hour was 15%
    -- faster but DuckDB built its hash table on the messages: 19 GB at 100 M)
    select
        messages.*,
        node_runs.node_run_id
    from messages
    inner join node_runs
        on
            messages.logged_at >= node_runs.started_at
            and messages.logged_at < coalesce(
                node_runs.ended_before, 'infinity'::timestamp
            )
),

aggregated as (
    select
        node_run_id,
        peer_id,
        peer_addr,
        peer_host,
        address_family,
        is_loopback,
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
        max(logged_at) as last_logged_at
    from assigned
    group by all
),

final as (
    select
        -- one bitcoind run never reuses a peer id; runs tell restarts apart;
        -- preprocessed logs carry no peer: their messages have no connection
        case
            when peer_id is not null
                then concat_ws('-', node_run_id, peer_id, peer_addr)
        end as connection_id,
        *
    from aggregated
)

select * from final
