{#- The type of a nanosecond timestamp column: DuckDB's TIMESTAMP_NS; Spark
    has microseconds only (timestamp_from_ns rounds to them). A contract
    names the same type in its YAML (data_type chosen by target.type). -#}
{% macro type_timestamp_ns() -%}
    {{ return(adapter.dispatch('type_timestamp_ns', 'wirehouse')()) }}
{%- endmacro %}

{% macro default__type_timestamp_ns() -%}
    timestamp_ns
{%- endmacro %}

{% macro spark__type_timestamp_ns() -%}
    timestamp
{%- endmacro %}
