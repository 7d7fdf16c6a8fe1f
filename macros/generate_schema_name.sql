{#- Schemas are the layer names (staging, intermediate, marts, reference), not
    <target>_<layer>: BI users browse one warehouse file with stable schema names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
