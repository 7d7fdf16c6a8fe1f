{#- A timestamp after every other: DuckDB's 'infinity'; Spark has none, so
    its largest timestamp -#}
{% macro timestamp_infinity() -%}
    {{ return(adapter.dispatch('timestamp_infinity', 'wirehouse')()) }}
{%- endmacro %}

{% macro default__timestamp_infinity() -%}
    'infinity'::timestamp
{%- endmacro %}

{% macro spark__timestamp_infinity() -%}
    timestamp'9999-12-31 23:59:59.999999'
{%- endmacro %}
