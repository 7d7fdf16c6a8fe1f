{#- The rows of a raw table with the facts of the file each came from, which
    wirehouse keeps once per file in raw.ingest_files rather than in every row:
    _source_file (its absolute path; '<path>#<n>' for the rows of its n-th
    generation, n > 1, content that did not continue what was loaded from the
    path before, such as a file refilled after a copytruncate rotation) and
    _node (the node it was loaded for; NULL for files loaded before nodes). -#}
{% macro raw_rows(source_name, table_name) -%}
    select
        raw_row.*,
        case
            when loaded_file.generation > 1
                then loaded_file.path || '#' || loaded_file.generation
            else loaded_file.path
        end as _source_file,
        loaded_file.node as _node
    from {{ source(source_name, table_name) }} as raw_row
    left join {{ source('wirehouse', 'ingest_files') }} as loaded_file
        on raw_row._file_id = loaded_file.file_id
{%- endmacro %}
