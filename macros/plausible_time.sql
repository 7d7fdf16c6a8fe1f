{#- True when a timestamp can be a real measurement: not before var
    plausible_from, not after var plausible_until (default: one day after the
    build, so a clock set years ahead is caught). -#}
{% macro plausible_time(column) -%}
    {%- set until = var('plausible_until') -%}
    ({{ column }} >= cast('{{ var("plausible_from") }}' as timestamp)
    and {{ column }} <= {% if until -%}
        cast('{{ until }}' as timestamp)
    {%- else -%}
        {#- a timestamp, not the session's timestamp with time zone: compared
            with one, every row is converted (a second per 10 M rows) -#}
        {{ dbt.dateadd(
            'day', 1, 'cast(' ~ dbt.current_timestamp() ~ ' as timestamp)'
        ) }}
    {%- endif %})
{%- endmacro %}
