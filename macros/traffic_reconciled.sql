{#- Estimated vs measured traffic per period and flow (see
    fct_traffic_reconciled_hourly/_daily). -#}
{% macro traffic_reconciled(period) -%}
{%- set p = traffic_period(period) -%}
with

estimated as (
    select * from {{ ref('fct_traffic_estimated_' ~ p.name) }}
),

measured as (
    select * from {{ ref('fct_traffic_measured_' ~ p.name) }}
),

estimated_by_flow as (
    select
        node_id,
        {{ p.column }},
        flow,
        sum(msgs) as msgs,
        sum(payload_bytes) as payload_bytes,
        sum(message_bytes) as message_bytes,
        {{ exact_sum('tcpip_bytes') }} as tcpip_bytes
    from estimated
    group by all
),

joined as (
    -- a period is here if either side has data; the missing side is NULL
    -- (not observed), never 0
    select
        coalesce(estimated_by_flow.node_id, measured.node_id) as node_id,
        coalesce(estimated_by_flow.{{ p.column }}, measured.{{ p.column }}) as {{ p.column }},
        coalesce(estimated_by_flow.flow, measured.flow) as flow,
        estimated_by_flow.msgs,
        estimated_by_flow.payload_bytes,
        estimated_by_flow.message_bytes,
        estimated_by_flow.tcpip_bytes,
        measured.measured_bytes,
        measured.measured_packets,
        measured.gap_sample_count,
        measured.reset_count
    from estimated_by_flow
    full outer join measured
        on
            estimated_by_flow.node_id = measured.node_id
            and estimated_by_flow.{{ p.column }} = measured.{{ p.column }}
            and estimated_by_flow.flow = measured.flow
),

final as (
    select
        node_id::string as node_id,
        {{ p.column }}::{{ p.type }} as {{ p.column }},
        flow::string as flow,
        msgs::bigint as estimated_msgs,
        payload_bytes::bigint as estimated_payload_bytes,
        message_bytes::bigint as estimated_message_bytes,
        tcpip_bytes::double as estimated_tcpip_bytes,
        measured_bytes::bigint as measured_bytes,
        measured_packets::bigint as measured_packets,
        (measured_bytes - tcpip_bytes)::double as residual_bytes,
        (measured_bytes / nullif(tcpip_bytes, 0))::double
            as measured_to_estimated_ratio,
        coalesce(gap_sample_count > 0, false)::boolean as has_gap,
        coalesce(reset_count > 0, false)::boolean as has_reset
    from joined
)

select * from final
{%- endmacro %}
