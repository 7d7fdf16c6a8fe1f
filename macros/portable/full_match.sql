{#- True when a regex matches the whole string (not a substring). Spark has no
    regexp_full_match; its rlike finds a substring, so the pattern is anchored.
    Both read '\d' as a regex escape (Spark with
    spark.sql.parser.escapedStringLiterals=true, set in profiles.yml). -#}
{% macro full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('full_match', 'wirehouse')(expr, pattern)) }}
{%- endmacro %}

{% macro default__full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}
