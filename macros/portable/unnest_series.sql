{#- One row per value from start to stop inclusive, every step (integers, or
    timestamps with an interval step), as a select-list item: DuckDB's
    unnest(generate_series(...)), Spark's explode(sequence(...)) -#}
{% macro unnest_series(start, stop, step='1') -%}
    {{ return(adapter.dispatch('unnest_series', 'wirehouse')(start, stop, step)) }}
{%- endmacro %}

{% macro default__unnest_series(start, stop, step) -%}
    unnest(generate_series({{ start }}, {{ stop }}, {{ step }}))
{%- endmacro %}

{% macro spark__unnest_series(start, stop, step) -%}
    explode(sequence({{ start }}, {{ stop }}, {{ step }}))
{%- endmacro %}
