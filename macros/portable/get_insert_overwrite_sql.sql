{#- replace_partitions on Spark (see get_incremental_replace_partitions_sql):
    dbt-spark's insert_overwrite, the dynamic partition overwrite, replaces
    the partitions present in the new rows; the partitions of the range
    nodes_changed names that have no new rows (their input was removed:
    forget, --replace) are dropped first, as the DuckDB strategy deletes
    them. Overrides dbt-spark's macro of the same name (the root project's
    macros come first). Plain Parquet tables only (no Iceberg/Delta here). -#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) -%}
    {%- set columns = config.get('partition_by') -%}
    {%- if columns is string -%}
        {%- set columns = [columns] -%}
    {%- endif -%}
    {%- if columns -%}
        {%- do drop_partitions_without_rows(source_relation, target_relation, columns) -%}
    {%- endif -%}
    {%- set listed = adapter.get_columns_in_relation(target_relation)
        | map(attribute='quoted') | join(', ') %}
    insert overwrite table {{ target_relation }}
    {{ partition_cols(label="partition") }}
    select {{ listed }} from {{ source_relation }}
{%- endmacro %}

{% macro drop_partitions_without_rows(source_relation, target_relation, columns) -%}
    {%- set changes = nodes_changed() -%}
    {%- if not changes -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set range = rebuilt_rows(
        changes,
        'replaced.' ~ columns[1] if columns | length > 1 else none,
        'replaced.' ~ columns[0],
    ) -%}
    {%- set as_strings -%}
        {%- for column in columns -%}
            cast({{ column }} as string) as {{ column }}{{ ', ' if not loop.last }}
        {%- endfor -%}
    {%- endset -%}
    {%- set stale -%}
        select distinct {{ as_strings }} from {{ target_relation }} as replaced
        where {{ range }}
        except
        select distinct {{ as_strings }} from {{ source_relation }}
    {%- endset -%}
    {%- set specs = [] -%}
    {%- for row in run_query(stale).rows -%}
        {%- set values = [] -%}
        {%- for column in columns -%}
            {%- do values.append(
                column ~ " = '" ~ (row[loop.index0] | replace("'", "''")) ~ "'"
            ) -%}
        {%- endfor -%}
        {%- do specs.append('partition (' ~ values | join(', ') ~ ')') -%}
    {%- endfor -%}
    {%- if specs -%}
        {%- do run_query(
            'alter table ' ~ target_relation ~ ' drop if exists ' ~ specs | join(', ')
        ) -%}
    {%- endif -%}
{%- endmacro %}
