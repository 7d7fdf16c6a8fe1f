{#- Whole-second boundaries between two timestamps (end - start), as DuckDB's
    date_diff('second', ...) counts them; NULL when either is NULL.
    dbt.datediff on Spark raises on a NULL (assert_not_null), and the first
    sample of a series has no previous one. -#}
{% macro datediff_seconds(start, end) -%}
    {{ return(adapter.dispatch('datediff_seconds', 'wirehouse')(start, end)) }}
{%- endmacro %}

{% macro default__datediff_seconds(start, end) -%}
    date_diff('second', {{ start }}, {{ end }})
{%- endmacro %}

{#- unix_seconds floors, so it counts boundaries like DuckDB -#}
{% macro spark__datediff_seconds(start, end) -%}
    (unix_seconds({{ end }}) - unix_seconds({{ start }}))
{%- endmacro %}
