{#- Seeds on Spark: dbt-spark 1.11's session method pastes each value into the
    SQL between single quotes without escaping it (session.py _fix_binding), so
    a seed value with an apostrophe ("the peer's mempool") is a syntax error.
    The same insert, values as literals: single-quoted, else double-quoted when
    the value has a single quote (with escapedStringLiterals a backslash
    escapes nothing). dbt picks the root project's spark__ macro over the
    adapter's. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                (
                {%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(
                        col_name, adapter.convert_type(agate_table, loop.index0)
                    ) -%}
                    cast({{ _spark_seed_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%}
                ){%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=true) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}

{% macro _spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        {%- set text = value | string -%}
        {%- if "'" not in text -%}
            '{{ text }}'
        {%- elif '"' not in text -%}
            "{{ text }}"
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                'seed ' ~ model.name ~ ': a value with both quote kinds: ' ~ text
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
