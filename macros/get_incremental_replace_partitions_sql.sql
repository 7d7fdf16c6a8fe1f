{#- The project's one incremental strategy, replace_partitions (set for
    every model in dbt_project.yml): each partition - combination of the
    model's `partition_by` columns - that occurs in the new rows is replaced
    by them; partitions absent from the new rows are left as they are. So a
    model's incremental branch selects whole partitions. This is Spark's
    dynamic insert_overwrite, which dbt-spark runs from the same config. -#}
{% macro get_incremental_replace_partitions_sql(arg_dict) -%}
    {%- set columns = config.get('partition_by') -%}
    {%- if columns is string -%}
        {%- set columns = [columns] -%}
    {%- endif -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error(
            'incremental strategy replace_partitions: ' ~ this
            ~ ' has no partition_by columns'
        ) }}
    {%- endif -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set listed = get_quoted_csv(
        arg_dict['dest_columns'] | map(attribute='name')
    ) -%}
    delete from {{ target }} as replaced
    using (
        select distinct {{ columns | join(', ') }} from {{ new_rows }}
    ) as rebuilt
    where
    {%- for column in columns %}
        replaced.{{ column }} is not distinct from rebuilt.{{ column }}
        {{- ' and' if not loop.last }}
    {%- endfor %};

    insert into {{ target }} ({{ listed }})
    select {{ listed }} from {{ new_rows }}
{%- endmacro %}
