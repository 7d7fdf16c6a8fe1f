{#- Estimated traffic per period, flow and message type (see
    fct_traffic_estimated_hourly/_daily). Both marts are this macro, so the
    hourly and daily rules cannot drift apart; a day sums the hourly mart's
    hours (the same numbers as summing the messages, a fraction of the
    scan). Incremental (partition_by node_id and the period): the nodes and
    days with new messages. -#}
{% macro traffic_estimated(period) -%}
{%- set p = traffic_period(period) -%}
{%- set changes = nodes_changed('messages') -%}
{%- if period == 'hour' -%}
    {%- set hours = ref('int_connection_messages_aggregated') -%}
{%- else -%}
    {%- set hours = ref('fct_traffic_estimated_hourly') -%}
{%- endif -%}
with

hours as (
    select * from {{ hours }}
    where {{ rebuilt_rows(changes, 'hour_at') }}
),

rolled_up as (
    select
        node_id,
        {{ p.bucket.format('hour_at') }} as {{ p.column }},
        flow,
        msg_type,
        sum(msgs) as msgs,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        sum(segments) as segments,
        {{ exact_sum('tcpip_bytes') }} as tcpip_bytes,
        max(loaded_at) as loaded_at
    from hours
    group by all
),

final as (
    select
        node_id::string as node_id,
        {{ p.column }}::{{ p.type }} as {{ p.column }},
        flow::string as flow,
        msg_type::string as msg_type,
        msgs::bigint as msgs,
        payload_bytes::bigint as payload_bytes,
        message_bytes::bigint as message_bytes,
        segments::bigint as segments,
        tcpip_bytes::double as tcpip_bytes,
        loaded_at::timestamp as loaded_at
    from rolled_up
)

select * from final
{%- endmacro %}
