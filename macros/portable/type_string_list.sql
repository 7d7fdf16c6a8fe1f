{#- The type of a list of texts: DuckDB VARCHAR[], Spark array<string>. A
    contract names the same type in its YAML (data_type by target.type). -#}
{% macro type_string_list() -%}
    {{ return(adapter.dispatch('type_string_list', 'wirehouse')()) }}
{%- endmacro %}

{% macro default__type_string_list() -%}
    varchar[]
{%- endmacro %}

{% macro spark__type_string_list() -%}
    array<string>
{%- endmacro %}
