{#- SQL predicate for the rows an incremental model rebuilds, from the
    result of nodes_changed: true on a full build, false when nothing
    changed, else each changed node's rows, from its first changed day on
    when a time column is given. -#}
{% macro rebuilt_rows(changes, time_column=none, node_column='node_id') -%}
    {%- if changes is none -%}
        true
    {%- elif changes | length == 0 -%}
        false
    {%- else -%}
        (
        {%- for node, from_date in changes %}
            ({{ node_column }} = '{{ node | replace("'", "''") }}'
            {%- if time_column is not none %}
            and {{ time_column }} >= cast('{{ from_date }}' as timestamp)
            {%- endif -%}
            )
            {{- ' or' if not loop.last }}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
