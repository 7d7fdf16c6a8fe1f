{#- SQL predicate for the rows an incremental model rebuilds from the
    result of nodes_changed: true on a full build, false when nothing
    changed, else each changed node from its first changed day on. -#}
{% macro rebuilt_rows(changes, time_column, node_column='node_id') -%}
    {%- if changes is none -%}
        true
    {%- elif changes | length == 0 -%}
        false
    {%- else -%}
        (
        {%- for node, from_date in changes %}
            ({{ node_column }} = '{{ node | replace("'", "''") }}'
            and {{ time_column }} >= cast('{{ from_date }}' as timestamp))
            {{- ' or' if not loop.last }}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
