{#- SQL predicate for the connections a connection mart rebuilds: those
    with messages in a rebuilt day (rebuilt_rows on hour_at of
    int_connection_messages_aggregated), recomputed from all their hours. -#}
{% macro rebuilt_connections(changes, connections_from) -%}
    {%- if changes is none -%}
        true
    {%- else -%}
        connection_id in (
            select rebuilt.connection_id
            from {{ connections_from }} as rebuilt
            where {{ rebuilt_rows(changes, 'rebuilt.hour_at', 'rebuilt.node_id') }}
        )
    {%- endif -%}
{%- endmacro %}
