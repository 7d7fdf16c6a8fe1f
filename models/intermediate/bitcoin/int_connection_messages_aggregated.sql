{{ config(materialized='table') }}

with

messages as (
    select * from {{ ref('int_messages_estimated') }}
),

node_runs as (
    select * from {{ ref('int_node_runs_detected') }}
),

data_end as (
    select max(logged_at) as ended_at
    from messages
),

run_hours as (
    -- each node run's UTC hours: messages join their run on the hour (a hash
    -- join; a range join on the run bounds alone took 2x longer), and the
    -- exact bounds only decide inside an hour where bitcoind restarted
    select
        node_runs.node_run_id,
        node_runs.started_at,
        node_runs.ended_before,
        unnest(generate_series(
            date_trunc('hour', node_runs.started_at),
            coalesce(node_runs.ended_before, data_end.ended_at),
            interval 1 hour
        )) as hour_at
    from node_runs
    cross join data_end
),

assigned as (
    select
        messages.*,
        run_hours.node_run_id
    from messages
    inner join run_hours
        on
            date_trunc('hour', messages.logged_at) = run_hours.hour_at
            and messages.logged_at >= run_hours.started_at
            and messages.logged_at < coalesce(
                run_hours.ended_before, 'infinity'::timestamp
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
        -- one bitcoind run never reuses a peer id; runs tell restarts apart
        concat_ws('-', node_run_id, peer_id, peer_addr) as connection_id,
        *
    from aggregated
)

select * from final
