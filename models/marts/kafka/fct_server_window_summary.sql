{%- set start = var('network_window_start', none) -%}
{%- set end = var('network_window_end', none) -%}

with

connections as (
    select * from {{ ref('fct_connections') }}
),

health as (
    select * from {{ ref('fct_tcp_health') }}
),

jitter as (
    select * from {{ ref('fct_connection_jitter') }}
),

gaps as (
    select * from {{ ref('int_packet_gaps_measured') }}
),

kafka as (
    select * from {{ ref('fct_kafka_requests') }}
),

packets as (
    select * from {{ ref('int_packets_windowed') }}
),

server_packets as (
    select
        resp_addr,
        resp_port,
        count(*) as connections,
        count(*) filter (where proto = 'tcp') as tcp_connections,
        sum(orig_packets + resp_packets) as packets,
        min(started_at) as first_packet_at,
        max(ended_at) as last_packet_at
    from connections
    group by all
),

-- the window the vars name (in UTC), else the server's first to last packet
servers as (
    select
        *,
        {% if start is not none -%}
            {{ timestamp_from_iso(start) }}
        {%- else -%}
            first_packet_at
        {%- endif %}::timestamp as window_start_at,
        {% if end is not none -%}
            {{ timestamp_from_iso(end) }}
        {%- else -%}
            last_packet_at
        {%- endif %}::timestamp as window_end_at
    from server_packets
),

server_health as (
    select
        resp_addr,
        resp_port,
        sum(rst_packets) as rst_packets,
        sum(orig_rst_packets) as orig_rst_packets,
        sum(resp_rst_packets) as resp_rst_packets,
        sum(retransmission_packets) as retransmission_packets,
        sum(zero_window_packets) as zero_window_packets,
        sum(duplicate_ack_packets) as duplicate_ack_packets,
        sum(out_of_order_packets) as out_of_order_packets
    from health
    group by all
),

-- mean |IAT change| pooled over every direction of the server's connections
server_jitter as (
    select
        connections.resp_addr,
        connections.resp_port,
        avg(gaps.iat_change_ns) / 1e6 as jitter_ms
    from gaps
    inner join connections
        on gaps.connection_id = connections.connection_id
    group by all
),

-- the notebook's jitter: every TCP packet the server sends from its port,
-- across connections, in time order; gaps of 1 s or more dropped, then the
-- mean |change| between successive kept gaps
server_sent_gaps as (
    select
        src_addr,
        src_port,
        ts_ns,
        source_file,
        frame_number,
        ts_ns - lag(ts_ns) over sent as iat_ns
    from packets
    where ip_proto = 6
    window sent as (
        partition by src_addr, src_port
        order by ts_ns, source_file, frame_number
    )
),

server_sent_gaps_kept as (
    select
        src_addr,
        src_port,
        abs(
            iat_ns - lag(iat_ns) over (
                partition by src_addr, src_port
                order by ts_ns, source_file, frame_number
            )
        ) as iat_change_ns
    from server_sent_gaps
    where iat_ns < 1000000000
),

server_notebook_jitter as (
    select
        src_addr,
        src_port,
        avg(iat_change_ns) / 1e6 as jitter_ms_notebook
    from server_sent_gaps_kept
    group by all
),

server_rfc_jitter as (
    select
        resp_addr,
        resp_port,
        {{ exact_avg('rfc3550_jitter_ms') }} as rfc3550_jitter_ms
    from jitter
    group by all
),

-- latencies of answered requests (errors left out), and of those that are
-- not long-poll Fetches
kafka_measured as (
    select
        *,
        case
            when response_status = 'answered' then latency_to_first_byte_ms
        end as answered_latency_ms,
        case
            when response_status = 'answered' and not is_long_poll
                then latency_to_first_byte_ms
        end as served_latency_ms
    from kafka
),

server_kafka as (
    select
        broker_addr,
        broker_port,
        count(*) as kafka_requests,
        count(*) filter (where is_answered) as kafka_answered_requests,
        count(*) filter (
            where response_status = 'error'
        ) as kafka_error_requests,
        count(*) filter (where is_long_poll) as kafka_long_poll_requests,
        {{ exact_avg('answered_latency_ms') }} as kafka_latency_avg_ms,
        {{ quantile_cont('answered_latency_ms', 0.95) }}
            as kafka_latency_p95_ms,
        {{ exact_avg('served_latency_ms') }}
            as kafka_latency_avg_excl_long_poll_ms,
        {{ quantile_cont('served_latency_ms', 0.95) }}
            as kafka_latency_p95_excl_long_poll_ms
    from kafka_measured
    group by all
),

final as (
    select
        servers.resp_addr::string as server_addr,
        servers.resp_port::integer as server_port,
        servers.window_start_at::timestamp as window_start_at,
        servers.window_end_at::timestamp as window_end_at,
        {{ network_window_local('servers.window_start_at') }}::string
            as window_start_local,
        {{ network_window_local('servers.window_end_at') }}::string
            as window_end_local,
        servers.connections::bigint as connections,
        servers.tcp_connections::bigint as tcp_connections,
        servers.packets::bigint as packets,
        coalesce(server_health.rst_packets, 0)::bigint as rst_packets,
        coalesce(server_health.orig_rst_packets, 0)::bigint
            as client_rst_packets,
        coalesce(server_health.resp_rst_packets, 0)::bigint
            as server_rst_packets,
        coalesce(server_health.retransmission_packets, 0)::bigint
            as retransmission_packets,
        coalesce(server_health.zero_window_packets, 0)::bigint
            as zero_window_packets,
        coalesce(server_health.duplicate_ack_packets, 0)::bigint
            as duplicate_ack_packets,
        coalesce(server_health.out_of_order_packets, 0)::bigint
            as out_of_order_packets,
        server_jitter.jitter_ms::double as jitter_ms,
        server_notebook_jitter.jitter_ms_notebook::double
            as jitter_ms_notebook,
        server_rfc_jitter.rfc3550_jitter_ms::double as rfc3550_jitter_ms,
        coalesce(server_kafka.kafka_requests, 0)::bigint as kafka_requests,
        coalesce(server_kafka.kafka_answered_requests, 0)::bigint
            as kafka_answered_requests,
        coalesce(server_kafka.kafka_error_requests, 0)::bigint
            as kafka_error_requests,
        coalesce(server_kafka.kafka_long_poll_requests, 0)::bigint
            as kafka_long_poll_requests,
        server_kafka.kafka_latency_avg_ms::double as kafka_latency_avg_ms,
        server_kafka.kafka_latency_p95_ms::double as kafka_latency_p95_ms,
        server_kafka.kafka_latency_avg_excl_long_poll_ms::double
            as kafka_latency_avg_excl_long_poll_ms,
        server_kafka.kafka_latency_p95_excl_long_poll_ms::double
            as kafka_latency_p95_excl_long_poll_ms
    from servers
    left join server_health
        on
            servers.resp_addr = server_health.resp_addr
            and servers.resp_port = server_health.resp_port
    left join server_jitter
        on
            servers.resp_addr = server_jitter.resp_addr
            and servers.resp_port = server_jitter.resp_port
    left join server_notebook_jitter
        on
            servers.resp_addr = server_notebook_jitter.src_addr
            and servers.resp_port = server_notebook_jitter.src_port
    left join server_rfc_jitter
        on
            servers.resp_addr = server_rfc_jitter.resp_addr
            and servers.resp_port = server_rfc_jitter.resp_port
    left join server_kafka
        on
            servers.resp_addr = server_kafka.broker_addr
            and servers.resp_port = server_kafka.broker_port
)

select * from final
