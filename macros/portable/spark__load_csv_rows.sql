{#- Seeds on Spark, loaded so that they hold what DuckDB's seeds hold.
    dbt-duckdb COPYs the CSV file itself: an empty field is NULL, any text
    (an apostrophe, the Bluetooth packet type named NULL) is kept. dbt's
    agate rows lose that: they turn 'null' and 'NULL' into None, and
    dbt-spark 1.11's session method pastes each value into the SQL between
    single quotes without escaping it ("the peer's mempool" is a syntax
    error). So when Spark runs on this machine - profiles.yml's in-process
    session (host NA) with a local master (WIREHOUSE_SPARK_MASTER) - Spark's
    own CSV reader reads the file, empty = NULL as in DuckDB, and each
    column is cast to its seed type. Elsewhere (a cluster that cannot see
    the file) the agate rows are inserted as literals, single-quoted, else
    double-quoted when a value has a single quote (with escapedStringLiterals
    a backslash escapes nothing); there a text 'null' reads as NULL. dbt
    picks the root project's spark__ macro over the adapter's. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(
            col_name, adapter.convert_type(agate_table, loop.index0)
        )) -%}
    {%- endfor -%}
    {%- if target.host == 'NA'
        and env_var('WIREHOUSE_SPARK_MASTER', 'local[2]').startswith('local') -%}
        {{ return(_spark_seed_from_file(model, agate_table, types)) }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                (
                {%- for type in types -%}
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

{#- The seed file through Spark's CSV reader (every column text, an empty
    field NULL, RFC 4180 quotes), each column cast to its type -#}
{% macro _spark_seed_from_file(model, agate_table, types) %}
    {%- set path = model.root_path ~ '/' ~ model.original_file_path -%}
    {%- set view = model.name ~ '__seed_csv' -%}
    {%- do adapter.add_query(
        'create or replace temporary view ' ~ view ~ ' using csv options ('
        ~ "path '" ~ path ~ "', header 'true', escape '\"', "
        ~ "delimiter '" ~ config.get('delimiter', ',') ~ "')",
        abridge_sql_log=true
    ) -%}
    {%- set sql -%}
        insert into {{ this.render() }}
        select
        {%- for col_name in agate_table.column_names %}
            cast(`{{ col_name }}` as {{ types[loop.index0] }})
            {{- ',' if not loop.last }}
        {%- endfor %}
        from {{ view }}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=true) -%}
    {{ return(sql) }}
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
